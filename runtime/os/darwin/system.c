/*
 * system.c — darwin: the runtime lock (os_unfair_lock), notes (a pthread
 * mutex and condition variable, as Go's lock_sema does on darwin), CPU
 * count, thread ids, the mapping budget.
 *
 * Compiled and linked in CI with zig's macOS SDK headers but never run
 * here: keep it small and check every call against Apple's headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc/malloc.h>
#include <os/lock.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"

GORT_RUNTIME_TEXT void gort_os_lock_acquire(gort_os_lock *l) { os_unfair_lock_lock(&l->l); }
GORT_RUNTIME_TEXT void gort_os_lock_release(gort_os_lock *l) { os_unfair_lock_unlock(&l->l); }

GORT_RUNTIME_TEXT void gort_note_init(gort_note *n) {
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
}

GORT_RUNTIME_TEXT void gort_note_destroy(gort_note *n) {
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
}

GORT_RUNTIME_TEXT void gort_note_clear(gort_note *n) { atomic_store_explicit(&n->key, 0, memory_order_relaxed); }

GORT_RUNTIME_TEXT void gort_note_wakeup(gort_note *n) {
    pthread_mutex_lock(&n->mu);
    atomic_store_explicit(&n->key, 1, memory_order_release);
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

GORT_RUNTIME_TEXT void gort_note_sleep(gort_note *n) {
    pthread_mutex_lock(&n->mu);
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) pthread_cond_wait(&n->cv, &n->mu);
    pthread_mutex_unlock(&n->mu);
}

GORT_RUNTIME_TEXT bool gort_note_sleep_for(gort_note *n, int64_t ns) {
    /* pthread_cond_timedwait takes a wall-clock deadline on darwin. */
    struct timeval now;
    struct timespec deadline;
    bool set;

    gettimeofday(&now, NULL);
    int64_t wall = (int64_t)now.tv_sec * 1000000000 + (int64_t)now.tv_usec * 1000;
    int64_t when = ns > INT64_MAX - wall ? INT64_MAX : wall + ns; /* saturate */
    deadline.tv_sec = (time_t)(when / 1000000000);
    deadline.tv_nsec = (long)(when % 1000000000);
    pthread_mutex_lock(&n->mu);
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        if (pthread_cond_timedwait(&n->cv, &n->mu, &deadline) == ETIMEDOUT) break;
    set = atomic_load_explicit(&n->key, memory_order_acquire) != 0;
    pthread_mutex_unlock(&n->mu);
    return set;
}

GORT_RUNTIME_TEXT int gort_os_ncpu(void) {
    int n = 0;
    size_t len = sizeof n;
    if (sysctlbyname("hw.activecpu", &n, &len, NULL, 0) != 0 || n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

GORT_RUNTIME_TEXT uint64_t gort_os_thread_id(void) {
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return id;
}

GORT_RUNTIME_TEXT gort_os_thread gort_os_thread_self(void) { return (gort_os_thread)pthread_self(); }

/* pthread_get_stackaddr_np returns the top (highest address). */
GORT_RUNTIME_TEXT void gort_os_thread_stack(void **lo, size_t *size) {
    pthread_t t = pthread_self();
    *size = pthread_get_stacksize_np(t);
    *lo = (char *)pthread_get_stackaddr_np(t) - *size;
}

/* darwin has no per-process mapping cap comparable to vm.max_map_count. */
GORT_RUNTIME_TEXT long gort_os_max_map_count(void) { return 1L << 30; }


/* ---- descriptors (os/unix/fd.c has the rest) ------------------------------ */

/* Sockets get SO_NOSIGPIPE (<sys/socket.h>): their writes answer EPIPE;
 * on anything else the option fails, harmlessly. */
GORT_RUNTIME_TEXT int gort_os_fd_prepare(int fd) {
    int err = gort_os_set_nonblock(fd), one = 1;
    if (err == 0) setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    return err;
}

/* No MSG_NOSIGNAL: sockets have SO_NOSIGPIPE, and pipes need SIGPIPE
 * blocked around the write. */
GORT_RUNTIME_TEXT ssize_t gort_os_write(int fd, const void *buf, size_t n) {
    return gort_os_write_nosigpipe(fd, buf, n);
}

/* No accept4: accept, then close-on-exec (gort_os_fd_prepare makes it
 * non-blocking when netpoll registers it). */
GORT_RUNTIME_TEXT int gort_os_accept(int fd, struct sockaddr *sa, socklen_t *len) {
    int c = accept(fd, sa, len);
    if (c < 0) return -errno;
    fcntl(c, F_SETFD, FD_CLOEXEC);
    return c;
}

/* No sigtimedwait: take the SIGPIPE only if it is pending. */
GORT_RUNTIME_TEXT void gort_os_sigpipe_drop(void) {
    sigset_t pipe, pending;
    int sig;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) sigwait(&pipe, &sig);
}

/* MADV_FREE_REUSABLE (xnu) drops the pages from the footprint at once;
 * MADV_FREE only marks them reclaimable. */
GORT_RUNTIME_TEXT int gort_os_release(void *p, size_t n) {
#if defined(MADV_FREE_REUSABLE)
    if (madvise(p, n, MADV_FREE_REUSABLE) == 0) return 0;
#endif
    return madvise(p, n, MADV_FREE) == 0 ? 0 : -errno;
}

GORT_RUNTIME_TEXT void gort_os_heap_trim(void) { (void)malloc_zone_pressure_relief(NULL, 0); }
