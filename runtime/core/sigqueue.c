/*
 * sigqueue.c — signals delivered as values on channels (Go's os/signal
 * Notify, and the runtime's sigqueue.go under it).
 *
 * gort_signal_notify(sig, c) registers c for sig and has the OS layer
 * catch sig (os.h gort_os_signal_catch).  Invariants:
 *   - The handler does only async-signal-safe work: it sets sig's bit in
 *     `pending` and posts the wakeup (a pipe write).  Deliveries of one
 *     signal before the next look merge into one, as in Go.
 *   - One plain thread (started at the first notify) delivers: it waits
 *     for the wakeup, takes the pending bits, and for each sends sig as an
 *     int on every channel registered for it without waiting (a full
 *     channel drops it, as Go's does).  Goroutines are never run in, nor
 *     is the runtime entered from, the handler itself.
 *   - The registrations are changed and read under `lock`, and the
 *     delivering thread holds it across its sends: once gort_signal_stop
 *     returns, nothing sends on that channel any more, so it may be freed.
 *   - While any registration exists, deadlock detection is off (a signal
 *     may come at any time and wake a goroutine).
 * Signals the runtime owns (SIGURG for preemption; SIGSEGV and SIGBUS for
 * stack overflows) and those no process can catch are refused.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "runtime/core/runtime.h"

enum { SIG_WORDS = 4 }; /* bits for signals 0 .. 127 */

typedef struct reg {
    int sig;
    gort_chan *c;
} reg;

static struct {
    gort_os_lock lock;
    reg *regs; /* (lock) */
    size_t n, cap;
    bool started; /* (lock) the wakeup and the delivering thread exist */
} q;
static _Atomic(uint32_t) pending[SIG_WORDS];
static _Atomic(int32_t) nregs;

GORT_RUNTIME_TEXT static void on_signal(int sig) {
    atomic_fetch_or(&pending[sig / 32], UINT32_C(1) << (sig % 32));
    gort_os_sigwake_post();
}

GORT_RUNTIME_TEXT static void deliver(int sig) {
    gort_lock(&q.lock);
    for (size_t i = 0; i < q.n; i++)
        if (q.regs[i].sig == sig) (void)gort_chan_send_timeout(q.regs[i].c, &sig, 0);
    gort_unlock(&q.lock);
}

GORT_RUNTIME_TEXT static void *sigqueue_loop(void *arg) {
    (void)arg;
    for (;;) {
        gort_os_sigwake_wait();
        for (int w = 0; w < SIG_WORDS; w++) {
            uint32_t bits = atomic_exchange(&pending[w], 0);
            while (bits != 0) {
                int b = __builtin_ctz(bits);
                bits &= bits - 1;
                deliver(w * 32 + b);
            }
        }
    }
    return NULL;
}

GORT_RUNTIME_TEXT static bool runtime_owned(int sig) { return sig == SIGURG || sig == SIGSEGV || sig == SIGBUS; }

GORT_RUNTIME_TEXT bool gort_signal_waiting(void) { return atomic_load(&nregs) > 0; }

GORT_RUNTIME_TEXT int gort_signal_notify(int signo, gort_chan *c) {
    if (signo <= 0 || signo >= gort_os_signal_count() || signo >= SIG_WORDS * 32 || runtime_owned(signo) ||
        c == NULL || gort_chan_elem_size(c) != sizeof(int))
        return -EINVAL;
    gort_lazy_init();
    int err = 0;
    gort_lock(&q.lock);
    for (size_t i = 0; i < q.n; i++)
        if (q.regs[i].sig == signo && q.regs[i].c == c) goto out; /* already: nothing changes */
    if (!q.started) {
        if ((err = gort_os_sigwake_init()) != 0) goto out;
        if ((err = gort_os_thread_start(sigqueue_loop, NULL)) != 0) goto out;
        q.started = true;
    }
    if (q.n == q.cap) {
        size_t cap = q.cap ? 2 * q.cap : 8;
        reg *r = realloc(q.regs, cap * sizeof *r);
        if (r == NULL) {
            err = -ENOMEM;
            goto out;
        }
        q.regs = r;
        q.cap = cap;
    }
    if ((err = gort_os_signal_catch(signo, on_signal)) != 0) goto out;
    q.regs[q.n++] = (reg){signo, c};
    atomic_fetch_add(&nregs, 1);
out:
    gort_unlock(&q.lock);
    return err;
}

GORT_RUNTIME_TEXT int gort_signal_stop(int signo, gort_chan *c) {
    if (signo < 0 || signo >= gort_os_signal_count() || c == NULL) return -EINVAL;
    int removed = 0;
    gort_lock(&q.lock);
    for (size_t i = 0; i < q.n;) {
        int sig = q.regs[i].sig;
        if (q.regs[i].c != c || (signo != 0 && sig != signo)) {
            i++;
            continue;
        }
        q.regs[i] = q.regs[--q.n];
        removed++;
        atomic_fetch_sub(&nregs, 1);
        bool still = false; /* another channel still wants sig? */
        for (size_t k = 0; k < q.n && !still; k++) still = q.regs[k].sig == sig;
        if (!still) gort_os_signal_uncatch(sig);
    }
    gort_unlock(&q.lock);
    return removed > 0 ? 0 : -ENOENT;
}
