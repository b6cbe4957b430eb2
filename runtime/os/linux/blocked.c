/*
 * blocked.c — linux: is a thread blocked in the kernel, and the preemption
 * signals, sent at once or only once a thread runs (os.h "Foreign calls").
 *
 * A thread's state is the State line of /proc/self/task/TID/status: 'S'
 * (asleep in a system call, interruptible) or 'D' (waiting on I/O or a
 * page) is blocked; 'R' runs or may run.  The same file counts the times
 * it has blocked (voluntary_ctxt_switches).  Each thread opens its files
 * once (the probe); a look is one pread, about 10 us (runtime/HACKING.md
 * "Foreign calls"), so sysmon reads it only for Ps whose goroutine has
 * run a while.
 * Under qemu-user the file is the host thread's, which blocks exactly when
 * the guest's call does.
 *
 * The signal that waits for the thread to run is a timer on the thread's
 * own CPU clock, armed to expire after 1 ns of its CPU time: a thread
 * blocked in the kernel uses none, so the timer cannot interrupt its call;
 * the kernel fires CPU timers from task work on the way back to user mode
 * (POSIX_CPU_TIMERS_TASK_WORK, linux 5.11 on x86 and arm64), where the
 * call has completed with its own result.  Its siginfo carries the
 * address of `cookie`, by which the handler knows the signal is ours.
 */
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static const char cookie = 0; /* its address marks our timer's signals */

GORT_RUNTIME_TEXT int gort_os_signal_preempt(gort_os_thread t) {
    return syscall(SYS_tgkill, getpid(), (pid_t)t, SIGURG) == 0 ? 0 : -errno;
}

GORT_RUNTIME_TEXT int gort_os_signal_sender(const void *info) {
    const siginfo_t *si = info;
    if (si->si_code == SI_TIMER) return si->si_value.sival_ptr == &cookie ? GORT_SIG_OURS : GORT_SIG_OTHER;
    return si->si_code == SI_TKILL && si->si_pid == getpid() ? GORT_SIG_SELF : GORT_SIG_OTHER;
}

/* Everything below may run in a signal handler (a fatal report's dump):
 * no stdio, no locale, no malloc; paths and numbers by hand. */

GORT_RUNTIME_TEXT static char *put_str(char *p, const char *s) {
    while (*s) *p++ = *s++;
    return p;
}

GORT_RUNTIME_TEXT static char *put_dec(char *p, unsigned long v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
}

/* The number at *s in base 10 or 16, advancing *s past it and one blank. */
GORT_RUNTIME_TEXT static bool get_num(const char **s, int base, unsigned long *out) {
    const char *p = *s;
    unsigned long v = 0;
    bool any = false;
    if (base == 16 && p[0] == '0' && p[1] == 'x') p += 2;
    for (;; p++, any = true) {
        int d = *p >= '0' && *p <= '9' ? *p - '0'
                : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                                                        : -1;
        if (d < 0) break;
        v = v * (unsigned long)base + (unsigned long)d;
    }
    if (!any) return false;
    if (*p == ' ' || *p == '\t') p++;
    *s = p;
    *out = v;
    return true;
}

/* The probe's files: /proc/self/task/TID/{status,syscall}, opened by the
 * thread and moved to descriptors at or above PROBE_FD_MIN (half the soft
 * limit, at most 4096), so they never hold the low numbers a program
 * expects its next open or socket to get.  Each look reads one whole with
 * pread at offset 0 (a /proc file is made again at every read from 0). */
GORT_RUNTIME_TEXT static int probe_fd(const char *name) {
    char path[64], *p = put_str(path, "/proc/self/task/");
    p = put_dec(p, (unsigned long)syscall(SYS_gettid));
    *p++ = '/';
    *put_str(p, name) = '\0';
    struct rlimit rl;
    long base = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur / 2 : 4096;
    if (base > 4096) base = 4096;
    if (base < 64) return -EMFILE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int high = sys_fcntl(fd, F_DUPFD_CLOEXEC, (int)base);
    int err = high < 0 ? -errno : 0;
    sys_close(fd);
    return high >= 0 ? high : err;
}

GORT_RUNTIME_TEXT int gort_os_probe_open(gort_os_probe *pr) {
    int st = probe_fd("status"), sc = st >= 0 ? probe_fd("syscall") : -1;
    pr->thread = (gort_os_thread)syscall(SYS_gettid);
    atomic_store(&pr->status_fd, st);
    atomic_store(&pr->syscall_fd, sc);
    return st < 0 ? st : 0;
}

