/*
 * proc.c — the G/M/P scheduler.
 *
 * Goroutines (G) run on OS threads (M) that hold a processor (P); see
 * runtime.h for the three types and who owns what.  The algorithms are
 * Go's (runtime/proc.go), in C:
 *
 * Scheduling.  Each M runs schedule_loop() on its own thread stack (g0):
 * find a runnable G, swap to it, and when the G swaps back (mcall) run the
 * action it left in m->after_switch on g0 — park, yield or exit — where it
 * is safe to publish the G to other Ms because nothing runs on its stack.
 * Direct hand-off: a G that parks or exits while its P's runnext holds a
 * G (the one it just readied: the other end of a channel) swaps straight
 * to that G, skipping g0 and find_runnable; the parked G's action then
 * runs on the new G's stack, first thing after the swap (switch_arrive),
 * which is just as safe: nothing runs on the parked G's stack any more.
 * The new G inherits the time slice, as a runnext G does anyway.
 * A G is looked for in: the P's runnext and local ring, the global queue
 * (first, every 61st tick, so it is not starved), expired timers, and the
 * other Ps' rings (stealing half, in random order, four rounds, taking
 * runnext and firing their timers in the last round).
 *
 * Worker thread parking/unparking (Go's design note, kept): we want enough
 * running Ms to use the available Ps, but not more, and to park idle Ms
 * without losing a wakeup.  An M with no work "spins" (looks for work) for
 * a while before parking; at most half the busy Ps' worth of Ms spin.  When
 * new work appears (a G is readied or spawned), wakep() starts a spinning M
 * only if there is an idle P and no M is spinning already.  A spinning M
 * that finds work stops spinning and calls wakep() in turn, so wakeups
 * propagate one at a time.  The last spinning M to give up re-checks every
 * run queue after dropping nmspinning (seq_cst), which pairs with the
 * readier's "put G, then check nmspinning" so one of the two sees the
 * other.  One exception to "spin a while, then park": a spinning M that
 * finds a P cycling through the Gs it readies (runq.c) keeps spinning,
 * looking again every few microseconds, WATCH_LOOKS times; parking
 * would only have that P's next gort_ready wake it again, a futex call on
 * the ping-pong's path each time.
 *
 * Goroutine creation.  gort_go takes a dead G record (per-P free list,
 * then the global one) and queues it on its P's runnext without a stack
 * or a context (g->fresh); the M that first switches to it gives it a
 * default-size stack, the P's most recently freed one, and its first frame
 * (g_start).  An exit gives the stack back to the P at once.  So however
 * deep the queues, a P cycles through a few hot stacks.  A G that spawns
 * while its P's ring is full yields to the global queue (back-pressure),
 * so the queue stays short and the records hot too.
 *
 * Timers: an idle M becomes the one timer sleeper (sched.timer_m) when a
 * timer is pending, sleeping on its note until the earliest one; timer.c
 * explains the wakeup protocol.
 *
 * gort_maxprocs(n) takes effect without stopping the world: growing makes
 * the new Ps idle and wakes an M; shrinking marks idle Ps beyond n gone at
 * once, and a running P beyond n is retired by its M at its next schedule.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/asan.h"
#include "runtime/core/runtime.h"
#include "runtime/core/tsan.h"
#include "runtime/valgrind.h"

gort_sched gort_sched_g;
_Atomic(bool) gort_forked_g;

GORT_RUNTIME_TEXT static void forked_child(void) { atomic_store(&gort_forked_g, true); }

GORT_RUNTIME_TEXT int gort_forked_error(void) {
    static _Atomic(bool) said;
    if (!atomic_exchange(&said, true)) {
        static const char line[] = "gort: the runtime does not survive fork() without exec: in the child, calls "
                                   "that would wait or start goroutines fail with ENOTRECOVERABLE\n";
        gort_os_write_all(2, line, sizeof line - 1);
    }
    return -ENOTRECOVERABLE;
}

static _Thread_local M *tls_m __attribute__((tls_model("initial-exec")));


GORT_RUNTIME_TEXT GORT_NOIPA M *gort_getm(void) { return tls_m; }

GORT_RUNTIME_TEXT G *gort_getg(void) {
    M *m = gort_getm();
    return m != NULL ? m->curg : NULL;
}

GORT_RUNTIME_TEXT _Noreturn void gort_fatal(const char *msg) {
    M *m = tls_m;
    char line[512];
    int n;
    gort_fatal_begin(); /* one report at a time, process-wide */
    if (m != NULL && m->curg != NULL)
        n = snprintf(line, sizeof line, "%s (goroutine %llu)\n", msg, (unsigned long long)m->curg->id);
    else
        n = snprintf(line, sizeof line, "%s\n", msg);
    gort_os_write_all(2, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    gort_crash_dump(NULL, true);
}

/* Neither can move the caller to another thread, so they may read the
 * thread-local M directly (inlined) instead of through gort_getm. */
GORT_RUNTIME_TEXT void gort_lock(gort_os_lock *l) {
    M *m = tls_m;
    if (m != NULL) m->locks++;
    gort_os_lock_acquire(l);
}

GORT_RUNTIME_TEXT void gort_unlock(gort_os_lock *l) {
    M *m = tls_m;
    gort_os_lock_release(l);
    if (m != NULL) m->locks--;
}

/* Contended: spin on a plain load (the line stays shared until it is
 * free), then yield the thread to a holder the OS may have descheduled. */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void spin_lock_slow(gort_spinlock *l) {
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&l->held, memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&l->held, 1, memory_order_acquire) == 0)
            return;
        gort_spin_wait(i, 128);
    }
}

GORT_RUNTIME_TEXT void gort_spin_lock(gort_spinlock *l) {
    M *m = tls_m;
    if (m != NULL) m->locks++;
    if (atomic_exchange_explicit(&l->held, 1, memory_order_acquire) != 0) spin_lock_slow(l);
}

GORT_RUNTIME_TEXT void gort_spin_unlock(gort_spinlock *l) {
    M *m = tls_m;
    atomic_store_explicit(&l->held, 0, memory_order_release);
    if (m != NULL) m->locks--;
}

GORT_RUNTIME_TEXT static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

GORT_RUNTIME_TEXT uint64_t gort_fastrand(void) {
    static _Thread_local uint64_t thread_rand;
    M *m = gort_getm();
    uint64_t *s = m != NULL ? &m->rand : &thread_rand;
    if (*s == 0) *s = (uint64_t)(uintptr_t)s ^ (uint64_t)gort_os_nanotime() ^ 0x2545F4914F6CDD1Dull;
    return xorshift(s);
}

/* ===================================================================== */
/* P and M lists (sched.lock held)                                        */
/* ===================================================================== */

static gort_sched *const sched = &gort_sched_g;

GORT_RUNTIME_TEXT static void pidle_put(P *p) {
    atomic_store_explicit(&p->status, P_IDLE, memory_order_relaxed);
    p->link = sched->pidle;
    sched->pidle = p;
    atomic_fetch_add(&sched->npidle, 1);
}

GORT_RUNTIME_TEXT static P *pidle_get(void) {
    P *p = sched->pidle;
    if (p != NULL) {
        sched->pidle = p->link;
        atomic_fetch_sub(&sched->npidle, 1);
    }
    return p;
}

GORT_RUNTIME_TEXT static void acquirep(M *m, P *p) {
    if (atomic_load_explicit(&p->m, memory_order_relaxed) != NULL ||
        atomic_load_explicit(&p->status, memory_order_relaxed) != P_IDLE)
        gort_fatal("gort: acquirep: P is not idle");
    m->p = p;
    atomic_store_explicit(&p->m, m, memory_order_release);
    atomic_store_explicit(&p->status, P_RUNNING, memory_order_relaxed);
    /* Dekker with sysmon's "nothing runs" check: our store, then its flag. */
    gort_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&sched->sysmon_wait, memory_order_relaxed)) gort_sysmon_wake();
}

/* Take back p, already marked P_RUNNING by our CAS (syscall exit). */
GORT_RUNTIME_TEXT static void acquirep_running(M *m, P *p) {
    m->p = p;
    atomic_store_explicit(&p->m, m, memory_order_release);
}

/* Give up m's P; it is idle (not on the idle list) until someone takes it. */
GORT_RUNTIME_TEXT static P *releasep(M *m) {
    P *p = m->p;
    m->p = NULL;
    atomic_store_explicit(&p->m, NULL, memory_order_relaxed);
    atomic_store_explicit(&p->status, P_IDLE, memory_order_relaxed);
    return p;
}

/* The global free G list (sched.gfree_lock held).  Its head is atomic
 * for gfget's peek without the lock. */
