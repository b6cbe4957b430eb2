/*
 * thread.c — threads, clocks and raw output, POSIX (linux and darwin).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

#if defined(__SANITIZE_THREAD__)
#define GORT_G0_STACK_KIB 1024
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_G0_STACK_KIB 1024
#endif
#endif
#ifndef GORT_G0_STACK_KIB
#define GORT_G0_STACK_KIB 256
#endif

GORT_RUNTIME_TEXT int gort_os_thread_start(void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_t t;
    int err;

    int saved = errno; /* a park's action may get here: keep the goroutine's (os.h) */
    if ((err = pthread_attr_init(&attr)) != 0) return -err;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* g0 runs the scheduler and signal-free runtime code only: 256 KiB is
     * plenty, and keeps many Ms cheap.  Under ThreadSanitizer every call
     * costs more stack (its interceptors, its runtime): libdw naming a
     * dump's pcs on g0 overflowed 256 KiB there. */
    pthread_attr_setstacksize(&attr, (size_t)GORT_G0_STACK_KIB << 10);
    /* The new thread inherits the signal mask in force here; an M sets
     * its own first thing (gort_os_thread_signals_default).  (Blocking
     * every signal around the create, to close that window too, made
     * qemu-user's arm64 threads behave differently enough to preempt a
     * goroutine under asyncpreemptoff=1: preempt_death_test, 4 of 6.) */
    err = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    errno = saved;
    return -err;
}

GORT_RUNTIME_TEXT int64_t gort_os_nanotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

GORT_RUNTIME_TEXT void gort_os_nanosleep(int64_t ns) {
    int64_t now = gort_os_nanotime();
    int64_t end = ns > INT64_MAX - now ? INT64_MAX : now + ns; /* saturate */
    while (ns > 0) {
        struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
        sys_nanosleep(&ts, NULL); /* EINTR: sleep again for what is left */
        ns = end - gort_os_nanotime();
    }
}

GORT_RUNTIME_TEXT void gort_os_thread_yield(void) { sched_yield(); }

GORT_RUNTIME_TEXT void gort_os_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = sys_write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static pthread_key_t note_key;
static pthread_once_t note_once = PTHREAD_ONCE_INIT;
static _Atomic(int) live_notes;

GORT_RUNTIME_TEXT static void note_free(void *p) {
    gort_note_destroy(p);
    free(p);
    atomic_fetch_sub(&live_notes, 1);
}

GORT_RUNTIME_TEXT int gort_os_thread_notes(void) { return atomic_load(&live_notes); }

GORT_RUNTIME_TEXT static void note_key_init(void) { pthread_key_create(&note_key, note_free); }

GORT_RUNTIME_TEXT gort_note *gort_os_thread_note(void) {
    static _Thread_local gort_note *mine;
    if (mine == NULL) {
        pthread_once(&note_once, note_key_init);
        mine = malloc(sizeof *mine);
        if (mine == NULL) return NULL;
        gort_note_init(mine);
        atomic_fetch_add(&live_notes, 1);
        pthread_setspecific(note_key, mine); /* destroyed at thread exit */
    }
    return mine;
}

GORT_RUNTIME_TEXT int gort_os_atfork(void (*child)(void)) { return -pthread_atfork(NULL, NULL, child); }