GORT_RUNTIME_TEXT void gort_os_probe_close(gort_os_probe *pr) {
    int st = atomic_exchange(&pr->status_fd, -1), sc = atomic_exchange(&pr->syscall_fd, -1);
    if (st >= 0) sys_close(st);
    if (sc >= 0) sys_close(sc);
}

/* The whole file at fd into buf (NUL-terminated, truncated at n - 1
 * bytes); its length or -errno. */
GORT_RUNTIME_TEXT static int read_probe(int fd, char *buf, size_t n) {
    if (fd < 0) return -EBADF;
    size_t got = 0;
    while (got < n - 1) {
        ssize_t r = pread(fd, buf + got, n - 1 - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return (int)got;
}

GORT_RUNTIME_TEXT static const char *find(const char *hay, const char *needle) {
    for (; *hay; hay++) {
        const char *h = hay, *n = needle;
        while (*n && *h == *n) h++, n++;
        if (*n == '\0') return hay;
    }
    return NULL;
}

/* /proc/self/task/TID/status: "State:\tS (sleeping)" and, further on,
 * "voluntary_ctxt_switches:\tN". */
GORT_RUNTIME_TEXT int gort_os_thread_state_get(const gort_os_probe *pr, gort_os_thread_state *out) {
    static const char state[] = "\nState:\t", vol[] = "\nvoluntary_ctxt_switches:\t";
    char buf[4096];
    int n = read_probe(atomic_load(&pr->status_fd), buf, sizeof buf);
    if (n < 0) return n;
    const char *st = find(buf, state), *v = find(buf, vol);
    unsigned long waits;
    if (st == NULL || v == NULL) return -EIO;
    v += sizeof vol - 1;
    if (!get_num(&v, 10, &waits)) return -EIO;
    char c = st[sizeof state - 1];
    out->blocked = c == 'S' || c == 'D';
    out->waits = waits;
    out->waits_known = true;
    return 0;
}

/* "NR ARG1 .. ARG6 SP PC" while in a system call (numbers in hex after
 * NR), "running" otherwise. */
GORT_RUNTIME_TEXT int gort_os_thread_syscall_at(const gort_os_probe *pr, uintptr_t *sp, uintptr_t *pc) {
    char buf[256];
    int n = read_probe(atomic_load(&pr->syscall_fd), buf, sizeof buf);
    if (n < 0) return n;
    const char *p = buf;
    unsigned long v[9];
    if (*p == '-') p++; /* -1: blocked, not in a system call */
    for (int i = 0; i < 9; i++)
        if (!get_num(&p, i == 0 ? 10 : 16, &v[i])) return -EAGAIN; /* "running" */
    *sp = (uintptr_t)v[7];
    *pc = (uintptr_t)v[8];
    return 0;
}

GORT_RUNTIME_TEXT long gort_os_read_memory(void *dst, uintptr_t src, size_t n) {
    struct iovec local = {dst, n}, remote = {(void *)src, n};
    ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return r >= 0 ? (long)r : -errno;
}

GORT_RUNTIME_TEXT int gort_os_runsignal_init(gort_os_runsignal *rs) {
    clockid_t clock;
    int err = pthread_getcpuclockid(pthread_self(), &clock);
    if (err != 0) return -err;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGURG;
    ev.sigev_value.sival_ptr = (void *)&cookie;
    ev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(clock, &ev, &timer) != 0) return -errno;
    atomic_store(&rs->timer, (uintptr_t)timer);
    atomic_store_explicit(&rs->valid, true, memory_order_release);
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_runsignal_free(gort_os_runsignal *rs) {
    if (!atomic_exchange(&rs->valid, false)) return;
    timer_delete((timer_t)atomic_load(&rs->timer));
}

/* A stale timer id (the M has just ended) arms nothing, or another M's
 * timer: a signal that M's handler treats as a request it may ignore. */
GORT_RUNTIME_TEXT int gort_os_signal_preempt_running(gort_os_thread t, const gort_os_runsignal *rs) {
    if (!atomic_load_explicit(&rs->valid, memory_order_acquire)) return gort_os_signal_preempt(t);
    struct itimerspec in = {{0, 0}, {0, 1}}; /* once, after 1 ns of its CPU time */
    return timer_settime((timer_t)atomic_load(&rs->timer), 0, &in, NULL) == 0 ? 0 : -errno;
}
#endif
