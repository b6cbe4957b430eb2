/*
 * blocked.c — darwin: is a thread blocked in the kernel, and the
 * preemption signals (os.h "Foreign calls").
 *
 * A thread's state is thread_info(THREAD_BASIC_INFO)'s run_state
 * (<mach/thread_info.h>): TH_STATE_WAITING or TH_STATE_UNINTERRUPTIBLE is
 * blocked; how often a thread has blocked is not known.  darwin has no
 * timer on a thread's CPU clock, so a signal "once it runs" is sent at once: a thread that enters a system call between
 * sysmon's look and the signal may see EINTR (compiled in CI, never run
 * here).  Nor does it say where a blocked thread's system call is.
 */
#if defined(__APPLE__)
#include <errno.h>
#include <mach/mach.h>
#include <pthread.h>
#include <signal.h>

#include "runtime/os/os.h"

GORT_RUNTIME_TEXT int gort_os_signal_preempt(gort_os_thread t) { return -pthread_kill((pthread_t)t, SIGURG); }

/* darwin's siginfo does not say which thread sent a signal. */
GORT_RUNTIME_TEXT int gort_os_signal_sender(const void *info) {
    (void)info;
    return GORT_SIG_SELF;
}

GORT_RUNTIME_TEXT int gort_os_probe_open(gort_os_probe *pr) {
    pr->thread = (gort_os_thread)pthread_self();
    atomic_store(&pr->status_fd, 0); /* "open": the thread's port is looked up at each query */
    atomic_store(&pr->syscall_fd, -1);
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_probe_close(gort_os_probe *pr) { atomic_store(&pr->status_fd, -1); }

GORT_RUNTIME_TEXT int gort_os_thread_state_get(const gort_os_probe *pr, gort_os_thread_state *out) {
    thread_basic_info_data_t info;
    mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
    if (atomic_load(&pr->status_fd) < 0) return -EBADF;
    mach_port_t port = pthread_mach_thread_np((pthread_t)pr->thread);
    if (thread_info(port, THREAD_BASIC_INFO, (thread_info_t)&info, &count) != KERN_SUCCESS) return -ESRCH;
    out->blocked = info.run_state == TH_STATE_WAITING || info.run_state == TH_STATE_UNINTERRUPTIBLE;
    out->waits_known = false;
    out->waits = 0;
    return 0;
}

GORT_RUNTIME_TEXT int gort_os_thread_syscall_at(const gort_os_probe *pr, uintptr_t *sp, uintptr_t *pc) {
    (void)pr;
    (void)sp;
    (void)pc;
    return -ENOSYS;
}

GORT_RUNTIME_TEXT long gort_os_read_memory(void *dst, uintptr_t src, size_t n) {
    (void)dst;
    (void)src;
    (void)n;
    return -ENOSYS;
}

GORT_RUNTIME_TEXT int gort_os_runsignal_init(gort_os_runsignal *rs) {
    atomic_store(&rs->valid, false);
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_runsignal_free(gort_os_runsignal *rs) { (void)rs; }

GORT_RUNTIME_TEXT int gort_os_signal_preempt_running(gort_os_thread t, const gort_os_runsignal *rs) {
    (void)rs;
    return gort_os_signal_preempt(t);
}
#endif
