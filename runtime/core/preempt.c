/*
 * preempt.c — sysmon and preemption: no goroutine keeps a P for long.
 *
 * sysmon is a thread of its own, without a P, as in Go (proc.go sysmon).
 * It wakes when the next thing it watches is due — the end of a running
 * time slice, a timer on a busy P, a system call to retake — at least
 * every 1 ms while a P runs (10 ms otherwise) and at most every 20 us, and
 * sleeps without a deadline while every P is idle (the first P
 * to leave the idle list wakes it: gort_sysmon_wake; sysmon_idle).  Each
 * wake it, one function a job, as Go's sysmon:
 *   - stamps gort_clock(), the coarse time the dump uses;
 *   - checkdead: reports a deadlock once nothing has changed for 100 ms;
 *   - retake: hands off a P stuck in a system call (retake_syscall), and
 *     asks the goroutine on any P whose time slice (schedtick) has lasted
 *     10 ms, or 1 ms while the P's timers are late, to yield
 *     (preempt_slice, preempt_one) — unless its thread is blocked in a
 *     foreign call: then it lends a P instead (foreign_look, below);
 *   - check_timers: fires the timers no P owns (sched.timerp), and wakes
 *     an M when a timer is late and a P is idle;
 *   - poll_stale: polls descriptors nobody has polled for 10 ms;
 *   - prints the schedtrace line when GORT_DEBUG=schedtrace=MS.
 *
 * A request is p->preempt_tick = the slice number + 1: it names one slice,
 * so it can never stop the next goroutine by mistake.  Two ways honour it:
 *   Cooperative: every runtime entry calls gort_preempt_check().
 *   Asynchronous (Go 1.14's design): SIGURG to the M running the P.  The
 *     handler (gort_sig_preempt) stops the goroutine only at a safe point:
 *     it is running user code — the pc is outside the runtime (gort_text,
 *     text.h) and outside libc, the loader and the vdso (os.h
 *     gort_os_pc_is_user), because their code may hold locks (malloc) or
 *     this M's P in registers —, the M holds no runtime lock, and the
 *     goroutine's stack has room below sp for the trampoline's frame.  Then
 *     the arch layer injects a call to the trampoline (arch.h), which saves
 *     every register and calls gort_async_preempt_park().  If the point is
 *     not safe, nothing happens and sysmon asks again 1 ms later.
 * A preempted goroutine goes to the global run queue, behind everything.
 *
 * Rejected: a timer signal per M (setitimer) — it fires whether or not
 * anyone waits, and costs every M a signal each tick; preempting inside
 * libc — malloc's locks make it a deadlock.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/core/runtime.h"
#include "runtime/core/tsan.h"
#include "runtime/valgrind.h"

enum {
    SLICE_NS = 10 * 1000 * 1000,    /* a goroutine's time slice (Go: forcePreemptNS) */
    SYSMON_MIN_NS = 20 * 1000,      /* sysmon's shortest and longest sleeps */
    SYSMON_MAX_NS = 10 * 1000 * 1000,
    RESIGNAL_NS = 1000 * 1000,      /* ask an unsafe point again after this */
    RETAKE_NS = 20 * 1000,          /* a system call this long loses its P */
    POLL_STALE_NS = 10 * 1000 * 1000, /* poll if nobody has for this long */
    TIMER_LATE_NS = 100 * 1000,     /* a timer this late on a busy P preempts it, */
    LATE_SLICE_NS = 200 * 1000,     /* once its goroutine has run this long     */
    DEADLOCK_GRACE_NS = 100 * 1000 * 1000, /* asleep this long, unchanged: deadlock */
    LOOK_NS = 1000 * 1000,          /* work waits this long behind a goroutine: is it in a foreign call? */
};

static gort_sched *const sched = &gort_sched_g;

