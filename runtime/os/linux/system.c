/*
 * system.c — linux facts: CPU count (affinity and cgroup quota), thread
 * ids, the mapping budget.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

/* ceil(quota / period) from a cgroup v2 "cpu.max" ("max 100000" or
 * "150000 100000"), or 0 when there is no quota. */
GORT_RUNTIME_TEXT static int cgroup2_limit(const char *path) {
    char buf[64];
    long quota, period;
    int n = 0;
    FILE *f = fopen(path, "re");
    if (f == NULL) return 0;
    if (fgets(buf, sizeof buf, f) != NULL && sscanf(buf, "%ld %ld", &quota, &period) == 2 && quota > 0 &&
        period > 0)
        n = (int)((quota + period - 1) / period);
    fclose(f);
    return n;
}

GORT_RUNTIME_TEXT static long read_long(const char *path) {
    long v = -1;
    FILE *f = fopen(path, "re");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* The CPU quota of this process's cgroup, v2 then v1; 0 when unlimited. */
GORT_RUNTIME_TEXT static int cgroup_cpu_limit(void) {
    char line[512], path[600];
    int n = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");

    if (f != NULL) {
        while (n == 0 && fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "0::", 3) != 0) continue; /* the v2 line */
            line[strcspn(line, "\n")] = 0;
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", line + 3);
            n = cgroup2_limit(path);
        }
        fclose(f);
    }
    if (n == 0) n = cgroup2_limit("/sys/fs/cgroup/cpu.max");
    if (n == 0) {
        long quota = read_long("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
        long period = read_long("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        if (quota > 0 && period > 0) n = (int)((quota + period - 1) / period);
    }
    return n;
}

GORT_RUNTIME_TEXT int gort_os_ncpu(void) {
    cpu_set_t set;
    int n = 0, limit;

    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    limit = cgroup_cpu_limit();
    if (limit > 0 && limit < n) n = limit;
    return n > 0 ? n : 1;
}

GORT_RUNTIME_TEXT uint64_t gort_os_thread_id(void) { return (uint64_t)syscall(SYS_gettid); }

GORT_RUNTIME_TEXT gort_os_thread gort_os_thread_self(void) { return (gort_os_thread)syscall(SYS_gettid); }

GORT_RUNTIME_TEXT void gort_os_thread_stack(void **lo, size_t *size) {
    pthread_attr_t a;
    *lo = NULL;
    *size = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return;
    pthread_attr_getstack(&a, lo, size);
    pthread_attr_destroy(&a);
}

GORT_RUNTIME_TEXT long gort_os_max_map_count(void) {
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long v = 65530; /* the kernel default */
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1) v = 65530;
        fclose(f);
    }
    return v;
}

/* ---- descriptors (os/unix/fd.c has the rest) ------------------------------ */

GORT_RUNTIME_TEXT int gort_os_fd_prepare(int fd) { return gort_os_set_nonblock(fd); }

GORT_RUNTIME_TEXT ssize_t gort_os_write(int fd, const void *buf, size_t n) {
    ssize_t r = sys_send(fd, buf, n, MSG_NOSIGNAL); /* a socket: EPIPE, not SIGPIPE */
    if (r >= 0) return r;
    if (errno != ENOTSOCK) return -errno;
    return gort_os_write_nosigpipe(fd, buf, n); /* a pipe: EPIPE too */
}

GORT_RUNTIME_TEXT int gort_os_accept(int fd, struct sockaddr *sa, socklen_t *len) {
    int c = sys_accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return c >= 0 ? c : -errno;
}

GORT_RUNTIME_TEXT void gort_os_sigpipe_drop(void) {
    static const struct timespec zero = {0, 0};
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {
    }
}

GORT_RUNTIME_TEXT int gort_os_release(void *p, size_t n) { return madvise(p, n, MADV_DONTNEED) == 0 ? 0 : -errno; }

GORT_RUNTIME_TEXT void gort_os_heap_trim(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
