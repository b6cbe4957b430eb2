/*
 * signal.c — the runtime's signal handlers, POSIX (linux and darwin).
 *
 * Layering (as Go's signal_unix.go): this file installs handlers, owns the
 * alternate signal stacks and chains to whatever handler was there before;
 * the core decides what a signal means (gort_sig_fault).
 *
 * Invariant: a handler runs on the M's sigaltstack (SA_ONSTACK), so it
 * works even when the goroutine's stack is exhausted.  Threads that are
 * not Ms have no sigaltstack from us; for them the fault is not ours and is
 * chained.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/os/os.h"

static struct sigaction prev_segv, prev_bus;

static void chain(int sig, siginfo_t *info, void *uctx) {
    struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;

    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) {
        prev->sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* Default action: uninstall ourselves and return; the faulting
     * instruction runs again and the kernel delivers the default. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uctx) {
    int saved = errno;
    gort_sig_fault(sig, info->si_addr); /* returns only if not ours */
    chain(sig, info, uctx);
    errno = saved;
}

int gort_os_signals_install(void) {
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0) return -errno;
    if (sigaction(SIGBUS, &sa, &prev_bus) != 0) return -errno;
    return 0;
}

int gort_os_sigaltstack_alloc(size_t size) {
    stack_t ss;

    memset(&ss, 0, sizeof ss);
    ss.ss_sp = gort_os_map(size);
    if (ss.ss_sp == NULL) return -ENOMEM;
    ss.ss_size = size;
    if (sigaltstack(&ss, NULL) != 0) {
        int err = errno;
        gort_os_unmap(ss.ss_sp, size);
        return -err;
    }
    return 0;
}