/* sysmon's view of each P (only sysmon touches it). */
static struct sysmon_p {
    uint32_t tick;     /* the slice it saw running ...            */
    int64_t since;     /* ... since then (0: P not running)       */
    int64_t signalled; /* when it last sent the P's M a signal    */
    int64_t resignal;  /* and how long until it may send again    */
    uint32_t syscalltick; /* the system call it saw ...           */
    int64_t syscallwhen;  /* ... since then (0: none)             */
    M *blocked_m;         /* this slice's M blocks now and then: signal it only once it runs */
    int64_t looked, look_every; /* the last look before the slice's end, and how often */
    M *looked_m;                /* the M the last look saw ...                     */
    gort_os_thread looked_thread;
    bool unseen;                /* that look was the first at its thread, running  */
    uint64_t looked_waits;      /* ... and the times its thread had blocked then   */
    bool lent;            /* a P is lent while it is (foreign_look) */
    bool warned;          /* blockwarn has reported this block      */
} sysmon_ps[GORT_MAXPROCS_LIMIT];

GORT_RUNTIME_TEXT static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Ask the goroutine running slice `tick` on p to yield; signal its M
 * unless signals are off: at once, or (when_running) only once its thread
 * runs, so a system call it is blocked in never sees EINTR. */
GORT_RUNTIME_TEXT static void request(P *p, uint32_t tick, bool signal, bool when_running) {
    atomic_store_explicit(&p->preempt_tick, tick + 1, memory_order_relaxed);
    if (!signal || gort_debug_g.asyncpreemptoff) return;
    M *m = atomic_load_explicit(&p->m, memory_order_acquire);
    if (m == NULL) return;
    gort_os_signal_preempt_reclaim();
    if (when_running && atomic_load_explicit(&m->runsignal.valid, memory_order_acquire)) {
        gort_os_signal_preempt_running(m->thread, &m->runsignal); /* known by its sender: not counted */
        return;
    }
    atomic_fetch_add_explicit(&m->preempt_sigs, 1, memory_order_relaxed);
    gort_os_signal_preempt(m->thread);
}

/* ---- foreign calls --------------------------------------------------------
 * A goroutine past its slice whose thread is blocked in the kernel is in a
 * foreign call: C code blocking without telling gort (a pipe read, a DNS
 * lookup, usleep).  Its M keeps its P: the thread may return at any
 * instant and go on using it, and taking the P from under it would cost
 * every runtime entry a fence.  sysmon lends a P instead — one more in use
 * (gort_procs_lend) — and Ms that find nothing else to do steal the
 * blocked P's run queue and fire its timers, as they do any busy P's.
 * sysmon looks when the slice ends (10 ms), or from LOOK_NS on while
 * work waits for the P (its run queue, the global queue, a due timer).
 * When the thread runs again (the P's slice ends, or the thread is seen
 * running) the P is given back (gort_procs_unlend: the highest P retires,
 * at its next schedule).  A thread seen blocked in this slice is only
 * ever signalled once it runs (request's when_running).  Looks follow the
 * signal backoff (preempt_one): at most one per P per RESIGNAL_NS, and
 * one per SLICE_NS while the call goes on.  The thread is blocked in the
 * kernel, or about to be, outside any runtime lock: so the M is never
 * touched, and a wrong guess costs only a P lent for a while. */

/* Is something waiting for p: its run queue, the global one, a due timer? */
GORT_RUNTIME_TEXT static bool work_waits(P *p, int64_t now) {
    int64_t timer = atomic_load_explicit(&p->timers.next, memory_order_relaxed);
    return !gort_runq_empty(p) || atomic_load_explicit(&sched->runqsize, memory_order_relaxed) > 0 ||
           (timer != 0 && timer <= now);
}

/* The block seen on p (if any) is over. */
GORT_RUNTIME_TEXT static void foreign_end(struct sysmon_p *s) {
    if (s->blocked_m != NULL) atomic_store_explicit(&s->blocked_m->foreign_since, 0, memory_order_relaxed);
    if (s->lent) gort_procs_unlend();
    s->blocked_m = NULL;
    s->lent = false;
    s->warned = false;
}