GORT_RUNTIME_TEXT static void gfree_push(G *g) {
    g->schedlink = atomic_load_explicit(&sched->gfree, memory_order_relaxed);
    atomic_store_explicit(&sched->gfree, g, memory_order_relaxed);
    atomic_store_explicit(&sched->gfree_n, atomic_load_explicit(&sched->gfree_n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

GORT_RUNTIME_TEXT static G *gfree_pop(void) {
    G *g = atomic_load_explicit(&sched->gfree, memory_order_relaxed);
    if (g != NULL) {
        atomic_store_explicit(&sched->gfree, g->schedlink, memory_order_relaxed);
        int32_t n = atomic_load_explicit(&sched->gfree_n, memory_order_relaxed) - 1;
        atomic_store_explicit(&sched->gfree_n, n, memory_order_relaxed);
        if (n < sched->gfree_low) sched->gfree_low = n;
    }
    return g;
}

/* Move everything runnable from p (which this M holds or which is idle)
 * to the global queue, its timers to sched.timerp, and its free Gs to the global
 * free list, so the P can be retired. */
GORT_RUNTIME_TEXT static void p_drain(P *p) {
    bool inherit;
    G *g;
    while ((g = gort_runq_get(p, &inherit)) != NULL) gort_globrunq_put(g);
    gort_timers_move(p, sched->timerp);
    gort_lock(&sched->gfree_lock);
    while ((g = p->gfree) != NULL) {
        p->gfree = g->schedlink;
        gfree_push(g);
    }
    p->gfree_n = 0;
    gort_unlock(&sched->gfree_lock);
    gort_stack_drain(p);
}

/* p, which no M holds, goes on the idle list, or is retired if it is
 * beyond gort_maxprocs() (sched.lock held). */
GORT_RUNTIME_TEXT static void p_idle(P *p) {
    if (p->id >= atomic_load(&sched->gomaxprocs)) {
        p_drain(p);
        atomic_store_explicit(&p->status, P_GONE, memory_order_relaxed);
    } else {
        pidle_put(p);
    }
}

/* Put an M to sleep until startm hands it a P. */
GORT_RUNTIME_TEXT static void stopm(M *m) {
    gort_lock(&sched->lock);
    m->schedlink = sched->midle;
    sched->midle = m;
    sched->nmidle++;
    gort_unlock(&sched->lock);
    gort_note_sleep(&m->park);
    gort_note_clear(&m->park);
    acquirep(m, m->nextp);
    m->nextp = NULL;
}

static void *mstart(void *arg);

/* A record for a new M: a dead M's (its thread ended in mexit), which
 * stays on sched.allm with its id and dump epochs, else a fresh one. */
GORT_RUNTIME_TEXT static M *m_alloc(void) {
    gort_lock(&sched->lock);
    M *m = sched->mdead;
    if (m != NULL) {
        sched->mdead = m->schedlink;
        atomic_fetch_sub(&sched->nmdead, 1);
    }
    gort_unlock(&sched->lock);
    if (m == NULL) {
        if ((m = calloc(1, sizeof *m)) == NULL) gort_fatal("gort: out of memory creating a thread (M)");
        m->id = atomic_fetch_add(&sched->mcount, 1);
        gort_note_init(&m->park);
        atomic_store(&m->probe.status_fd, -1); /* until its thread opens it (mstart) */
        atomic_store(&m->probe.syscall_fd, -1);
        return m;
    }
    /* A dump may walk through the record (it stays dead until mstart):
     * reset only what the old thread left behind, field by field.  Its
     * note is clear, its lock count 0; mstart sets the thread's own. */
    m->exiting = false;
    m->curg = m->lockedg = m->handoff_from = NULL;
    m->p = m->oldp = NULL;
    m->watch_looks = 0;
    m->asan_fake = NULL;
    m->traceback_in_switch = m->traceback_blocked = false;
    atomic_store(&m->preempt_sigs, 0);
    atomic_store(&m->foreign_since, 0);
    return m;
}

/* rare: its buffer stays out of startm */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void newm(P *p, bool spinning) {
    M *m = m_alloc();
    int err;
    m->nextp = p;
    m->spinning = spinning;
    m->rand = 0x9E3779B97F4A7C15ull * (uint64_t)(m->id + 1);
    if ((err = gort_os_thread_start(mstart, m)) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "gort: cannot create an OS thread (M): %s", strerror(-err));
        gort_fatal(msg);
    }
}

/* Run some M on p (an idle one if p is NULL); spinning: the caller already
 * counted it in nmspinning. */
GORT_RUNTIME_TEXT static void startm(P *p, bool spinning) {
    gort_lock(&sched->lock);
    if (p == NULL && (p = pidle_get()) == NULL) {
        gort_unlock(&sched->lock);
        if (spinning) atomic_fetch_sub(&sched->nmspinning, 1);
        return;
    }
    M *m = sched->midle;
    if (m != NULL) {
        sched->midle = m->schedlink;
        sched->nmidle--;
    }
    gort_unlock(&sched->lock);
    if (m == NULL) {
        newm(p, spinning);
        return;
    }
    m->spinning = spinning;
    m->nextp = p;
    gort_note_wakeup(&m->park);
}

static _Atomic int init_state; /* 0 not started, 1 starting, 2 running */

/* The caller published a G; a spinner publishes "not spinning" and then
 * re-checks the queues.  The caller's store must be ordered before our
 * loads (a store-load barrier), or both sides can miss each other.  A
 * runnext exchange or a lock is such a barrier already; a run-queue tail
 * store (release, a plain mov on x86) is not: then fence here. */
GORT_RUNTIME_TEXT void gort_wakep_after(bool fence) {
    if (fence) gort_fence(memory_order_seq_cst);
    gort_wakep();
}

GORT_RUNTIME_TEXT void gort_wakep(void) {
    int32_t zero = 0;
    if (atomic_load(&sched->npidle) == 0) return;
    if (atomic_load(&sched->nmspinning) != 0 ||
        !atomic_compare_exchange_strong(&sched->nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

/* ===================================================================== */
/* Goroutine switches                                                     */
/* ===================================================================== */

static G *goexit_m(M *m, G *g);
static G *park_m(M *m, G *g);

static void g_main(void *arg);

/* g's first switch: a default-size stack (the P's most recently freed
 * one: hot) unless it has its own, and the first frame on it.  Published
 * to the dump by the release store of fresh. */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void g_start(P *p, G *g) { /* once per G: off the switch's path */
    if (g->stack_lo == NULL && gort_stack_get(p, g) != 0) {
        /* not expected: gort_go_with claimed the stack (gort_stack_claim) */
        char line[128], *q = line, *end = line + sizeof line - 1;
        gort_fatal_begin();
        q = gort_put_str(q, end, "gort: out of memory: no stack for goroutine ");
        q = gort_put_u64(q, end, g->id);
        q = gort_put_str(q, end, "\n");
        gort_os_write_all(2, line, (size_t)(q - line));
        gort_crash_dump(NULL, true);
    }
    asan_unpoison(g->stack_lo, g->stack_size); /* the last goroutine's exit frames (asan.h) */
    gort_ctx_init(&g->ctx, g->stack_lo, g->stack_size, g_main, g);
    atomic_store_explicit(&g->fresh, false, memory_order_release);
}

/* Make g the M's running G (status, errno, counters), just before the
 * swap to it: from g0 (run) or from another G (mcall's hand-off). */
GORT_RUNTIME_TEXT static void switch_to(M *m, P *p, G *g) {
    if (__builtin_expect(atomic_load_explicit(&g->fresh, memory_order_relaxed), 0)) g_start(p, g);
    atomic_store_explicit(&p->n_switches, atomic_load_explicit(&p->n_switches, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&g->m, m, memory_order_relaxed);
    gort_stamp(g);
    m->curg = g;
    gort_set_status(g, G_RUNNING);
    *m->errno_at = g->saved_errno;
    /* a dump unwinds stopped goroutines: none may start, and a switch in
     * progress is not unwound (traceback.c) */
    atomic_store_explicit(&m->in_switch, true, memory_order_relaxed);
}

/* First thing on a G after any swap to it: finish the switch, and run the
 * action of the G that handed over to it directly, if one did. */
GORT_RUNTIME_TEXT static void switch_arrive(void) {
    M *m = gort_getm();
    atomic_store_explicit(&m->in_switch, false, memory_order_relaxed);
    G *prev = m->handoff_from;
    if (prev == NULL) return;
    m->handoff_from = NULL;
    gort_stack_check(prev);
    /* The parked G's action runs after this G's errno was restored
     * (switch_to): actions keep errno (the OS calls they can reach — a
     * thread's start, the poller's wakeup — preserve it: os.h). */
    G *again = m->after_switch(m, prev);
    if (again != NULL) gort_wakep_after(gort_runq_put(m->p, again, false)); /* a cancelled park */
}

/* The G to hand over to directly: this P's runnext, if it may run here. */
GORT_RUNTIME_TEXT static G *handoff_target(M *m) {
    P *p = m->p;
    if (p == NULL || m->lockedg != NULL || atomic_load_explicit(&sched->dumping, memory_order_relaxed))
        return NULL;
    G *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (next == NULL || next->lockedm != NULL) return NULL;
    if (!atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL, memory_order_acquire,
                                                 memory_order_relaxed))
        return NULL;
    return next;
}

/* Switch from the running G to this M's g0, which runs fn(m, g) there —
 * or, for a park or an exit with a runnext G waiting, straight to that G,
 * which runs fn(m, g) on arrival.  Returns when the G is resumed, possibly
 * on another M.  Never inlined under TSan: its frame is popped on the
 * exit path (tsan.h). */
GORT_RUNTIME_TEXT GORT_TSAN_NOINLINE static void mcall(G *(*fn)(M *, G *)) {
    M *m = gort_getm();
    if (m->oldp != NULL) { /* parking inside gort_syscall_enter/exit: take a P back first */
        gort_syscall_exit();
        m = gort_getm(); /* it may have parked: another M */
    }
    G *g = m->curg;
    g->saved_errno = *m->errno_at;
    m->after_switch = fn;
    G *next = fn == park_m || fn == goexit_m ? handoff_target(m) : NULL;
    if (fn == goexit_m) tsan_func_exit(); /* this frame never returns */
    if (next != NULL) {
        m->handoff_from = g;
        switch_to(m, m->p, next);
        if (atomic_load_explicit(&sched->dumping, memory_order_relaxed)) gort_dump_wait(m);
        asan_leave(fn == goexit_m ? NULL : &g->asan_fake, next->stack_lo, next->stack_size);
        tsan_switch(next->tsan_fiber);
        gort_ctx_swap(&g->ctx, &next->ctx);
    } else {
        atomic_store_explicit(&m->in_switch, true, memory_order_relaxed); /* leaving g */
        asan_leave(fn == goexit_m ? NULL : &g->asan_fake, m->g0_lo, m->g0_size);
        tsan_switch(m->tsan_fiber);
        gort_ctx_swap(&g->ctx, &m->g0ctx);
    }
    asan_arrive(g->asan_fake);
    switch_arrive(); /* on whatever M resumed us; errno was restored there */
}

/* Run g on m until the G running there switches back to g0 (g, or one it
 * handed over to directly); then run that G's after_switch action, which
 * may hand back a G to run at once (a park that was cancelled). */
GORT_RUNTIME_TEXT static void run(M *m, G *g, bool inherit) {
    while (g != NULL) {
        P *p = m->p;
        if (!inherit) {
            atomic_store_explicit(&p->schedtick, atomic_load_explicit(&p->schedtick, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            atomic_store_explicit(&p->slice_start, gort_clock(), memory_order_relaxed);
        }
        switch_to(m, p, g);
        if (atomic_load_explicit(&sched->dumping, memory_order_relaxed)) gort_dump_wait(m);
        asan_leave(&m->asan_fake, g->stack_lo, g->stack_size);
        tsan_switch(g->tsan_fiber);
        gort_ctx_swap(&m->g0ctx, &g->ctx);
        asan_arrive(m->asan_fake);
        /* back on g0 of this same M, from m->curg */
        atomic_store_explicit(&m->in_switch, false, memory_order_relaxed);
        g = m->curg;
        m->curg = NULL;
        gort_stack_check(g);
        g = m->after_switch(m, g);
        inherit = true;
    }
}

GORT_RUNTIME_TEXT static void p_count(_Atomic uint64_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* ---- park ---------------------------------------------------------------- */

GORT_RUNTIME_TEXT static G *park_m(M *m, G *g) {
    gort_stamp(g); /* for the dump only */
    gort_set_status(g, G_WAITING);
    p_count(&m->p->n_parks);
    if (m->waitunlockf != NULL && !m->waitunlockf(g, m->waitarg)) {
        gort_set_status(g, G_RUNNABLE);
        return g; /* not parked after all: resume it at once */
    }
    return NULL;
}

GORT_RUNTIME_TEXT void gort_park(bool (*unlockf)(G *, void *), void *arg, const char *reason) {
    M *m = gort_getm();
    G *g = m->curg;
    g->waitreason = reason;
    m->waitunlockf = unlockf;
    m->waitarg = arg;
    mcall(park_m);
}

GORT_RUNTIME_TEXT void gort_ready(G *g, bool next) {
    M *m = gort_getm();
    P *p = m != NULL ? m->p : NULL;
    bool fence = false;
    gort_stamp(g);
    gort_set_status(g, G_RUNNABLE);
    if (p != NULL) {
        fence = gort_runq_put(p, g, next);
    } else {
        gort_lock(&sched->lock);
        gort_globrunq_put(g);
        gort_unlock(&sched->lock);
    }
    gort_wakep_after(fence);
}

/* On a global queue, sched.lock held (no P needed). */
GORT_RUNTIME_TEXT void gort_ready_locked(G *g) {
    gort_stamp(g);
    gort_set_status(g, G_RUNNABLE);
    gort_globrunq_put(g);
}

/* ---- system calls ----------------------------------------------------------- */

static void gort_syscall_exit_slow(M *m);

/* Go's entersyscall, without the stack bookkeeping: the M gives its P a
 * P_SYSCALL status and keeps it only as oldp. */
GORT_RUNTIME_TEXT void gort_syscall_enter(void) {
    M *m = gort_getm();
    if (m == NULL || m->curg == NULL || m->p == NULL || gort_forked()) return;
    G *g = m->curg;
    P *p = m->p;
    gort_stamp(g);
    g->waitreason = "syscall";
    gort_set_status(g, G_SYSCALL);
    atomic_fetch_add_explicit(&sched->nsyscall, 1, memory_order_relaxed);
    m->oldp = p;
    m->p = NULL;
    atomic_store_explicit(&p->m, NULL, memory_order_relaxed);
    atomic_store_explicit(&p->syscalltick, atomic_load_explicit(&p->syscalltick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&p->status, P_SYSCALL, memory_order_release);
}

static void stoplockedm(M *m);

/* No P came back: queue the goroutine and park the M (on g0).  A locked
 * goroutine waits for whoever dequeues it to bring this M a P. */
GORT_RUNTIME_TEXT static G *exitsyscall_m(M *m, G *g) {
    gort_lock(&sched->lock);
    P *p = pidle_get();
    if (p == NULL) gort_ready_locked(g);
    gort_unlock(&sched->lock);
    if (p != NULL) {
        acquirep(m, p);
        gort_set_status(g, G_RUNNING);
        return g;
    }
    if (g->lockedm == m) {
        stoplockedm(m); /* returns with the P startlockedm brought */
        return g;
    }
    stopm(m);
    return NULL;
}

/* errno through a fresh thread-local lookup (we may be on another thread
 * than when the caller last took errno's address). */
GORT_RUNTIME_TEXT GORT_NOIPA static void set_errno(int e) { errno = e; }

GORT_RUNTIME_TEXT void gort_syscall_exit(void) {
    int saved = errno; /* the call's errno, whatever we do here */
    M *m = gort_getm();
    if (m == NULL || m->curg == NULL || m->oldp == NULL || gort_forked()) return;
    gort_syscall_exit_slow(m);
    set_errno(saved);
}

GORT_RUNTIME_TEXT static void gort_syscall_exit_slow(M *m) {
    G *g = m->curg;
    P *p = m->oldp;
    uint32_t st = P_SYSCALL;
    m->oldp = NULL;
    atomic_fetch_sub_explicit(&sched->nsyscall, 1, memory_order_relaxed);
    if (atomic_compare_exchange_strong(&p->status, &st, P_RUNNING)) { /* still ours */
        acquirep_running(m, p);
        gort_set_status(g, G_RUNNING);
        return;
    }
    gort_lock(&sched->lock); /* retaken: an idle P will do */
    p = pidle_get();
    gort_unlock(&sched->lock);
    if (p != NULL) {
        acquirep(m, p);
        gort_set_status(g, G_RUNNING);
        return;
    }
    mcall(exitsyscall_m);
}

GORT_RUNTIME_TEXT void gort_handoffp(P *p) {
    if (!gort_runq_empty(p) || atomic_load(&sched->runqsize) > 0 ||
        atomic_load_explicit(&p->timers.next, memory_order_relaxed) != 0 || gort_netpoll_waiting()) {
        startm(p, false);
        return;
    }
    int32_t zero = 0;
    if (atomic_load(&sched->nmspinning) + atomic_load(&sched->npidle) == 0 &&
        atomic_compare_exchange_strong(&sched->nmspinning, &zero, 1)) {
        startm(p, true); /* nobody looks for work: look */
        return;
    }
    gort_lock(&sched->lock);
    p_idle(p);
    gort_unlock(&sched->lock);
}

/* ---- sleepers: goroutines and threads alike ------------------------------ */

GORT_RUNTIME_TEXT void gort_thread_known(void) { (void)gort_os_thread_note(); }

GORT_RUNTIME_TEXT void gort_sleeper_init(gort_sleeper *s) {
    s->g = gort_getg();
    s->note = NULL;
    if (s->g == NULL && (s->note = gort_os_thread_note()) == NULL)
        gort_fatal("gort: out of memory (thread note)");
}

GORT_RUNTIME_TEXT void gort_block(gort_sleeper *s, bool (*unlockf)(G *, void *), void *arg, const char *reason) {
    if (gort_forked()) { /* nobody is left to wake it: say so rather than hang */
        gort_forked_error();
        gort_fatal("gort: a wait in a forked child would never end");
    }
    if (s->g != NULL) {
        gort_park(unlockf, arg, reason);
        return;
    }
    if (unlockf != NULL && !unlockf(NULL, arg)) return;
    gort_note_sleep(s->note);
    gort_note_clear(s->note);
}

GORT_RUNTIME_TEXT void gort_unblock(gort_sleeper *s) {
    if (s->g != NULL)
        gort_ready(s->g, true);
    else
        gort_note_wakeup(s->note);
}

/* ---- yield ---------------------------------------------------------------- */

GORT_RUNTIME_TEXT static G *yield_m(M *m, G *g) {
    gort_set_status(g, G_RUNNABLE); /* after its context: dumps */
    gort_runq_put(m->p, g, false); /* behind everything already waiting */
    return NULL;
}

/* ---- preemption ---------------------------------------------------------- */

/* Like a yield, but behind everything: on the global queue, so the Gs
 * waiting on this P and elsewhere run first (Go's gopreempt_m). */
GORT_RUNTIME_TEXT static G *preempt_m(M *m, G *g) {
    p_count(&m->p->n_preemptions);
    /* Honoured: a G that runs next inheriting the slice is not asked. */
    atomic_store_explicit(&m->p->preempt_tick, 0, memory_order_relaxed);
    gort_lock(&sched->lock);
    gort_ready_locked(g); /* after its context: dumps */
    gort_unlock(&sched->lock);
    return NULL;
}

GORT_RUNTIME_TEXT void gort_preempt_park(void) { mcall(preempt_m); }

/* Back-pressure (gort_go_with): the spawner waits on the global queue, so
 * its P runs what it spawned; its P (at its next 61st tick) or an idle
 * one takes it up again.  Not counted as a preemption. */
GORT_RUNTIME_TEXT static G *spawn_yield_m(M *m, G *g) {
    (void)m;
    gort_lock(&sched->lock);
    gort_ready_locked(g); /* after its context: dumps */
    gort_unlock(&sched->lock);
    gort_wakep(); /* an idle P may take it at once */
    return NULL;
}

/* Every blocking entry point's first call.  It reads the M from TLS
 * directly (once, before any switch), not through gort_getm. */
GORT_RUNTIME_TEXT void gort_preempt_check(void) {
    M *m = tls_m;
    if (m == NULL || m->curg == NULL || m->p == NULL || m->locks != 0) return;
    if (gort_preempt_wanted(m->p) && !gort_forked()) gort_preempt_park();
}

GORT_RUNTIME_TEXT void gort_yield(void) {
    if (gort_forked()) {
        gort_os_thread_yield();
        return;
    }
    if (gort_getg() == NULL) {
        gort_os_thread_yield();
        return;
    }
    mcall(yield_m);
}

/* ---- systemstack -------------------------------------------------------- */

/* Run fn(arg) on this M's g0 stack, below the frame g0 is suspended in
 * (g0 cannot resume meanwhile: only this goroutine's mcall would resume
 * it).  For work that needs more stack than a goroutine may have.  On g0
 * or a plain thread, just call fn.  fn must not park.  Valgrind sees a
 * switch to g0's stack, not the frame below its sp: we announce it. */
GORT_RUNTIME_TEXT void gort_systemstack(void (*fn)(void *), void *arg) {
    M *m = gort_getm();
    if (m == NULL || m->curg == NULL) {
        fn(arg);
        return;
    }
    /* 128 bytes below g0's saved sp: clear of its frame and red zone. */
    vg_stack_grown((char *)m->g0ctx.sp - 128 - 16, m->g0ctx.sp); /* and call_on's alignment */
    gort_ctx_call_on((char *)m->g0ctx.sp - 128, fn, arg);
}

/* ===================================================================== */
/* Goroutine creation and exit                                            */
/* ===================================================================== */

#define GFREE_MAX 64 /* per-P free G cache; half moves to/from the global list */

GORT_RUNTIME_TEXT static void gfput(P *p, G *g) {
    if (p == NULL) {
        gort_lock(&sched->gfree_lock);
        gfree_push(g);
        gort_unlock(&sched->gfree_lock);
        return;
    }
    g->schedlink = p->gfree;
    p->gfree = g;
    if (++p->gfree_n < GFREE_MAX) return;
    gort_lock(&sched->gfree_lock);
    while (p->gfree_n > GFREE_MAX / 2) {
        G *x = p->gfree;
        p->gfree = x->schedlink;
        p->gfree_n--;
        gfree_push(x);
    }
    gort_unlock(&sched->gfree_lock);
}

GORT_RUNTIME_TEXT static G *gfget(P *p) {
    G *g;
    if (p == NULL || p->gfree == NULL) {
        /* a peek without the lock: a hint, checked again under it */
        if (atomic_load_explicit(&sched->gfree, memory_order_relaxed) == NULL) return NULL;
        gort_lock(&sched->gfree_lock);
        if (p == NULL) {
            g = gfree_pop();
            gort_unlock(&sched->gfree_lock);
            return g;
        }
        while (p->gfree_n < GFREE_MAX / 2 && (g = gfree_pop()) != NULL) {
            g->schedlink = p->gfree;
            p->gfree = g;
            p->gfree_n++;
        }
        gort_unlock(&sched->gfree_lock);
    }
    g = p->gfree;
    if (g != NULL) {
        p->gfree = g->schedlink;
        p->gfree_n--;
    }
    return g;
}

/* Dead G records kept on the global free list through a scavenger pass;
 * the rest are freed (a burst of a million goroutines left a million
 * records, ~300 MB, for good). */
#define GFREE_KEEP 1024

GORT_RUNTIME_TEXT bool gort_gfree_excess(void) {
    return atomic_load_explicit(&sched->gfree_n, memory_order_relaxed) > GFREE_KEEP;
}

/* sysmon (stack.c's scavenger pass).  Hysteresis, as for stacks: only
 * records that stayed unused since the last pass go (the list never fell
 * below gfree_low meanwhile), and from the list's cold end (a spawn pops
 * the head).  The records leave sched.allg under its lock; then a fence
 * and a look at sched.dumping pair with dump_begin's (traceback.c): a
 * fatal report reads allg without the lock, and if one has begun the
 * records are left unfreed (the process is ending); if not, it will read
 * the compacted list. */
GORT_RUNTIME_TEXT void gort_gfree_trim(void) {
    G *list = NULL, *g;
    long n = 0;
    if (!gort_gfree_excess()) return;
    gort_lock(&sched->gfree_lock);
    int32_t have = atomic_load_explicit(&sched->gfree_n, memory_order_relaxed);
    int32_t idle = sched->gfree_low < have ? sched->gfree_low : have;
    if (idle > GFREE_KEEP) {
        n = idle - GFREE_KEEP;
        G *last = atomic_load_explicit(&sched->gfree, memory_order_relaxed); /* keep have - n >= KEEP */
        for (int32_t i = 1; i < have - n; i++) last = last->schedlink;
        list = last->schedlink;
        last->schedlink = NULL;
        atomic_store_explicit(&sched->gfree_n, have - (int32_t)n, memory_order_relaxed);
        for (g = list; g != NULL; g = g->schedlink) g->reaped = true;
    }
    sched->gfree_low = atomic_load_explicit(&sched->gfree_n, memory_order_relaxed);
    gort_unlock(&sched->gfree_lock);
    if (n == 0) return;
    gort_lock(&sched->allg_lock);
    size_t j = 0;
    for (size_t i = 0; i < sched->nallg; i++)
        if (!sched->allg[i]->reaped) sched->allg[j++] = sched->allg[i];
    sched->nallg = j;
    /* A list 4x too long for what is left shrinks (a million entries is
     * 8 MB, and as much again in outgrown arrays). */
    G **shrunk = NULL, **old = NULL;
    size_t cap = 1024;
    while (cap < 2 * j) cap *= 2;
    if (sched->capallg >= 4 * cap && (shrunk = malloc(cap * sizeof *shrunk)) != NULL) {
        memcpy(shrunk, sched->allg, j * sizeof *shrunk);
        old = sched->allg;
        gort_fence(memory_order_release);
        sched->allg = shrunk;
        sched->capallg = cap;
    }
    gort_fence(memory_order_seq_cst);
    bool dumping = atomic_load(&sched->dumping) != 0;
    if (!dumping) { /* no reader without the lock, and none can start on an old array */
        for (size_t i = 0; i < 64; i++) {
            free(sched->allg_old[i]);
            sched->allg_old[i] = NULL;
        }
        free(old);
    } else if (old != NULL) {
        for (size_t i = 0; i < 64; i++)
            if (sched->allg_old[i] == NULL) {
                sched->allg_old[i] = old; /* still readable */
                break;
            }
    }
    gort_unlock(&sched->allg_lock);
    if (dumping) return; /* the records too: the process is ending */
    while ((g = list) != NULL) {
        list = g->schedlink;
        tsan_fiber_destroy(g);
        free(g);
    }
    if (n >= 256) gort_os_heap_trim();
}

GORT_RUNTIME_TEXT static G *g_new(void) {
    G *g = calloc(1, sizeof *g);
    if (g == NULL) return NULL;
    gort_lock(&sched->allg_lock);
    if (sched->nallg == sched->capallg) {
        /* Grow by copying, and never free the old array: the SIGQUIT dump
         * reads the list without the lock (at most 2x the final size). */
        size_t cap = sched->capallg ? sched->capallg * 2 : 1024;
        G **a = malloc(cap * sizeof *a);
        if (a == NULL) {
            gort_unlock(&sched->allg_lock);
            free(g);
            return NULL;
        }
        if (sched->nallg != 0) memcpy(a, sched->allg, sched->nallg * sizeof *a);
        for (size_t i = 0; sched->allg != NULL && i < 64; i++)
            if (sched->allg_old[i] == NULL) {
                sched->allg_old[i] = sched->allg; /* doubling: 64 slots never fill */
                break;
            }
        gort_fence(memory_order_release);
        sched->allg = a;
        sched->capallg = cap;
    }
    sched->allg[sched->nallg++] = g;
    gort_unlock(&sched->allg_lock);
    gort_set_status(g, G_DEAD);
    return g;
}

GORT_RUNTIME_TEXT static uint64_t new_goid(P *p) {
    enum { BATCH = 16 };
    if (p == NULL) return atomic_fetch_add(&sched->goid_gen, 1) + 1;
    if (p->goid_next == p->goid_end) {
        p->goid_next = atomic_fetch_add(&sched->goid_gen, BATCH) + 1;
        p->goid_end = p->goid_next + BATCH;
    }
    return p->goid_next++;
}

GORT_RUNTIME_TEXT static G *goexit_m(M *m, G *g) {
    P *p = m->p;
    if (g->lockedm != NULL) { /* exits still locked: its thread ends too */
        g->lockedm = NULL;
        g->lockcount = 0;
        m->lockedg = NULL;
        m->exiting = true;
    }
    gort_set_status(g, G_DEAD);
    p_count(&p->n_exited);
    g->fn = NULL;
    g->arg = NULL;
    /* the name stays until the next spawn: a dump may be reading it */
    atomic_store_explicit(&g->m, NULL, memory_order_relaxed);
    gort_stack_put(p, g); /* to p's cache, hot for the next G to start */
    gfput(p, g);
    return NULL;
}

GORT_RUNTIME_TEXT static void g_main(void *arg) {
    G *g = arg;
    asan_arrive(NULL); /* a fresh stack: no fake stack to resume */
    switch_arrive();
    g->fn(g->arg);
    tsan_func_exit(); /* this frame never returns (nor does mcall's) */
    mcall(goexit_m);
    gort_fatal("gort: a dead goroutine was resumed");
}

GORT_RUNTIME_TEXT int gort_go_with(void (*fn)(void *), void *arg, const gort_go_attr *attr) {
    gort_preempt_check();
    size_t size;
    G *g;
    int err;

    if (fn == NULL) return -EINVAL;
    if (gort_forked()) return gort_forked_error();
    if (attr != NULL && attr->stack_size != 0 &&
        (attr->stack_size < GORT_STACK_MIN || attr->stack_size > GORT_STACK_MAX))
        return -EINVAL;
    gort_lazy_init();
    size = attr != NULL && attr->stack_size != 0 ? attr->stack_size : sched->stack_size;

    M *m = gort_getm();
    P *p = m != NULL ? m->p : NULL;
    g = gfget(p);
    if (g == NULL && (g = g_new()) == NULL) return -ENOMEM;
    /* A default stack is taken when the G first runs (g_start); here it
     * is only claimed, from the P's credit (a batch from stack.c at a
     * time), so that cannot fail then. */
    if (__builtin_expect(size == sched->stack_size && p != NULL && p->stack_credit > 0, 1)) {
        p->stack_credit--;
    } else if ((err = size != sched->stack_size ? gort_stack_map(g, size) : gort_stack_claim(p)) != 0) {
        gfput(p, g);
        return err;
    }
    g->fn = fn;
    g->arg = arg;
    g->name = attr != NULL ? attr->name : NULL;
    g->id = new_goid(p);
    g->saved_errno = 0;
    g->waitreason = NULL;
    atomic_store_explicit(&g->fresh, true, memory_order_relaxed);
    tsan_fiber_start(g);
    bool fence = false;
    /* release: a dump that sees the G alive reads its id, its name, its
     * entry and fresh */
    gort_set_status(g, G_RUNNABLE);
    if (p != NULL) {
        p_count(&p->n_spawned);
        fence = gort_runq_put(p, g, true);
    } else {
        atomic_fetch_add(&sched->thread_spawned, 1);
        gort_lock(&sched->lock);
        gort_globrunq_put(g);
        gort_unlock(&sched->lock);
    }
    gort_wakep_after(fence);
    /* Back-pressure: a goroutine spawning faster than its P runs what it
     * spawned yields once its P's ring is full, to the global queue (its
     * P takes it up again within 61 ticks, or an idle P at once).  The
     * queue stays short, so the new Gs' records are still in cache when
     * they run, instead of a million of them piling up cold (Go spills
     * half the ring to the global queue and goes on). */
    if (p != NULL && m->curg != NULL && m->locks == 0 && m->lockedg == NULL &&
        gort_runq_len(p) >= RUNQ_SIZE - 1)
        mcall(spawn_yield_m);
    return 0;
}

GORT_RUNTIME_TEXT int gort_go(void (*fn)(void *), void *arg) { return gort_go_with(fn, arg, NULL); }

GORT_RUNTIME_TEXT uint64_t gort_self(void) {
    G *g = gort_getg();
    return g != NULL ? g->id : 0;
}

/* ===================================================================== */
/* Finding work                                                           */
/* ===================================================================== */

/* How many more looks a spinning M takes at a P that cycles through the
 * Gs it readies before it parks (find_runnable). */
#define WATCH_LOOKS 16

GORT_RUNTIME_TEXT static void become_spinning(M *m) {
    m->spinning = true;
    atomic_fetch_add(&sched->nmspinning, 1);
}

/* A spinning M found work: stop spinning and let another M look. */
GORT_RUNTIME_TEXT static void reset_spinning(M *m) {
    m->spinning = false;
    m->watch_looks = 0;
    if (atomic_fetch_sub(&sched->nmspinning, 1) <= 0) gort_fatal("gort: negative nmspinning");
    gort_wakep();
}

/* Fire p's due timers (they ready goroutines onto this M's P). */
GORT_RUNTIME_TEXT static void check_timers(P *p) {
    if (atomic_load_explicit(&p->timers.next, memory_order_relaxed) != 0) gort_timers_run(p, gort_os_nanotime());
}

/* Steal from another P: 4 rounds over them in a random order, the last
 * also taking runnext and firing due timers.  *cycling: a victim is
 * cycling through the Gs it readies (gort_runq_steal). */
GORT_RUNTIME_TEXT static G *steal_work(M *m, P *p, bool *cycling) {
    int32_t nallp = atomic_load(&sched->nallp);
    for (int round = 0; round < 4; round++) {
        bool last = round == 3;
        uint32_t start = (uint32_t)(xorshift(&m->rand) % (uint64_t)nallp);
        for (int32_t i = 0; i < nallp; i++) {
            P *v = sched->allp[(start + (uint32_t)i) % (uint32_t)nallp];
            bool inherit;
            if (v == p) continue;
            if (last && atomic_load_explicit(&v->timers.next, memory_order_relaxed) != 0) {
                /* Fire the victim's due timers here: it may be idle. */
                gort_timers_run(v, gort_os_nanotime());
                G *g = gort_runq_get(p, &inherit);
                if (g != NULL) return g;
            }
            /* a running P beyond gort_maxprocs too: it may be blocked in a
             * foreign call, its queue waiting (it drains when it retires) */
            uint32_t vs = atomic_load_explicit(&v->status, memory_order_relaxed);
            if (vs != P_RUNNING && vs != P_SYSCALL) continue;
            G *g = gort_runq_steal(p, v, last, cycling);
            if (g != NULL) {
                p_count(&p->n_steals);
                return g;
            }
        }
    }
    return NULL;
}

/* p is beyond gort_maxprocs(): give it up and find another.  Decided
 * again under sched.lock, since the count may have grown back.  An M that
 * stops here must not stay counted as spinning, or wakep would never wake
 * anyone again. */
GORT_RUNTIME_TEXT static void retire_p(M *m) {
    P *p = m->p;
    gort_lock(&sched->lock);
    if (p->id < atomic_load(&sched->gomaxprocs)) {
        gort_unlock(&sched->lock);
        return;
    }
    bool queued = !gort_runq_empty(p);
    p_drain(p);
    releasep(m);
    atomic_store_explicit(&p->status, P_GONE, memory_order_relaxed);
    P *np = pidle_get();
    gort_unlock(&sched->lock);
    if (np != NULL) {
        acquirep(m, np);
        return;
    }
    /* Readiers that saw us spinning did not wake anyone: after dropping
     * the count, wake someone ourselves (as find_runnable's re-check does). */
    bool was_spinning = m->spinning;
    if (was_spinning) {
        m->spinning = false;
        atomic_fetch_sub(&sched->nmspinning, 1);
    }
    if (queued || was_spinning) gort_wakep(); /* queued: its Gs are global now */
    stopm(m);
}

/* Wake the sleeper M, whichever way it sleeps (sched.lock held). */
GORT_RUNTIME_TEXT static void poke_sleeper(void) {
    sched->timer_poked = true;
    gort_note_wakeup(&sched->timer_m->park);
    if (gort_netpoll_inited()) gort_os_poll_break();
}

/* Sleep until the earliest timer (deadline `until`) as the one timer
 * sleeper, then take an idle P to fire it; or, if another M already is
 * the sleeper, park. */
GORT_RUNTIME_TEXT static void timer_sleep(M *m, int64_t until) {
    gort_lock(&sched->lock);
    if (sched->timer_m != NULL) {
        bool poke = until < atomic_load(&sched->timer_until) && !sched->timer_poked;
        if (poke) poke_sleeper();
        gort_unlock(&sched->lock);
        stopm(m);
        return;
    }
    sched->timer_m = m;
    atomic_store(&sched->timer_until, until);
    gort_unlock(&sched->lock);
    /* Re-scan after publishing timer_until (see timer.c). */
    int64_t again = gort_timers_earliest();
    if (again != 0 && again < until) until = again;
    int64_t delay = until == INT64_MAX ? -1 : until - gort_os_nanotime();
    if (until != INT64_MAX && delay < 0) delay = 0; /* due already: just look */
    G *ready = NULL;
    if (gort_netpoll_inited()) {
        /* Sleep in the poller: descriptors wake us too.  A poke breaks it. */
        atomic_store(&sched->poll_blocked, delay != 0);
        ready = gort_netpoll(delay);
        atomic_store(&sched->poll_blocked, false);
    } else if (delay > 0) {
        gort_note_sleep_for(&m->park, delay);
    }
    gort_lock(&sched->lock);
    sched->timer_m = NULL;
    sched->timer_poked = false;
    atomic_store(&sched->timer_until, 0);
    gort_note_clear(&m->park); /* a poke may have set it; no one else can now */
    P *p = pidle_get();
    gort_unlock(&sched->lock);
    if (p != NULL) acquirep(m, p);
    gort_inject(ready); /* onto p; every P busy: the global queue */
    if (p == NULL) stopm(m);
}

GORT_RUNTIME_TEXT void gort_netpoll_started(void) {
    gort_lock(&sched->lock);
    if (sched->timer_m != NULL && !sched->timer_poked) poke_sleeper();
    gort_unlock(&sched->lock);
}

GORT_RUNTIME_TEXT void gort_inject(G *list) {
    while (list != NULL) {
        G *next = list->schedlink;
        gort_ready(list, false);
        list = next;
    }
}

GORT_RUNTIME_TEXT void gort_timers_notify(int64_t when) {
    int64_t until = atomic_load(&sched->timer_until);
    if (until == 0) {
        gort_wakep();
        return;
    }
    if (when >= until) return;
    gort_lock(&sched->lock);
    if (sched->timer_m != NULL && !sched->timer_poked && when < atomic_load(&sched->timer_until)) poke_sleeper();
    gort_unlock(&sched->lock);
}

/* Find a runnable G for m, which holds a P; blocks (parking m) until there
 * is one.  Returns with m holding a P. */
GORT_RUNTIME_TEXT static G *find_runnable(M *m, bool *inherit) {
    for (;;) {
        P *p = m->p;
        G *g;
        *inherit = false;
        if (p->id >= atomic_load_explicit(&sched->gomaxprocs, memory_order_relaxed)) {
            retire_p(m);
            continue;
        }
        check_timers(p);
        check_timers(sched->timerp);
        /* Fairness: the global queue first every 61st slice, unless a G
         * was just readied to run next (a woken sleeper): it runs first,
         * inheriting the slice, and the check happens right after. */
        if (atomic_load_explicit(&p->schedtick, memory_order_relaxed) % 61 == 0 &&
            atomic_load_explicit(&sched->runqsize, memory_order_relaxed) > 0 &&
            atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL) {
            gort_lock(&sched->lock);
            g = gort_globrunq_get(p, 1);
            gort_unlock(&sched->lock);
            if (g != NULL) return g;
        }
        if ((g = gort_runq_get(p, inherit)) != NULL) return g;
        if (atomic_load_explicit(&sched->runqsize, memory_order_relaxed) > 0) {
            gort_lock(&sched->lock);
            g = gort_globrunq_get(p, 0);
            gort_unlock(&sched->lock);
            if (g != NULL) return g;
        }
        /* Descriptors ready?  Unless the sleeper M is polling already. */
        if (gort_netpoll_waiting() && atomic_load(&sched->timer_until) == 0 && (g = gort_netpoll(0)) != NULL) {
            G *rest = g->schedlink;
            gort_set_status(g, G_RUNNABLE);
            gort_inject(rest);
            return g;
        }
        /* Steal, unless enough Ms are spinning already (half the busy Ps). */
        int32_t procs = atomic_load(&sched->gomaxprocs);
        if (m->spinning || 2 * atomic_load(&sched->nmspinning) < procs - atomic_load(&sched->npidle)) {
            if (!m->spinning) become_spinning(m);
            bool cycling = false;
            if ((g = steal_work(m, p, &cycling)) != NULL) return g;
            /* A P cycling through the Gs it readies (a ping-pong pair)
             * leaves us nothing, yet parking now would only have its next
             * gort_ready wake us again (a futex wake on its path, each
             * round trip).  Stay spinning, so its readies wake no one,
             * and look again, WATCH_LOOKS times, each after a 3 us sleep
             * (in runq_grab if the look saw a runnext, else here); then
             * park.  Linux's default timer slack stretches each sleep to
             * 50-80 us, a watch to about 1 ms; with less slack a watch is
             * shorter, and still costs at most WATCH_LOOKS wakeups of
             * this M per futex wake it spares. */
            if (cycling || m->watch_looks != 0) {
                if (++m->watch_looks <= WATCH_LOOKS) {
                    if (!cycling) gort_os_nanosleep(3000);
                    continue;
                }
            }
            m->watch_looks = 0;
        }

        /* Nothing: give up the P. */
        gort_lock(&sched->lock);
        if (atomic_load(&sched->runqsize) > 0) {
            g = gort_globrunq_get(p, 0);
            gort_unlock(&sched->lock);
            return g;
        }
        releasep(m);
        p_idle(p);
        gort_unlock(&sched->lock);

        if (m->spinning) {
            /* Drop spinning first, then re-check every queue: a G readied
             * meanwhile saw nmspinning > 0 and did not wake anyone. */
            m->spinning = false;
            atomic_fetch_sub(&sched->nmspinning, 1);
            bool work = atomic_load(&sched->runqsize) > 0;
            for (int32_t i = 0; !work && i < atomic_load(&sched->gomaxprocs); i++)
                work = !gort_runq_empty(sched->allp[i]);
            if (work) {
                gort_lock(&sched->lock);
                P *np = pidle_get();
                gort_unlock(&sched->lock);
                if (np != NULL) {
                    acquirep(m, np);
                    become_spinning(m);
                    continue;
                }
            }
        }
        int64_t until = gort_timers_earliest();
        if (until != 0)
            timer_sleep(m, until);
        else if (gort_netpoll_waiting())
            timer_sleep(m, INT64_MAX); /* no timer: poll until a descriptor is ready */
        else
            stopm(m);
    }
}

/* ---- locked threads ------------------------------------------------------ */

/* m's wired goroutine is not running: hand the P off and sleep until
 * startlockedm passes a P back with the goroutine ready (Go's
 * stoplockedm). */
GORT_RUNTIME_TEXT static void stoplockedm(M *m) {
    if (m->p != NULL) gort_handoffp(releasep(m));
    gort_note_sleep(&m->park);
    gort_note_clear(&m->park);
    acquirep(m, m->nextp);
    m->nextp = NULL;
}

/* g, dequeued by m, is wired to another M: give it m's P and wake it. */
GORT_RUNTIME_TEXT static void startlockedm(M *m, G *g) {
    M *lm = g->lockedm;
    lm->nextp = releasep(m);
    gort_note_wakeup(&lm->park);
    stopm(m);
}

GORT_RUNTIME_TEXT int gort_lock_os_thread(void) {
    M *m = gort_getm();
    G *g = m != NULL ? m->curg : NULL;
    if (g == NULL) return -EPERM;
    g->lockcount++;
    g->lockedm = m;
    m->lockedg = g;
    return 0;
}

GORT_RUNTIME_TEXT int gort_unlock_os_thread(void) {
    M *m = gort_getm();
    G *g = m != NULL ? m->curg : NULL;
    if (g == NULL || g->lockcount == 0) return -EPERM;
    if (--g->lockcount == 0) {
        g->lockedm = NULL;
        m->lockedg = NULL;
    }
    return 0;
}

/* Run goroutines until m's thread must end (m->exiting). */
GORT_RUNTIME_TEXT static void schedule_loop(M *m) {
    while (!m->exiting) {
        bool inherit;
        if (m->lockedg != NULL) { /* wired: run nothing else */
            stoplockedm(m);
            run(m, m->lockedg, false);
            continue;
        }
        G *g = find_runnable(m, &inherit);
        if (m->spinning) reset_spinning(m);
        if (g->lockedm != NULL && g->lockedm != m) {
            startlockedm(m, g);
            continue;
        }
        run(m, g, inherit);
    }
}

/* m's wired goroutine exited without unlocking (goexit_m): whatever it
 * changed in the thread (its thread-locals, its signal mask) must not
 * reach other goroutines, so the thread ends, as in Go; its P goes to
 * another M and its record to sched.mdead for the next newm. */
GORT_RUNTIME_TEXT static void mexit(M *m) {
    gort_handoffp(releasep(m));
    /* Dead before looking at sched.dumping (seq_cst both, as dump_begin
     * stores dumping and then reads dead): a dump either skips m or is
     * waited out, so it never signals a thread that is gone. */
    atomic_store(&m->dead, true);
    while (atomic_load(&sched->dumping)) gort_os_nanosleep(50 * 1000);
    gort_os_runsignal_free(&m->runsignal); /* no late timer signal without an alt stack */
    gort_lock(&sched->probe_lock);
    gort_os_probe_close(&m->probe);
    gort_unlock(&sched->probe_lock);
    gort_os_sigaltstack_free();
    tls_m = NULL;
    gort_lock(&sched->lock);
    m->schedlink = sched->mdead;
    sched->mdead = m; /* from here on m may be reused: not touched again */
    atomic_fetch_add(&sched->nmdead, 1);
    gort_unlock(&sched->lock);
}

GORT_RUNTIME_TEXT static void *mstart(void *arg) {
    M *m = arg;
    gort_os_thread_signals_default(); /* not its creator's mask */
    tls_m = m;
    m->errno_at = &errno;
    m->tid = gort_os_thread_id();
    m->thread = gort_os_thread_self();
    m->tsan_fiber = tsan_fiber_current();
    gort_os_thread_stack(&m->g0_lo, &m->g0_size);
    if (gort_os_sigaltstack_alloc((size_t)64 << 10) != 0)
        gort_fatal("gort: cannot allocate a signal stack for a new thread");
    gort_os_runsignal_init(&m->runsignal); /* failing (valid false), its signals are sent at once */
    gort_lock(&sched->probe_lock); /* also orders the record's making before any look at it */
    gort_os_probe_open(&m->probe); /* failing, sysmon cannot see foreign calls on this M */
    gort_unlock(&sched->probe_lock);
    /* allm is a push-only list (a dead M's record is reused, not
     * unlinked).  Published only now, with its thread known and a signal
     * stack: a dump signals every live M on it (the CAS, or clearing dead,
     * releases m->thread to the dumper). */
    if (atomic_load(&m->dead)) {
        atomic_store(&m->dead, false);
    } else {
        m->alllink = atomic_load(&sched->allm);
        while (!atomic_compare_exchange_weak(&sched->allm, &m->alllink, m)) {
        }
    }
    acquirep(m, m->nextp);
    m->nextp = NULL;
    schedule_loop(m);
    mexit(m);
    return NULL;
}

/* ===================================================================== */
/* Start-up, maxprocs                                                     */
/* ===================================================================== */

GORT_RUNTIME_TEXT static P *p_new(int32_t id) {
    P *p = calloc(1, sizeof *p);
    if (p == NULL) gort_fatal("gort: out of memory creating a P");
    p->id = id;
    atomic_store_explicit(&p->status, P_GONE, memory_order_relaxed);
    return p;
}

/* Make Ps [old, n) usable; sched.lock held. */
GORT_RUNTIME_TEXT static void procs_grow(int32_t old, int32_t n) {
    for (int32_t i = old; i < n; i++) {
        P *p = sched->allp[i];
        if (p == NULL) {
            p = sched->allp[i] = p_new(i);
            atomic_store(&sched->nallp, i + 1);
        }
        if (atomic_load_explicit(&p->status, memory_order_relaxed) == P_GONE) pidle_put(p);
    }
}

/* Retire idle Ps at or beyond n; sched.lock held.  Running ones retire
 * themselves at their next schedule. */
GORT_RUNTIME_TEXT static void procs_shrink(int32_t n) {
    P **link = &sched->pidle;
    while (*link != NULL) {
        P *p = *link;
        if (p->id < n) {
            link = &p->link;
            continue;
        }
        *link = p->link;
        atomic_fetch_sub(&sched->npidle, 1);
        p_drain(p);
        atomic_store_explicit(&p->status, P_GONE, memory_order_relaxed);
    }
}

static gort_config init_cfg;

GORT_RUNTIME_TEXT static int cfg_check(const gort_config *cfg) {
    if (cfg->maxprocs < 0 || cfg->maxprocs > GORT_MAXPROCS_LIMIT) return -EINVAL;
    if (cfg->stack_size != 0 && (cfg->stack_size < GORT_STACK_MIN || cfg->stack_size > GORT_STACK_MAX))
        return -EINVAL;
    return 0;
}

GORT_RUNTIME_TEXT static void rt_start(const gort_config *user) {
    gort_config cfg = {0, 0};
    size_t page = gort_os_pagesize();
    int err;

    gort_env_parse(&cfg);
    if (user != NULL) {
        if (user->maxprocs > 0) cfg.maxprocs = user->maxprocs;
        if (user->stack_size > 0) cfg.stack_size = user->stack_size;
    }
    if (cfg.maxprocs <= 0) cfg.maxprocs = gort_os_ncpu();
    if (cfg.maxprocs > GORT_MAXPROCS_LIMIT) cfg.maxprocs = GORT_MAXPROCS_LIMIT;
    if (cfg.stack_size == 0) cfg.stack_size = (size_t)64 << 10;
    init_cfg = cfg;
    sched->stack_size = (cfg.stack_size + page - 1) & ~(page - 1);
    atomic_store(&sched->clock, gort_os_nanotime());
    gort_os_text_init();
    gort_os_traceback_init();
    gort_arch_preempt_init();
    if ((err = gort_os_signals_install()) != 0) gort_fatal("gort: cannot install signal handlers");
    if (gort_os_atfork(forked_child) != 0) gort_fatal("gort: cannot register a fork handler");
    sched->timerp = p_new(-1); /* never on a list, never held */
    gort_lock(&sched->lock);
    procs_grow(0, cfg.maxprocs);
    sched->procs_set = cfg.maxprocs;
    atomic_store(&sched->gomaxprocs, cfg.maxprocs);
    gort_unlock(&sched->lock);
    gort_sysmon_start();
}

GORT_RUNTIME_TEXT static int start_once(const gort_config *cfg) {
    int st = atomic_load_explicit(&init_state, memory_order_acquire);
    if (st == 2) return 1;
    int zero = 0;
    if (atomic_compare_exchange_strong(&init_state, &zero, 1)) {
        rt_start(cfg);
        atomic_store_explicit(&init_state, 2, memory_order_release);
        return 0;
    }
    while (atomic_load_explicit(&init_state, memory_order_acquire) != 2) gort_os_thread_yield();
    return 1;
}

GORT_RUNTIME_TEXT void gort_lazy_init(void) {
    if (atomic_load_explicit(&init_state, memory_order_acquire) != 2) start_once(NULL);
}

GORT_RUNTIME_TEXT int gort_init(const gort_config *cfg) {
    if (cfg != NULL) {
        int err = cfg_check(cfg);
        if (err != 0) return err;
    }
    if (gort_forked()) return gort_forked_error();
    if (start_once(cfg) == 0 || cfg == NULL) return 0;
    /* Already running: fine if cfg asks for nothing different. */
    if ((cfg->maxprocs != 0 && cfg->maxprocs != init_cfg.maxprocs) ||
        (cfg->stack_size != 0 && cfg->stack_size != init_cfg.stack_size))
        return -EBUSY;
    return 0;
}

/* Ps in use: the program's count plus those lent (at most the limit: a
 * count the limit cuts stays counted, so every unlend has its lend);
 * sched.lock held. */
GORT_RUNTIME_TEXT static void procs_resize(int32_t set, int32_t lent) {
    int32_t old = atomic_load(&sched->gomaxprocs), n = set + lent;
    if (n > GORT_MAXPROCS_LIMIT) n = GORT_MAXPROCS_LIMIT;
    sched->procs_set = set;
    sched->procs_lent = lent;
    if (n > old)
        procs_grow(old, n);
    else if (n < old)
        procs_shrink(n);
    atomic_store(&sched->gomaxprocs, n);
}

GORT_RUNTIME_TEXT int gort_maxprocs(int n) {
    if (n > GORT_MAXPROCS_LIMIT) return -EINVAL;
    if (gort_forked()) return gort_forked_error();
    gort_lazy_init();
    gort_lock(&sched->lock);
    int32_t old = sched->procs_set;
    if (n > 0 && n != old) procs_resize(n, sched->procs_lent);
    gort_unlock(&sched->lock);
    if (n > old) gort_wakep();
    return old;
}

/* A goroutine's thread is blocked in a foreign call, its P with it: one
 * more P is in use until gort_procs_unlend (sysmon; preempt.c).  false if
 * every P there may be is in use. */
GORT_RUNTIME_TEXT bool gort_procs_lend(void) {
    gort_lock(&sched->lock);
    bool ok = sched->procs_set + sched->procs_lent < GORT_MAXPROCS_LIMIT;
    if (ok) procs_resize(sched->procs_set, sched->procs_lent + 1);
    gort_unlock(&sched->lock);
    if (ok) gort_wakep(); /* someone to take the blocked P's work */
    return ok;
}

/* The thread came back: the highest P retires (at once if idle, else at
 * its next schedule). */
GORT_RUNTIME_TEXT void gort_procs_unlend(void) {
    gort_lock(&sched->lock);
    if (sched->procs_lent > 0) procs_resize(sched->procs_set, sched->procs_lent - 1);
    gort_unlock(&sched->lock);
}

GORT_RUNTIME_TEXT int64_t gort_now(void) { return gort_os_nanotime(); }

/* ===================================================================== */
/* gort_main, sleep                                                       */
/* ===================================================================== */

struct main_call {
    void (*fn)(void *);
    void *arg;
    bool thread; /* called from a plain thread */
    _Atomic uint32_t done;
};

/* The goroutine uncounts its gort_main itself, before waking the caller:
 * a caller woken but not yet running must not look deadlocked to sysmon. */
GORT_RUNTIME_TEXT static void main_trampoline(void *arg) {
    struct main_call *c = arg;
    c->fn(c->arg);
    if (c->thread) atomic_fetch_sub(&sched->mains_thread, 1);
    atomic_fetch_sub(&sched->mains, 1);
    gort_semrelease(&c->done); /* last touch of *c */
}

GORT_RUNTIME_TEXT int gort_main(void (*fn)(void *), void *arg) {
    struct main_call c = {fn, arg, gort_getg() == NULL, 0};
    gort_go_attr attr = {0, "main"};
    int err;

    if (fn == NULL) return -EINVAL;
    if (gort_forked()) return gort_forked_error();
    atomic_fetch_add(&sched->mains, 1);
    if (c.thread) atomic_fetch_add(&sched->mains_thread, 1);
    if ((err = gort_go_with(main_trampoline, &c, &attr)) != 0) {
        if (c.thread) atomic_fetch_sub(&sched->mains_thread, 1);
        atomic_fetch_sub(&sched->mains, 1);
        return err;
    }
    /* sysmon may have gone to sleep for good while the goroutine ran and
     * parked before we were counted: let it look again. */
    gort_sysmon_wake();
    gort_semacquire(&c.done, "gort_main");
    return 0;
}

GORT_RUNTIME_TEXT static void sleep_wake(void *arg, int64_t now) {
    (void)now;
    gort_ready(arg, true); /* as Go's goready: run next on this P */
}

/* On g0: arm the timer only now that the G is parked, so it cannot be
 * readied while still running. */
GORT_RUNTIME_TEXT static bool sleep_commit(G *g, void *arg) {
    (void)g;
    gort_timer_add(gort_getm()->p, arg);
    return true;
}

/* No preemption check: a sleep gives up the P anyway, and a goroutine
 * woken by its timer runs next inheriting a slice that sysmon may be
 * about to end — checking here sent it to the back of the global queue,
 * behind every spinner (a full slice late). */
GORT_RUNTIME_TEXT int gort_sleep(int64_t ns) {
    G *g = gort_getg();
    if (gort_forked()) return gort_forked_error();
    if (g == NULL) {
        if (ns > 0) {
            gort_thread_known();
            gort_os_nanosleep(ns);
        }
        return 0;
    }
    if (ns <= 0) {
        gort_yield();
        return 0;
    }
    gort_tnode t = {.when = gort_deadline(ns), .f = sleep_wake, .arg = g, .idx = -1};
    gort_park(sleep_commit, &t, "sleep");
    return 0;
}

/* ===================================================================== */
/* Signals: stack overflow                                                */
/* ===================================================================== */

GORT_RUNTIME_TEXT void gort_sig_fault(int sig, void *addr, gort_sigctx *ctx) {
    (void)sig;
    M *m = tls_m;
    if (m != NULL && m->curg != NULL) gort_stack_fault(m->curg, addr, ctx);
}

/* ===================================================================== */
/* Introspection                                                          */
/* ===================================================================== */

GORT_RUNTIME_TEXT void gort_stats_get(gort_stats *out) {
    uint64_t spawned = atomic_load(&sched->thread_spawned), exited = 0;
    if (out == NULL) return;
    memset(out, 0, sizeof *out);
    int32_t n = atomic_load(&sched->nallp);
    for (int32_t i = 0; i < n; i++) {
        P *p = sched->allp[i];
        spawned += atomic_load_explicit(&p->n_spawned, memory_order_relaxed);
        exited += atomic_load_explicit(&p->n_exited, memory_order_relaxed);
        out->switches += atomic_load_explicit(&p->n_switches, memory_order_relaxed);
        out->steals += atomic_load_explicit(&p->n_steals, memory_order_relaxed);
        out->parks += atomic_load_explicit(&p->n_parks, memory_order_relaxed);
        out->preemptions += atomic_load_explicit(&p->n_preemptions, memory_order_relaxed);
    }
    out->spawned = spawned;
    out->goroutines = spawned >= exited ? spawned - exited : 0;
    out->threads = (uint64_t)(atomic_load(&sched->mcount) - atomic_load(&sched->nmdead));
    out->procs = (uint64_t)(atomic_load(&init_state) == 2 ? sched->procs_set : 0);
}

