/*
 * signal.c — the runtime's signal handlers, POSIX (linux and darwin).
 *
 * Layering (as Go's signal_unix.go): this file installs handlers, owns the
 * alternate signal stacks and chains to whatever handler was there before;
 * the core decides what a signal means (gort_sig_fault, gort_sig_preempt,
 * gort_sig_quit), and the arch layer edits the interrupted context.
 *
 * Invariants:
 *   - Every handler runs on the M's sigaltstack (SA_ONSTACK), so it works
 *     even when the goroutine's stack is exhausted.  Threads that are not
 *     Ms have no sigaltstack from us; for them no signal is the runtime's
 *     and each is chained.
 *   - Handlers preserve errno.
 *   - The program's own SIGURG handler keeps getting its signals: the one
 *     it had before gort_init is chained at install; one it installs later
 *     replaces ours until the next preemption request, which reclaims the
 *     slot and chains it (gort_os_signal_preempt_reclaim).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/ucontext.h>

#include "runtime/os/os.h"
#include "runtime/os/sys.h"

static struct sigaction prev_segv, prev_bus;

/* The program's SIGURG handler, swapped in whole by the reclaiming thread
 * (sysmon) while handlers may read it: two slots and an index. */
static struct sigaction prev_urg[2];
static _Atomic(int) prev_urg_idx;

GORT_RUNTIME_TEXT static void call_handler(const struct sigaction *h, int sig, siginfo_t *info, void *uctx) {
    if ((h->sa_flags & SA_SIGINFO) && h->sa_sigaction != NULL)
        h->sa_sigaction(sig, info, uctx);
    else if (h->sa_handler != SIG_DFL && h->sa_handler != SIG_IGN)
        h->sa_handler(sig);
}

GORT_RUNTIME_TEXT static void chain_fault(int sig, siginfo_t *info, void *uctx) {
    struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;

    if (((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) ||
        (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)) {
        call_handler(prev, sig, info, uctx);
        return;
    }
    /* Default action: uninstall ourselves and return; the faulting
     * instruction runs again and the kernel delivers the default. */
    signal(sig, SIG_DFL);
}

GORT_RUNTIME_TEXT static void on_fault(int sig, siginfo_t *info, void *uctx) {
    int saved = errno;
    gort_sig_fault(sig, info->si_addr, (gort_sigctx *)uctx); /* returns only if not ours */
    chain_fault(sig, info, uctx);
    errno = saved;
}

GORT_RUNTIME_TEXT static void on_urg(int sig, siginfo_t *info, void *uctx) {
    int saved = errno;
    int sender = gort_os_signal_sender(info);
    /* The program's handler first, on the context as it was. */
    if (!gort_sig_preempt_claim(sender))
        call_handler(&prev_urg[atomic_load_explicit(&prev_urg_idx, memory_order_acquire)], sig, info, uctx);
    gort_sig_preempt((gort_sigctx *)uctx);
    errno = saved;
}

GORT_RUNTIME_TEXT static void on_quit(int sig, siginfo_t *info, void *uctx) { gort_sig_quit((gort_sigctx *)uctx); }

GORT_RUNTIME_TEXT static int install(int sig, void (*fn)(int, siginfo_t *, void *), struct sigaction *prev) {
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    return sigaction(sig, &sa, prev) == 0 ? 0 : -errno;
}

static sigset_t default_mask; /* what a new M starts with */

GORT_RUNTIME_TEXT void gort_os_thread_signals_default(void) { pthread_sigmask(SIG_SETMASK, &default_mask, NULL); }

GORT_RUNTIME_TEXT int gort_os_signals_install(void) {
    struct sigaction quit;
    int err;

    pthread_sigmask(SIG_SETMASK, NULL, &default_mask);
    sigdelset(&default_mask, SIGURG);
    sigdelset(&default_mask, SIGSEGV);
    sigdelset(&default_mask, SIGBUS);

    if ((err = install(SIGSEGV, on_fault, &prev_segv)) != 0) return err;
    if ((err = install(SIGBUS, on_fault, &prev_bus)) != 0) return err;
    if ((err = install(SIGURG, on_urg, &prev_urg[0])) != 0) return err;
    if (sigaction(SIGQUIT, NULL, &quit) != 0) return -errno;
    if (!(quit.sa_flags & SA_SIGINFO) && quit.sa_handler == SIG_DFL) return install(SIGQUIT, on_quit, NULL);
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_signal_preempt_reclaim(void) {
    struct sigaction cur;

    if (sigaction(SIGURG, NULL, &cur) != 0 || ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_urg))
        return;
    /* The program installed its own since: chain it, then put ours back. */
    int next = 1 - atomic_load_explicit(&prev_urg_idx, memory_order_relaxed);
    prev_urg[next] = cur;
    atomic_store_explicit(&prev_urg_idx, next, memory_order_release);
    install(SIGURG, on_urg, NULL);
}

_Static_assert(sizeof(sigset_t) <= sizeof(gort_os_sigset), "gort_os_sigset holds a sigset_t");

GORT_RUNTIME_TEXT void gort_os_signal_preempt_only(gort_os_sigset *saved) {
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGURG);
    sigdelset(&set, SIGSEGV); /* faults stay deliverable (and fatal) */
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    sigdelset(&set, SIGTRAP);
    pthread_sigmask(SIG_SETMASK, &set, (sigset_t *)(void *)saved);
}