/* Every P idle: any P lent is given back (sysmon is about to sleep). */
GORT_RUNTIME_TEXT static void foreign_end_all(void) {
    for (int32_t i = 0; i < atomic_load(&sched->nallp); i++) foreign_end(&sysmon_ps[i]);
}

/* Is m, running p's slice past its end, blocked in the kernel?  If not,
 * and it has blocked since sysmon last looked at it (or that is not
 * known), mark the slice: its thread makes blocking calls now and then,
 * and a signal sent at once could land in one. */
GORT_RUNTIME_TEXT static bool foreign_look(M *m, struct sysmon_p *s, int64_t now) {
    gort_os_thread_state ts;
    /* Under valgrind threads run one at a time, and under ThreadSanitizer
     * its runtime waits on locks of its own inside every goroutine switch:
     * a thread waiting for either looks blocked in the kernel, so nothing
     * can be told (and a P lent then would run a second goroutine beside
     * one that never left its own code).  During a dump every M waits in
     * gort_dump_wait, holding its P: not a foreign call either. */
    if (m == NULL || vg_running() || GORT_TSAN_ON || atomic_load(&sched->dumping) || atomic_load(&m->dump_waiting))
        return false;
    gort_lock(&sched->probe_lock);
    int err = gort_os_thread_state_get(&m->probe, &ts);
    gort_os_thread thread = m->probe.thread;
    gort_unlock(&sched->probe_lock);
    if (err != 0) return false;
    if (s->blocked_m != NULL && s->blocked_m != m) foreign_end(s); /* another M now: that block is over */
    bool seen = ts.waits_known && s->looked_m == m && s->looked_thread == thread;
    bool steady = seen && ts.waits == s->looked_waits;
    s->unseen = !seen && ts.waits_known && !ts.blocked;
    s->looked_m = ts.waits_known ? m : NULL;
    s->looked_thread = thread; /* a dead M's record may carry a new thread */
    s->looked_waits = ts.waits;
    if (!ts.blocked) { /* it runs: any call is over (the slice keeps its mark) */
        if (!steady && seen) s->blocked_m = m;
        if (s->lent) gort_procs_unlend();
        s->lent = false;
        s->warned = false;
        atomic_store_explicit(&m->foreign_since, 0, memory_order_relaxed);
        return false;
    }
    s->blocked_m = m;
    int64_t since = atomic_load_explicit(&m->foreign_since, memory_order_relaxed);
    if (since == 0) atomic_store_explicit(&m->foreign_since, since = now, memory_order_relaxed);
    if (!s->lent) s->lent = gort_procs_lend();
    int64_t warn_ns = (int64_t)gort_debug_g.blockwarn * 1000000;
    if (warn_ns > 0 && !s->warned && now - since >= warn_ns) {
        s->warned = true;
        gort_blockwarn(m, now - since);
    }
    return true;
}

/* sysmon's request.  Signals back off, from RESIGNAL_NS doubling to
 * SLICE_NS, while the same slice goes on: a goroutine blocked in a system
 * call (not wrapped in gort_syscall_enter/exit) would otherwise see
 * EINTR from poll, nanosleep and friends a thousand times a second. */
GORT_RUNTIME_TEXT static void preempt_one(P *p, uint32_t tick, int64_t now, struct sysmon_p *s) {
    bool signal = now - s->signalled >= s->resignal;
    if (signal) {
        s->signalled = now;
        s->resignal = s->resignal < RESIGNAL_NS ? RESIGNAL_NS : s->resignal * 2;
        if (s->resignal > SLICE_NS) s->resignal = SLICE_NS;
        M *m = atomic_load_explicit(&p->m, memory_order_acquire);
        foreign_look(m, s, now); /* blocked: the signal waits for it to run (request) */
        /* A thread never looked at before, running: whether it blocks now
         * and then is not known yet.  Ask without a signal; the next look,
         * RESIGNAL_NS on, knows.  (The timer's signal is not sent: it would
         * come late, perhaps to a handler the program installed meanwhile.) */
        if (s->unseen) signal = false;
        s->unseen = false;
    }
    request(p, tick, signal, s->blocked_m != NULL);
}

