/*
 * blocked.c — linux: is a thread blocked in the kernel, and the preemption
 * signals, sent at once or only once a thread runs (os.h "Foreign calls").
 *
 * A thread's state is the State line of /proc/self/task/TID/status: 'S'
 * (asleep in a system call, interruptible) or 'D' (waiting on I/O or a
 * page) is blocked; 'R' runs or may run.  The same file counts the times
 * it has blocked (voluntary_ctxt_switches).  One open, read and close:
 * about 11 us (stat alone is 7 us; runtime/HACKING.md "Foreign calls"),
 * so sysmon reads it only for Ps whose goroutine has run past its slice.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static const char cookie = 0; /* its address marks our timer's signals */

GORT_RUNTIME_TEXT int gort_os_signal_preempt(gort_os_thread t) {
    return syscall(SYS_tgkill, getpid(), (pid_t)t, SIGURG) == 0 ? 0 : -errno;
}

GORT_RUNTIME_TEXT bool gort_os_signal_from_self(const void *info) {
    const siginfo_t *si = info;
    if (si->si_code == SI_TIMER) return si->si_value.sival_ptr == &cookie;
    return si->si_code == SI_TKILL && si->si_pid == getpid();
}

/* "/proc/self/task/" TID "/" name, read into buf (NUL-terminated); its
 * length or -errno. */
GORT_RUNTIME_TEXT static int read_task_file(gort_os_thread t, const char *name, char *buf, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%lu/%s", (unsigned long)t, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t r;
    while ((r = read(fd, buf, n - 1)) < 0 && errno == EINTR) {
    }
    int err = r < 0 ? -errno : 0;
    close(fd);
    if (err != 0) return err;
    buf[r] = '\0';
    return (int)r;
}

/* /proc/self/task/TID/status: "State:\tS (sleeping)" and, further on,
 * "voluntary_ctxt_switches:\tN". */
GORT_RUNTIME_TEXT int gort_os_thread_state_get(gort_os_thread t, gort_os_thread_state *out) {
    char buf[2048];
    int n = read_task_file(t, "status", buf, sizeof buf);
    if (n < 0) return n;
    const char *st = strstr(buf, "\nState:\t"), *vol = strstr(buf, "\nvoluntary_ctxt_switches:\t");
    if (st == NULL || vol == NULL) return -EIO;
    char c = st[sizeof "\nState:\t" - 1];
    out->blocked = c == 'S' || c == 'D';
    out->waits = strtoull(vol + sizeof "\nvoluntary_ctxt_switches:\t" - 1, NULL, 10);
    out->waits_known = true;
    return 0;
}

/* "NR ARG1 .. ARG6 SP PC" while in a system call, "running" otherwise. */
GORT_RUNTIME_TEXT int gort_os_thread_syscall_at(gort_os_thread t, uintptr_t *sp, uintptr_t *pc) {
    char buf[256];
    int n = read_task_file(t, "syscall", buf, sizeof buf);
    if (n < 0) return n;
    long nr;
    unsigned long a[6], s, p;
    if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &s,
               &p) != 9)
        return -EAGAIN; /* running again */
    *sp = (uintptr_t)s;
    *pc = (uintptr_t)p;
    return 0;
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
    rs->timer = (uintptr_t)timer;
    rs->valid = true;
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_runsignal_free(gort_os_runsignal *rs) {
    if (!rs->valid) return;
    timer_delete((timer_t)rs->timer);
    rs->valid = false;
}

GORT_RUNTIME_TEXT int gort_os_signal_preempt_running(gort_os_thread t, const gort_os_runsignal *rs) {
    if (!rs->valid) return gort_os_signal_preempt(t);
    struct itimerspec in = {{0, 0}, {0, 1}}; /* once, after 1 ns of its CPU time */
    return timer_settime((timer_t)rs->timer, 0, &in, NULL) == 0 ? 0 : -errno;
}
#endif