GORT_RUNTIME_TEXT void gort_sigctx_set_sigmask(gort_sigctx *c, const gort_os_sigset *mask) {
    memcpy(&((ucontext_t *)(void *)c)->uc_sigmask, mask, sizeof(sigset_t));
}

GORT_RUNTIME_TEXT void gort_os_sigaltstack_free(void) {
    stack_t off, old;

    memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE; /* a handler now runs on the thread's stack */
    if (sigaltstack(&off, &old) == 0 && !(old.ss_flags & SS_DISABLE) && old.ss_sp != NULL)
        gort_os_unmap(old.ss_sp, old.ss_size);
}

GORT_RUNTIME_TEXT int gort_os_sigaltstack_alloc(size_t size) {
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

/* ---- signals delivered to the program's channels (gort_signal_notify) ----
 * One handler for every caught signal, calling the core's fn; the
 * disposition each had before is kept to give back.  The wakeup is a
 * pipe: write(2) is async-signal-safe on both systems (a darwin note is
 * not), and a full pipe already holds a wakeup, so a post never blocks. */

static void (*caught_fn)(int);
static struct sigaction caught_prev[NSIG];
static bool caught[NSIG];
static int wake_pipe[2] = {-1, -1};

GORT_RUNTIME_TEXT static void on_caught(int sig, siginfo_t *info, void *uctx) {
    (void)info;
    (void)uctx;
    int saved = errno;
    caught_fn(sig);
    errno = saved;
}

GORT_RUNTIME_TEXT int gort_os_signal_count(void) { return NSIG; }

GORT_RUNTIME_TEXT int gort_os_signal_catch(int sig, void (*fn)(int)) {
    struct sigaction prev;
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    caught_fn = fn;
    if (caught[sig]) return 0;
    int err = install(sig, on_caught, &prev);
    if (err != 0) return err;
    caught_prev[sig] = prev;
    caught[sig] = true;
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_signal_uncatch(int sig) {
    if (sig <= 0 || sig >= NSIG || !caught[sig]) return;
    sigaction(sig, &caught_prev[sig], NULL);
    caught[sig] = false;
}

GORT_RUNTIME_TEXT int gort_os_sigwake_init(void) {
    if (pipe(wake_pipe) != 0) return -errno;
    for (int i = 0; i < 2; i++) sys_fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
    sys_fcntl(wake_pipe[1], F_SETFL, sys_fcntl(wake_pipe[1], F_GETFL, 0) | O_NONBLOCK);
    return 0;
}

GORT_RUNTIME_TEXT void gort_os_sigwake_post(void) {
    char b = 0;
    (void)!sys_write(wake_pipe[1], &b, 1); /* EAGAIN: a wakeup is pending already */
}

GORT_RUNTIME_TEXT void gort_os_sigwake_wait(void) {
    char buf[64];
    while (sys_read(wake_pipe[0], buf, sizeof buf) < 0 && errno == EINTR) {
    }
}