/* Deadlock, as Go's checkdead: a gort_main is waiting, no P runs, nothing
 * is runnable, no timer is pending, no goroutine waits on a descriptor or
 * is in a system call, and no plain thread the runtime knows of (one that
 * has blocked in it and is alive) exists but gort_main's callers.  A
 * thread that has never called into gort is invisible: a program whose
 * goroutines wait only for such a thread sets GORT_DEBUG=deadlock=0. */
GORT_RUNTIME_TEXT static bool deadlocked(void) {
    if (!gort_debug_g.deadlock || atomic_load(&sched->mains) == 0) return false;
    if (atomic_load(&sched->runqsize) > 0 || gort_timers_earliest() != 0 || gort_netpoll_waiting() ||
        atomic_load(&sched->nsyscall) > 0 || gort_os_thread_notes() > atomic_load(&sched->mains_thread) ||
        gort_signal_waiting())
        return false;
    for (int32_t i = 0; i < atomic_load(&sched->nallp); i++) {
        P *p = sched->allp[i];
        uint32_t st = atomic_load_explicit(&p->status, memory_order_relaxed);
        if (st == P_RUNNING || st == P_SYSCALL || !gort_runq_empty(p)) return false;
    }
    return true;
}

/* Something that changes whenever anything runs. */
GORT_RUNTIME_TEXT static uint64_t progress(void) {
    gort_stats st;
    gort_stats_get(&st);
    return st.switches + st.spawned + st.parks + (uint64_t)atomic_load(&sched->mains) +
           (uint64_t)gort_os_thread_notes();
}

/* Is any P running or in a system call? */
GORT_RUNTIME_TEXT static bool any_busy(void) {
    for (int32_t i = 0; i < atomic_load(&sched->nallp); i++) {
        uint32_t st = atomic_load_explicit(&sched->allp[i]->status, memory_order_relaxed);
        if (st == P_RUNNING || st == P_SYSCALL) return true;
    }
    return false;
}

GORT_RUNTIME_TEXT void gort_preempt_all(void) {
    int32_t procs = atomic_load(&sched->gomaxprocs);
    for (int32_t i = 0; i < procs; i++) {
        P *p = sched->allp[i];
        if (p != NULL && atomic_load_explicit(&p->status, memory_order_relaxed) == P_RUNNING)
            request(p, atomic_load_explicit(&p->schedtick, memory_order_relaxed), true, false);
    }
}

GORT_RUNTIME_TEXT static void schedtrace(int64_t now, int64_t start) {
    char line[512];
    int32_t procs = atomic_load(&sched->gomaxprocs);
    gort_lock(&sched->lock); /* nmidle is not atomic */
    int32_t nmidle = sched->nmidle;
    gort_unlock(&sched->lock);
    int n = snprintf(line, sizeof line,
                     "gort: sched %lldms: procs=%d idleprocs=%d threads=%d spinning=%d idlethreads=%d runqueue=%d [",
                     (long long)((now - start) / 1000000), procs, atomic_load(&sched->npidle),
                     atomic_load(&sched->mcount) - atomic_load(&sched->nmdead), atomic_load(&sched->nmspinning), nmidle,
                     atomic_load(&sched->runqsize));
    uint64_t preemptions = 0;
    for (int32_t i = 0; i < atomic_load(&sched->nallp) && n > 0 && (size_t)n < sizeof line; i++) {
        P *p = sched->allp[i];
        preemptions += atomic_load_explicit(&p->n_preemptions, memory_order_relaxed);
        if (i < procs) n += snprintf(line + n, sizeof line - (size_t)n, i ? " %u" : "%u", gort_runq_len(p));
    }
    if (n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "] preemptions=%llu\n", (unsigned long long)preemptions);
    if (n > 0) gort_os_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Every sleep of sysmon's: until the note is set, or ns (< 0: no limit);
 * true if woken.  A SIGQUIT handler hands its report over through the note
 * (gort_sig_quit): malloc is safe here, not there. */
GORT_RUNTIME_TEXT static bool sysmon_sleep(int64_t ns) {
    bool woken = true;
    if (ns < 0) ns = gort_stack_scavenge_wait(gort_os_nanotime()); /* idle: wake for a scavenger pass (stack.c) */
    if (ns < 0)
        gort_note_sleep(&sched->sysmon_note);
    else
        woken = gort_note_sleep_for(&sched->sysmon_note, ns);
    gort_note_clear(&sched->sysmon_note);
    if (atomic_load(&sched->quit_pending)) gort_quit_report();
    return woken;
}

/* sysmon stops waiting for a P to be acquired (under sched.lock, as
 * acquirep reads the flag: see gort_sysmon_wake). */
GORT_RUNTIME_TEXT static void sysmon_wait_clear(void) {
    gort_lock(&sched->lock);
    atomic_store(&sched->sysmon_wait, false);
    gort_unlock(&sched->lock);
}

/* Go's checkdead, by time: deadlocked() with nothing at all changing
 * (progress()) for DEADLOCK_GRACE_NS ends the process (a thread may be
 * about to call in, so one look is not enough).  Called at every wake. */
static struct {
    int64_t since;     /* when it was first seen asleep, 0: not asleep */
    uint64_t progress; /* progress() then */
} asleep;

GORT_RUNTIME_TEXT static void checkdead(int64_t now) {
    if (!deadlocked()) {
        asleep.since = 0;
        return;
    }
    uint64_t p = progress();
    if (asleep.since == 0 || p != asleep.progress) { /* (again) asleep from now */
        asleep.since = now;
        asleep.progress = p;
    } else if (now - asleep.since >= DEADLOCK_GRACE_NS) {
        gort_deadlock_exit();
    }
}

/* Nothing runs: sleep until a P leaves the idle list (gort_sysmon_wake);
 * timers of idle Ps have their own sleeper (proc.c timer_sleep).  While a
 * gort_main waits, wake after DEADLOCK_GRACE_NS anyway, for checkdead: a
 * deadlock may complete without any P being acquired.  false if a P
 * turned busy before sysmon could sleep. */
GORT_RUNTIME_TEXT static bool sysmon_idle(void) {
    gort_lock(&sched->lock);
    atomic_store(&sched->sysmon_wait, true); /* then look: see acquirep */
    bool idle = !any_busy();
    if (!idle) atomic_store(&sched->sysmon_wait, false);
    gort_unlock(&sched->lock);
    if (!idle) return false;
    bool watch = gort_debug_g.deadlock && atomic_load(&sched->mains) > 0;
    if (!sysmon_sleep(watch ? DEADLOCK_GRACE_NS : -1)) sysmon_wait_clear(); /* timed out: still set */
    return true;
}

/* A P in a system call seen on two wakes at least RETAKE_NS apart loses
 * it (Go's retake): handed to another M.  Returns when to look again. */
GORT_RUNTIME_TEXT static int64_t retake_syscall(P *p, struct sysmon_p *s, int64_t now, int64_t next) {
    uint32_t stick = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
    if (stick != s->syscalltick || s->syscallwhen == 0) {
        s->syscalltick = stick;
        s->syscallwhen = now;
        return min64(next, now + RETAKE_NS);
    }
    if (now - s->syscallwhen >= RETAKE_NS) {
        uint32_t sys = P_SYSCALL;
        if (atomic_compare_exchange_strong(&p->status, &sys, P_IDLE)) gort_handoffp(p);
        /* the M it went to (if any) is not running it yet: watch it as a
         * running P, or the next system call on it waits a whole sleep */
        return min64(next, now + RESIGNAL_NS);
    }
    return min64(next, s->syscallwhen + RETAKE_NS);
}

/* A running P's time slice: ended after SLICE_NS (at once for a P beyond
 * gort_maxprocs, which retires at its next schedule), or early when one
 * of its timers is late.  Returns when to look again. */
GORT_RUNTIME_TEXT static int64_t preempt_slice(P *p, struct sysmon_p *s, bool retiring, int64_t now, int64_t next) {
    uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
    if (tick != s->tick || s->since == 0) {
        foreign_end(s);
        s->tick = tick;
        s->since = now;
        s->resignal = 0;
        s->look_every = LOOK_NS;
    }
    int64_t end = retiring ? now : s->since + SLICE_NS;
    /* A timer may be added to this P at any moment (nobody tells
     * sysmon): look again within RESIGNAL_NS while it runs. */
    next = min64(next, now + RESIGNAL_NS);
    int64_t timer = atomic_load_explicit(&p->timers.next, memory_order_relaxed);
    /* when it is late; a timer that never fires (INT64_MAX) never is */
    int64_t timer_late = timer > INT64_MAX - TIMER_LATE_NS ? INT64_MAX : timer + TIMER_LATE_NS;
    /* A late timer ends the slice early, but not before it has run
     * LATE_SLICE_NS: every preemption is a chance for code that caches a
     * thread-local address (errno's) to move threads. */
    int64_t started = atomic_load_explicit(&p->slice_start, memory_order_relaxed);
    bool late = timer != 0 && timer_late <= now && now - started >= LATE_SLICE_NS;
    if (now >= end || late) {
        preempt_one(p, tick, now, s);
        return min64(next, now + RESIGNAL_NS);
    }
    /* Work waits behind a goroutine that has run LOOK_NS: if its thread is
     * blocked in a foreign call, lend a P now rather than at the slice's
     * end.  Looks back off (LOOK_NS doubling) while it is seen running. */
    if (now - s->since >= s->look_every && now - s->looked >= s->look_every && work_waits(p, now)) {
        M *m = atomic_load_explicit(&p->m, memory_order_acquire);
        s->looked = now;
        if (!foreign_look(m, s, now)) s->look_every *= 2;
    }
    next = min64(next, end);
    if (timer != 0) next = min64(next, timer_late > started + LATE_SLICE_NS ? timer_late : started + LATE_SLICE_NS);
    return next;
}

/* Every P: retake system calls, end long time slices. */
GORT_RUNTIME_TEXT static int64_t retake(int64_t now, int64_t next) {
    int32_t procs = atomic_load(&sched->gomaxprocs), nallp = atomic_load(&sched->nallp);
    for (int32_t i = 0; i < nallp; i++) {
        P *p = sched->allp[i];
        struct sysmon_p *s = &sysmon_ps[i];
        uint32_t status = atomic_load_explicit(&p->status, memory_order_acquire);
        if (status != P_SYSCALL) s->syscallwhen = 0;
        if (status != P_RUNNING) {
            s->since = 0;
            foreign_end(s);
        }
        if (status == P_SYSCALL)
            next = retake_syscall(p, s, now, next);
        else if (status == P_RUNNING)
            next = preempt_slice(p, s, i >= procs, now, next);
    }
    return next;
}

/* Timers: fire those no P owns (timer.c), so a P held by a goroutine that
 * never yields cannot hold them up; and a late timer with an idle P wakes
 * an M, which fires it (it steals the timers of busy Ps too, in its last
 * stealing round). */
GORT_RUNTIME_TEXT static int64_t check_timers(int64_t now, int64_t next) {
    gort_timers_run(sched->timerp, now);
    int64_t free_next = atomic_load_explicit(&sched->timerp->timers.next, memory_order_relaxed);
    if (free_next != 0) next = min64(next, free_next);
    int64_t timer = gort_timers_earliest();
    if (timer != 0 && timer <= now - TIMER_LATE_NS && atomic_load(&sched->npidle) > 0 &&
        atomic_load(&sched->nmspinning) == 0)
        gort_wakep();
    return next;
}

/* Descriptors nobody has polled for a while (every P busy): poll them
 * here; sysmon has no P, so their goroutines go to the global queue. */
GORT_RUNTIME_TEXT static int64_t poll_stale(int64_t now, int64_t next) {
    if (!gort_netpoll_waiting()) return next;
    if (!atomic_load(&sched->poll_blocked) && now - gort_netpoll_last() > POLL_STALE_NS) gort_inject(gort_netpoll(0));
    return min64(next, gort_netpoll_last() + POLL_STALE_NS);
}

GORT_RUNTIME_TEXT static void *sysmon(void *arg) {
    int64_t start = gort_os_nanotime(), last_trace = start, delay = SYSMON_MIN_NS;
    int64_t trace_ns = (int64_t)gort_debug_g.schedtrace * 1000000;
    (void)arg;

    atomic_store(&sched->sysmon_tid, gort_os_thread_id());
    for (;;) {
        sysmon_sleep(delay);
        int64_t now = gort_os_nanotime();
        atomic_store_explicit(&sched->clock, now, memory_order_relaxed);
        checkdead(now);
        gort_stack_scavenge(now); /* free stacks' pages back to the OS, when a pass is due (stack.c) */
        bool busy = any_busy();
        if (!busy) foreign_end_all(); /* nothing runs: no call goes on either */
        /* schedtrace keeps sysmon awake */
        if (trace_ns == 0 && !busy && sysmon_idle()) {
            delay = SYSMON_MIN_NS;
            continue;
        }
        /* Nothing seen busy (the last P went idle): look again soon, and
         * then sleep in sysmon_idle, which a P leaving the idle list wakes
         * — a timed sleep here would not be woken, and a system call begun
         * meanwhile would keep its P until it ended.  (schedtrace's sleeps
         * are its own.) */
        int64_t next = retake(now, busy || trace_ns > 0 ? now + SYSMON_MAX_NS : now);
        next = check_timers(now, next);
        next = poll_stale(now, next);
        if (trace_ns > 0) {
            if (now - last_trace >= trace_ns) {
                schedtrace(now, start);
                last_trace = now;
            }
            next = min64(next, last_trace + trace_ns);
        }
        delay = next - now;
        if (delay < SYSMON_MIN_NS) delay = SYSMON_MIN_NS;
        if (delay > SYSMON_MAX_NS) delay = SYSMON_MAX_NS;
    }
    return NULL;
}

GORT_RUNTIME_TEXT void gort_sysmon_start(void) {
    gort_note_init(&sched->sysmon_note);
    int err = gort_os_thread_start(sysmon, NULL);
    if (err != 0) gort_fatal("gort: cannot start sysmon");
    atomic_store(&sched->sysmon_started, true);
}

GORT_RUNTIME_TEXT void gort_sysmon_wake(void) {
    gort_lock(&sched->lock);
    bool waiting = atomic_load(&sched->sysmon_wait);
    atomic_store(&sched->sysmon_wait, false);
    gort_unlock(&sched->lock);
    if (waiting) gort_note_wakeup(&sched->sysmon_note); /* once per sleep */
}

/* ---- cooperative ---------------------------------------------------------- */

/* gort_preempt_check is in proc.c, beside gort_preempt_park. */

/* ---- asynchronous --------------------------------------------------------- */

/* May the goroutine g, interrupted at c, stop here? (the design note) */
GORT_RUNTIME_TEXT static bool async_safe_point(M *m, G *g, gort_sigctx *c) {
    if (gort_debug_g.asyncpreemptoff || m->locks != 0) return false;
    if (m->p == NULL || !gort_preempt_wanted(m->p)) return false;
    if (atomic_load_explicit(&g->status, memory_order_relaxed) != G_RUNNING) return false;
    if (!gort_os_pc_is_user(gort_sigctx_pc(c))) return false;
    uintptr_t sp = gort_sigctx_sp(c), lo = (uintptr_t)g->stack_lo;
    /* Stubs and compiler helpers that runtime code calls would count as
     * user code: the runtime uses none (-fno-plt, -mno-outline-atomics, no
     * libgcc helpers: //tests:text_section_test; darwin's stub sections
     * are excluded by the OS layer). */
    return sp <= lo + g->stack_size && sp >= lo + gort_arch_preempt_room();
}

/* Is this SIGURG the runtime's?  The run-signal timer's always; else one
 * of the signals sysmon sent this M (each handled one of ours counts one
 * down; signals that arrive together merge, which only makes us count
 * fewer), or the arm64 trampoline's.  A signal from elsewhere (kill(2) to
 * the process) is the program's and counts nothing down: it may arrive
 * while one of ours is still pending, and that one comes next. */
GORT_RUNTIME_TEXT bool gort_sig_preempt_claim(int sender) {
    M *m = gort_getm();
    if (m == NULL) return false; /* not an M: the program's signal */
    if (sender == GORT_SIG_OURS) return true;
    if (sender != GORT_SIG_SELF) return false;
    if (m->curg != NULL && m->curg->resume_frame != NULL) return true;
    uint32_t n = atomic_load_explicit(&m->preempt_sigs, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(&m->preempt_sigs, &n, n - 1)) {
    }
    return n > 0;
}

GORT_RUNTIME_TEXT void gort_sig_preempt(gort_sigctx *c) {
    M *m = gort_getm();
    if (m != NULL) gort_traceback_answer(m, c); /* a dump may have asked too */
    G *g = m != NULL ? m->curg : NULL;
    if (g == NULL) return;
    if (g->resume_frame != NULL) { /* arm64: the trampoline asks to be restored */
        if (gort_arch_preempt_resume(c, g->resume_frame)) {
            gort_sigctx_set_sigmask(c, &m->resume_mask);
            g->resume_frame = NULL;
        }
        return;
    }
    if (async_safe_point(m, g, c)) gort_arch_preempt_inject(c);
}

/* The trampoline, on the goroutine's stack, with every register saved in
 * frame.  C code may hold errno's address in a register between
 * instructions (returned by __errno_location, not yet loaded or stored
 * through; or kept across a loop): resumed on another thread, that would
 * be the first thread's errno.  So a saved register equal to this thread's
 * errno address is moved to the new thread's (an address, not a value:
 * nothing else equals it).  Other thread-locals are not moved
 * (docs/goroutines.md "A goroutine changes threads"). */
GORT_RUNTIME_TEXT void gort_async_preempt_park(void *frame) {
    uintptr_t before = (uintptr_t)gort_getm()->errno_at;
    gort_preempt_park();
    uintptr_t after = (uintptr_t)gort_getm()->errno_at; /* another thread's, perhaps */
    if (after != before) gort_arch_preempt_relocate(frame, before, after);
}

/* The arm64 trampoline is about to raise SIGURG at itself: make sure our
 * handler is the one installed, and that no other handler can run first
 * (it would see a half-restored context); the handler restores the mask. */
GORT_RUNTIME_TEXT void gort_async_preempt_resuming(void *frame) {
    M *m = gort_getm();
    gort_os_signal_preempt_reclaim();
    gort_os_signal_preempt_only(&m->resume_mask);
    m->curg->resume_frame = frame;
}
