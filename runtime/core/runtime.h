/*
 * runtime.h — the core's internal types and entry points (not public).
 *
 * The G/M/P model, as in Go:
 *   G  a goroutine: a stack and a saved context.
 *   M  an OS thread.  Its own thread stack is "g0": the scheduler loop runs
 *      there, and a goroutine switches to it (mcall) to park, yield or exit.
 *   P  a processor: the right to run goroutines, with a local run queue,
 *      a timer heap and caches.  An M must hold a P to run a G; there are
 *      gort_maxprocs() Ps.
 *
 * Rules every file in core/ follows (runtime/HACKING.md has the long form):
 *   - The current M is read with gort_getm(), never cached across a call
 *     that may park: the goroutine may resume on another M.
 *   - A runtime lock (gort_lock) is never held across a park, except that
 *     gort_park's unlock function releases one on the same M's g0.
 *   - Code on g0 never parks; it may ready goroutines.
 */
#ifndef GORT_CORE_RUNTIME_H
#define GORT_CORE_RUNTIME_H

#include "runtime/atomic.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/arch/arch.h"
#include "runtime/gort.h"
#include "runtime/os/os.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A function the compiler neither inlines nor analyses across (gcc's
 * noipa): the TLS accessors, so a caller re-reads TLS after every call
 * that may have moved it to another thread (HACKING.md, hazard 5); and
 * code whose reads must stay inside it (traceback.c's stack scan). */
#if defined(__GNUC__) && !defined(__clang__)
#define GORT_NOIPA __attribute__((noinline, noipa))
#else
#define GORT_NOIPA __attribute__((noinline))
#endif

typedef struct G G;
typedef struct M M;
typedef struct P P;

/* ---- goroutine status: who owns the G and its stack ------------------ */
enum {
    G_DEAD,     /* a record on a free list (or just allocated): no stack, no
                   context; owned by the free list's holder.  Zero, so a
                   record the dump finds before its first spawn is skipped */
    G_RUNNABLE, /* on a run queue, not running: owned by whoever dequeues it.
                   Spawned and not yet run: `fresh`, no stack or context   */
    G_RUNNING,  /* executing on g->m: owns its stack; only it changes status   */
    G_WAITING,  /* parked: the object it waits on (sema root, timer) owns the
                   wakeup, and the waker makes it runnable with gort_ready     */
    G_SYSCALL,  /* between gort_syscall_enter and _exit: runs on g->m, which
                   has no P; only it changes status                           */
};

/* ---- P status -------------------------------------------------------- */
enum {
    P_IDLE,    /* on the idle list; no M; empty run queue                      */
    P_RUNNING, /* owned by p->m, which alone changes it                        */
    P_GONE,    /* beyond gort_maxprocs(): unused until the count grows again   */
    P_SYSCALL, /* its M is in a system call (m->oldp): sysmon may retake it
                  (CAS to P_IDLE and hand it off), or the M takes it back
                  (CAS to P_RUNNING) on gort_syscall_exit                     */
};

/* ---- timers: per-P 4-ary heaps (timer.c) ------------------------------ */
typedef struct gort_tnode gort_tnode;
struct gort_tnode {
    int64_t when;                      /* fire at this gort_now()             */
    int64_t period;                    /* > 0: fire again every period ns     */
    void (*f)(void *arg, int64_t now); /* runs on some M's g0; must not park  */
    void *arg;
    int32_t idx; /* position in the owner's heap; -1 when not in a heap       */
    _Atomic(P *) owner; /* whose heap holds it (changes under its locks)     */
    /* sync timers: timers_run counts running callbacks, so the owner of t
     * can delete it and then wait until no callback touches it
     * (gort_timer_del_sync).  Others (sleep) must not be touched after f. */
    bool sync;
    _Atomic(uint32_t) running;
    /* a periodic sync timer's firings, in order: each takes a ticket under
     * the heap lock and calls f only when fired_done reaches it, so two
     * Ms firing consecutive periods never call f out of order */
    uint32_t fire_ticket;
    _Atomic(uint32_t) fired_done;
};

typedef struct gort_timers {
    gort_os_lock lock;
    gort_tnode **heap;
    int32_t n, cap;
    _Atomic(int64_t) next; /* when of heap[0]; 0: empty.  Read without lock. */
} gort_timers;

/* ---- stacks (stack.c) ---------------------------------------------------- */
/* A default-size stack: a slab slot, carved once and kept for life.  A G
 * takes one when it first runs and gives it back when it exits, so
 * goroutines queued but not yet started cost no stack (stack.c). */
typedef struct gort_stack gort_stack;
struct gort_stack { /* 40 bytes: one per slot ever carved, for life */
    void *lo;               /* [lo, lo + size) is usable                   */
    const uint64_t *canary; /* word an overflow clobbers first; NULL: guard */
    gort_stack *next;       /* free lists                                  */
    uint32_t size;          /* the default size, at most GORT_STACK_MAX    */
    unsigned vg_id;         /* valgrind's id (runtime/valgrind.h)          */
    /* slab.lock: since which scavenger pass it has been on the global
     * free list (stack.c); on it; its pages given back to the OS; the page
     * holding canary given back (rewrite it when taken) */
    uint32_t freed_pass;
    bool global, released, canary_stale;
};

/* ---- G ---------------------------------------------------------------- */
struct G {
    gort_ctx ctx; /* saved context while not running (offset 0)            */
    /* A store that stops the G (G_WAITING, G_RUNNABLE, and the spawn's) is
     * a release: the dump reads a stopped G's context and stack without a
     * lock, after an acquire load of the status (traceback.c). */
    _Atomic(uint32_t) status;
    uint64_t id;
    void (*fn)(void *);
    void *arg;
    const char *name;
    _Atomic(M *) m; /* the M running it (G_RUNNING only); relaxed: the dump
                       reads it while the G starts or exits              */
    G *schedlink; /* global run queue / free lists                          */
    int saved_errno;
    /* Not started yet: no context (and, for a default size, no stack)
     * until the M that first runs it prepares them (proc.c g_start).
     * Cleared with a release store: the dump reads the context after an
     * acquire load of it. */
    _Atomic(bool) fresh;
    /* stack: [stack_lo, stack_lo + stack_size) is usable while the G is
     * started and not dead; the fields are copied from slot, or describe
     * the G's own mapping */
    void *stack_lo;
    size_t stack_size;
    const uint64_t *canary; /* word an overflow clobbers first; NULL: guard */
    unsigned vg_stack; /* valgrind's id for the stack (runtime/valgrind.h)    */
    gort_stack *slot;  /* the default-size stack it holds, else NULL         */
    void *stack_map;   /* own mapping (non-default size), else NULL          */
    size_t stack_map_size;
    /* for the dump: why it waits, and since when it has been in its
     * status (gort_clock; gort_stamp: the dump reads it while the G is
     * readied, parked or started) */
    const char *waitreason;
    _Atomic(int64_t) since;
    /* arm64 async preemption: the trampoline's frame while it asks the
     * signal handler to restore it (arch.h) */
    void *resume_frame;
    /* gort_lock_os_thread: the M it is wired to, and the nesting count */
    M *lockedm;
    int32_t lockcount;
    void *asan_fake; /* ASan's fake-stack handle while switched away (asan.h) */
    void *tsan_fiber; /* TSan's fiber, kept with the G (tsan.h)                 */
    bool reaped;      /* being freed by gort_gfree_trim (allg_lock)            */
};

/* ---- M ---------------------------------------------------------------- */
#define GORT_TRACEBACK_MAX 64 /* frames per goroutine in a dump */
struct M {
    gort_ctx g0ctx; /* the scheduler loop, saved while a G runs            */
    int64_t id;
    uint64_t tid; /* kernel thread id                                       */
    G *curg;      /* the G running on this M; NULL while on g0              */
    int *errno_at; /* this thread's errno: a switch saves and restores it   */
    P *p;         /* the P held, or NULL                                    */
    P *nextp;     /* P handed over by startm before waking this M           */
    P *oldp;      /* the P it had before gort_syscall_enter                  */
    G *lockedg;   /* the goroutine wired to this M (gort_lock_os_thread)     */
    void *g0_lo;  /* the thread's own stack (g0), for ASan                  */
    size_t g0_size;
    void *asan_fake;
    void *tsan_fiber; /* TSan's fiber for g0: the thread's own (tsan.h)    */
    bool spinning; /* looking for work without any (counted in nmspinning) */
    bool exiting;  /* its wired goroutine exited locked: the thread ends   */
    /* the thread has ended (mexit): on sched.mdead for newm to reuse;
     * the dump skips it.  Cleared by mstart once the new thread is known. */
    _Atomic(bool) dead;
    int watch_looks; /* spinning, looks taken at a cycling P (find_runnable) */
    int locks;    /* runtime locks held: no async preemption while > 0      */
    gort_os_thread thread;          /* where preemption signals go          */
    gort_os_sigset resume_mask;     /* arm64 async preemption (preempt.c)   */
    _Atomic(uint32_t) preempt_sigs; /* signals sent, not yet handled        */
    gort_os_runsignal runsignal;    /* a signal that waits for it to run    */
    /* sysmon saw the thread blocked in the kernel, running its goroutine's
     * own code (a foreign call), first at this time; 0: not (preempt.c) */
    _Atomic(int64_t) foreign_since;
    gort_os_probe probe;   /* how sysmon and the dump see its thread (sched.probe_lock) */
    gort_note park; /* where an idle M sleeps                                */
    M *schedlink;   /* idle M list                                          */
    uint64_t rand;  /* xorshift state for steal order and select            */
    /* set by a G before it switches to g0; read there (mcall) */
    G *(*after_switch)(M *m, G *g);
    bool (*waitunlockf)(G *g, void *arg);
    void *waitarg;
    G *handoff_from; /* a G that swapped straight to curg: its after_switch
                        runs on curg's stack on arrival (proc.c mcall) */
    /* the goroutine dump (traceback.c) */
    M *alllink;                 /* next in sched.allm                     */
    _Atomic(bool) in_switch;    /* between Gs: leaving one, or entering one */
    _Atomic(bool) dump_waiting; /* ... and waits for the dump to end       */
    _Atomic(uint32_t) traceback_want, traceback_done; /* dump epoch asked, answered */
    bool traceback_in_switch; /* the answer: caught in_switch, not waiting   */
    bool traceback_blocked;   /* the answer: given for it, blocked in the kernel */
    G *traceback_g;           /* the answer: the goroutine unwound (or NULL) */
    int traceback_n;
    uintptr_t traceback_pcs[GORT_TRACEBACK_MAX];
};

/* ---- P ---------------------------------------------------------------- */
#define RUNQ_SIZE 256
struct P {
    int32_t id;
    _Atomic(uint32_t) status;
    _Atomic(M *) m; /* the M holding it (P_RUNNING); sysmon reads it      */
    P *link;  /* idle list                                                  */
    /* time slices started (a runnext G inherits the slice: no tick); the
     * global queue is checked every 61st.  Written by the owner only. */
    _Atomic(uint32_t) schedtick;
    _Atomic(int64_t) slice_start; /* gort_clock() when the slice began     */
    /* sysmon's request to end the slice numbered preempt_tick - 1 (0: no
     * request): the running G yields at its next runtime entry, or at once
     * by signal (preempt.c). */
    _Atomic(uint32_t) preempt_tick;
    /* system calls entered on this P, so sysmon can tell one long call
     * from several short ones */
    _Atomic(uint32_t) syscalltick;
    /* local run queue: a ring written by the owner (tail) and consumed by
     * the owner and thieves (head, with CAS), plus runnext: the G readied
     * last by this P's G, run next, inheriting the time slice. */
    _Atomic(uint32_t) runqhead;
    _Atomic(uint32_t) runqtail;
    _Atomic(G *) runq[RUNQ_SIZE];
    _Atomic(G *) runnext;
    /* dead G records (without stacks), for reuse */
    G *gfree;
    int32_t gfree_n;
    /* free default-size stacks, most recently used first (stack.c) */
    gort_stack *stacks;
    int32_t nstacks;
    /* default stacks claimed from stack.c's count and not yet promised to
     * a spawned G (gort_stack_claim), taken and given back in batches */
    int32_t stack_credit;
    /* goroutine ids, taken from the global counter in batches */
    uint64_t goid_next, goid_end;
    gort_timers timers;
    /* counters; written by the owner only, summed by gort_stats_get */
    _Atomic(uint64_t) n_spawned, n_exited, n_switches, n_steals, n_parks, n_preemptions;
};

/* ---- the scheduler's global state (proc.c) ---------------------------- */
typedef struct gort_sched {
    gort_os_lock lock; /* guards everything below not marked atomic        */
    G *runq_head, *runq_tail; /* global run queue                          */
    _Atomic(int32_t) runqsize;
    P *pidle; /* idle Ps */
    _Atomic(int32_t) npidle;
    _Atomic(int32_t) nmspinning;
    M *midle; /* idle Ms */
    int32_t nmidle;
    _Atomic(int32_t) mcount; /* M records ever made ...                   */
    M *mdead;                /* ... of which these have no thread (mexit) */
    _Atomic(int32_t) nmdead;
    _Atomic(int32_t) gomaxprocs; /* Ps in use: allp[0..gomaxprocs) ...       */
    _Atomic(int32_t) procs_set;  /* ... the program's gort_maxprocs ...      */
    int32_t procs_lent;          /* ... plus Ps lent for foreign calls       */
    /* held while an M's probe is read or closed: a look never reads a
     * descriptor mexit closes (and the program may be reusing) */
    gort_os_lock probe_lock;
    _Atomic(int32_t) nallp;      /* Ps ever created (some may be P_GONE)     */
    P *allp[GORT_MAXPROCS_LIMIT];
    /* The timers no running P owns: those of callers without a P (plain
     * threads, a goroutine between gort_syscall_enter/exit) and of retired
     * Ps.  No M holds it; every M looking for work fires it, and so does
     * sysmon, so they fire whatever any P is doing (timer.c). */
    P *timerp;
    /* the M sleeping until the earliest timer (one at most) */
    M *timer_m;
    _Atomic(int64_t) timer_until; /* its deadline; 0 when there is none      */
    bool timer_poked;
    _Atomic(bool) poll_blocked; /* the sleeper is blocked in the poller      */
    /* dead Gs beyond the per-P caches */
    gort_os_lock gfree_lock;
    _Atomic(G *) gfree; /* relaxed: also peeked at without the lock     */
    _Atomic(int32_t) gfree_n; /* relaxed: sysmon peeks (gort_gfree_excess) */
    int32_t gfree_low; /* fewest on it since the last trim (gort_gfree_trim) */
    /* every G ever allocated, for the dump */
    gort_os_lock allg_lock;
    G **allg;
    size_t nallg, capallg;
    G **allg_old[64]; /* outgrown arrays, kept for the lock-free dump reader */
    _Atomic(uint64_t) goid_gen;
    /* sysmon (preempt.c) */
    gort_note sysmon_note;     /* where it sleeps                           */
    _Atomic(bool) sysmon_wait; /* parked until a P is acquired (set under
                                  sched.lock; read by acquirep after a fence) */
    _Atomic(int64_t) clock;    /* gort_os_nanotime() at its last wake-up    */
    /* deadlock detection (preempt.c) */
    _Atomic(int32_t) mains;        /* gort_main calls in progress           */
    _Atomic(int32_t) mains_thread; /* ... of which made by plain threads    */
    _Atomic(int32_t) nsyscall;     /* goroutines in gort_syscall_enter/exit */
    _Atomic(uint64_t) thread_spawned; /* Gs spawned by threads without a P */
    size_t stack_size; /* default goroutine stack */
    /* the goroutine dump (traceback.c) */
    _Atomic(M *) allm;           /* every M record ever made (dead ones too) */
    _Atomic(uint32_t) dumping;   /* set: no M switches to a goroutine       */
    _Atomic(uint32_t) dump_epoch;
    _Atomic(bool) sysmon_started;  /* its thread was created ...            */
    _Atomic(uint64_t) sysmon_tid;  /* ... and runs: its thread id            */
    _Atomic(bool) quit_pending;    /* SIGQUIT: sysmon is to print and exit   */
    _Atomic(bool) quit_taken;      /* ... and has started                    */
    _Atomic(bool) quit_abort;      /* ... and then abort(), not exit 2       */
    _Atomic(M *) quit_m;           /* the M that took it (answered already)  */
} gort_sched;

extern gort_sched gort_sched_g;

/* In the child of a fork() (without exec): only the forking thread was
 * copied, so every M, sysmon and every goroutine on another thread is
 * gone, and so may be the holder of any runtime lock.  Calls that would
 * wait, or need another thread, fail instead (gort_forked_error). */
extern _Atomic(bool) gort_forked_g;
GORT_RUNTIME_TEXT static inline bool gort_forked(void) {
    return atomic_load_explicit(&gort_forked_g, memory_order_relaxed);
}
/* -ENOTRECOVERABLE, after saying why on stderr (once). */
int gort_forked_error(void);

/* ---- debug settings (env.c) ------------------------------------------- */
typedef struct gort_debug {
    int stackguard;       /* 0: canary-check every stack instead of guard pages */
    int asyncpreemptoff;  /* 1: preempt only at runtime entries, no signals      */
    int schedtrace;       /* > 0: print scheduler state every this many ms       */
    int deadlock;         /* 0: never report "all goroutines are asleep"         */
    int blockwarn;        /* > 0: report a foreign call blocked this many ms    */
} gort_debug;
extern gort_debug gort_debug_g;
/* Parse GORT_MAXPROCS / GORT_STACK_SIZE / GORT_DEBUG into cfg/gort_debug_g. */
void gort_env_parse(gort_config *cfg);

/* gort_now() + ns, saturating: a huge timeout means "never", not a
 * deadline in the past. */
GORT_RUNTIME_TEXT static inline int64_t gort_deadline(int64_t ns) {
    int64_t now = gort_os_nanotime();
    return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* ---- proc.c ------------------------------------------------------------- */
/* The calling thread's M, or NULL on a plain thread.  Not inlined, so a
 * compiler cannot keep an old thread's TLS address across a switch. */
M *gort_getm(void);
/* The running goroutine, or NULL on g0 or a plain thread. */
G *gort_getg(void);
void gort_lazy_init(void);
/* Runtime locks: count in m->locks (no async preemption while held). */
void gort_lock(gort_os_lock *l);
void gort_unlock(gort_os_lock *l);
/* A spin lock, for critical sections of a few dozen instructions that
 * never sleep (channels): unlocking is a plain release store, where the
 * runtime lock's must be an atomic exchange (to see sleepers to wake).  A
 * waiter spins, then yields its thread.  Zero is unlocked; counted in
 * m->locks like the runtime lock. */
typedef struct gort_spinlock {
    _Atomic(uint32_t) held;
} gort_spinlock;
void gort_spin_lock(gort_spinlock *l);
void gort_spin_unlock(gort_spinlock *l);
/* The wait after the i-th failed try of a spin-wait for another thread
 * (a lock holder, a writer about to publish): a pause for the first
 * `spins` tries, then the thread yields, in case the OS descheduled the
 * one being waited for. */
GORT_RUNTIME_TEXT static inline void gort_spin_wait(int i, int spins) {
    if (i < spins)
        gort_cpu_relax();
    else
        gort_os_thread_yield();
}
/* Park the running goroutine.  On g0, after the G is marked waiting,
 * unlockf(g, arg) runs (if non-NULL); if it returns false the G resumes at
 * once.  reason is shown by gort_dump. */
void gort_park(bool (*unlockf)(G *g, void *arg), void *arg, const char *reason);
/* Make a waiting G runnable.  next: run it next on this P (runnext). */
void gort_ready(G *g, bool next);
/* Give p (owned by the caller, which is not running it) to an M if there
 * is work for it, else to the idle list (Go's handoffp). */
void gort_handoffp(P *p);
/* Make g runnable on the global queue; sched.lock held, no P needed. */
void gort_ready_locked(G *g);

/* Someone blocked in the runtime: a parked goroutine, or a plain thread
 * sleeping on its note.  Every wait queue (semaphores, channels, select,
 * cond) holds these, so goroutines and threads mix freely. */
typedef struct gort_sleeper {
    G *g;            /* the goroutine, or NULL: a thread */
    gort_note *note; /* the thread's note                */
} gort_sleeper;
/* A plain thread is about to wait inside the runtime (sleeping, polling
 * a descriptor): from now on, for as long as it lives, deadlock detection
 * counts it as one that may still wake goroutines (it takes the thread's
 * note, which gort_os_thread_notes counts). */
void gort_thread_known(void);
/* Describe the caller (goroutine or thread). */
void gort_sleeper_init(gort_sleeper *s);
/* Block the caller: unlockf(g, arg) releases whatever protects the queue
 * s was put on (for a goroutine on g0, after it parked); if it returns
 * false the caller does not block.  Returns when gort_unblock(s) ran. */
void gort_block(gort_sleeper *s, bool (*unlockf)(G *g, void *arg), void *arg, const char *reason);
/* Wake s; the last touch of s (it may be on the woken caller's stack). */
void gort_unblock(gort_sleeper *s);
void gort_wakep(void);
/* gort_wakep after publishing a G: with a store-load fence first when the
 * publication was a plain release store (fenced: gort_runq_put's result). */
void gort_wakep_after(bool fenced);
/* Run fn(arg) on the M's g0 stack (Go's systemstack); fn must not park. */
void gort_systemstack(void (*fn)(void *), void *arg);
uint64_t gort_fastrand(void);
GORT_NORETURN void gort_fatal(const char *msg);
/* The cooperative preemption point, at every runtime entry: if sysmon
 * asked the running goroutine's time slice to end, yield to the others. */
void gort_preempt_check(void);
/* Park the running G as preempted: runnable, on the global queue. */
void gort_preempt_park(void);
/* Called after a timer for `when` was added: wake whoever must fire it
 * (timer.c explains the protocol). */
void gort_timers_notify(int64_t when);
/* First call of every fatal report (traceback.c): returns only to the
 * first thread in the process to call it, after giving back the address
 * space gort_crash_reserve kept for the report; any other thread waits
 * for that report to end the process; the same thread again (a fatal
 * error inside its own report) aborts at once, printing nothing. */
void gort_fatal_begin(void);
/* Keep some address space aside for a fatal report's symbolizer, so a
 * report for running out of memory can still be printed (stack.c calls
 * it once, before the first slab). */
void gort_crash_reserve(void);

/* A coarse clock (sysmon's last reading of gort_os_nanotime, at most
 * ~10 ms old while any P runs) for stamping G status changes cheaply. */
GORT_RUNTIME_TEXT static inline int64_t gort_clock(void) {
    return atomic_load_explicit(&gort_sched_g.clock, memory_order_relaxed);
}
/* g's status becomes st (the G_* enum says who may change it).  Every
 * status change goes through here; the one ordering rule: every status
 * but dead is a release store, since the dump reads after an acquire load
 * of the status what it published: a stopped G's (runnable, waiting)
 * context and stack, saved before; a running or syscall G's g->m, set
 * before, and through it that M's record (its answer, its blocked flag).
 * Dead is relaxed: a dead G is not read at all.  (st is a constant at
 * every call: the order folds; on amd64 a release store is a plain one.) */
GORT_RUNTIME_TEXT static inline void gort_set_status(G *g, uint32_t st) {
    atomic_store_explicit(&g->status, st, st == G_DEAD ? memory_order_relaxed : memory_order_release);
}
/* g changes status now (for the dump: how long it has been so). */
GORT_RUNTIME_TEXT static inline void gort_stamp(G *g) {
    atomic_store_explicit(&g->since, gort_clock(), memory_order_relaxed);
}

/* ---- preempt.c ---------------------------------------------------------- */
/* Start sysmon (once, at start-up). */
void gort_sysmon_start(void);
/* A P was acquired: wake sysmon if it sleeps for want of work. */
void gort_sysmon_wake(void);
/* Ask every running goroutine to yield now, as sysmon does when a time
 * slice ends (for tests and benchmarks that need many preemptions). */
void gort_preempt_all(void);
/* Foreign calls (proc.c): one P more in use, or one less. */
bool gort_procs_lend(void);
void gort_procs_unlend(void);
/* Does sysmon want p's current time slice to end? */
GORT_RUNTIME_TEXT static inline bool gort_preempt_wanted(P *p) {
    uint32_t req = atomic_load_explicit(&p->preempt_tick, memory_order_relaxed);
    return req != 0 && req - 1 == atomic_load_explicit(&p->schedtick, memory_order_relaxed);
}

/* ---- traceback.c ----------------------------------------------------------- */
/* Print the deadlock message and every goroutine, exit 2. */
GORT_NORETURN void gort_deadlock_exit(void);
/* In m's SIGURG (or SIGQUIT) handler: answer a dump's request to unwind
 * the goroutine interrupted at c. */
void gort_traceback_answer(M *m, gort_sigctx *c);
/* GORT_DEBUG=blockwarn's line about the goroutine in a foreign call on m. */
void gort_blockwarn(M *m, int64_t ns);
/* run(): wait, before switching to a goroutine, until a dump ends. */
void gort_dump_wait(M *m);
/* sysmon, asked by gort_crash_dump: print the report and end the process. */
GORT_NORETURN void gort_quit_report(void);
/* After a fatal error's one line (gort_fatal, a stack overflow) and for
 * SIGQUIT: every goroutine with its traceback on stderr, then abort() (or
 * exit 2).  ctx: the signal context when called from a handler. */
GORT_NORETURN void gort_crash_dump(gort_sigctx *ctx, bool abort_after);

/* ---- chan.c ------------------------------------------------------------- */
size_t gort_chan_elem_size(const gort_chan *c);
/* Is a goroutine or thread queued on c (blocked, or about to unlink
 * itself)?  Then c must not be freed. */
bool gort_chan_has_waiters(gort_chan *c);

/* ---- sigqueue.c --------------------------------------------------------- */
/* Is a signal registered for delivery (gort_signal_notify)?  Then a
 * signal may wake a goroutine at any time: no deadlock. */
bool gort_signal_waiting(void);

/* ---- netpoll.c ---------------------------------------------------------- */
bool gort_netpoll_inited(void);
/* Are goroutines parked on descriptors? (then someone must poll) */
bool gort_netpoll_waiting(void);
/* When the poller was last asked (gort_os_nanotime), 0 never. */
int64_t gort_netpoll_last(void);
/* Poll, waiting at most ns (< 0 no limit, 0 not at all): the goroutines
 * whose descriptors became ready, linked by schedlink, not yet readied. */
G *gort_netpoll(int64_t ns);
/* proc.c: the poller just started; the sleeper M must poll from now on. */
void gort_netpoll_started(void);
/* proc.c: make every goroutine of a list (linked by schedlink, as
 * gort_netpoll returns them) runnable: on the calling M's P, or on the
 * global queue when it holds none (gort_ready). */
void gort_inject(G *list);

/* ---- runq.c ------------------------------------------------------------- */
/* Returns true if it published with a plain release store to the ring,
 * which needs a fence before gort_wakep (see there); false if the G went
 * only to runnext (a seq_cst exchange) or through sched.lock. */
bool gort_runq_put(P *p, G *g, bool next);
G *gort_runq_get(P *p, bool *inherit);
/* Steal half of victim's ring into p's (the first returned, the rest
 * queued).  stealnext: when the ring is empty, also victim's runnext, but
 * not from a running victim that switches while we wait: it is cycling
 * through the Gs it readies (a ping-pong pair), and *cycling (if not NULL)
 * is set instead. */
G *gort_runq_steal(P *p, P *victim, bool stealnext, bool *cycling);
bool gort_runq_empty(P *p);
uint32_t gort_runq_len(P *p);
/* global run queue; sched.lock held */
void gort_globrunq_put(G *g);
void gort_globrunq_put_batch(G *head, G *tail, int32_t n);
G *gort_globrunq_get(P *p, int32_t max);

/* ---- stack.c ------------------------------------------------------------ */
/* Give g a default-size stack: p's most recently freed one, else one from
 * the global free list or a new slab slot.  p may be NULL.  0 or -ENOMEM. */
int gort_stack_get(P *p, G *g);
/* Give g a stack of its own mapping of size bytes (not the default size).
 * 0, -ENOMEM, or -EAGAIN (out of mappings). */
int gort_stack_map(G *g, size_t size);
/* g is dead: its stack goes back to p's cache (default size; p may be
 * NULL) or to the OS (its own mapping). */
void gort_stack_put(P *p, G *g);
/* p retires: its cached stacks go to the global free list. */
void gort_stack_drain(P *p);
/* Spawn of a default-stack G: promise it a stack at its first run, so
 * gort_stack_get cannot fail then.  The caller takes p->stack_credit
 * itself when it is > 0; this refills it (a batch) under the lock.
 * 0, or -ENOMEM: no slab could be mapped.  The G's exit gives the promise
 * back (gort_stack_put). */
int gort_stack_claim(P *p);
/* The scavenger's other half (proc.c): free the dead G records on the
 * global free list beyond GFREE_KEEP, dropping them from sched.allg;
 * excess: are there any? */
void gort_gfree_trim(void);
bool gort_gfree_excess(void);
/* sysmon (preempt.c), every loop: the scavenger's pass when one is due;
 * and, for an idle sysmon's sleep, ns until the next (-1: none pending). */
void gort_stack_scavenge(int64_t now);
int64_t gort_stack_scavenge_wait(int64_t now);
/* Abort if g's stack canary was clobbered. */
void gort_stack_check(G *g);
/* If addr is in g's guard region, report the overflow and abort. */
void gort_stack_fault(G *g, void *addr, gort_sigctx *ctx);
/* Async-signal-safe formatting into [p, end): returns the new p. */
char *gort_put_str(char *p, char *end, const char *s);
char *gort_put_u64(char *p, char *end, uint64_t v);
/* Write "gort: goroutine N stack overflow (stack S bytes)" and abort. */
GORT_NORETURN void gort_stack_overflow(G *g, const char *how, gort_sigctx *ctx);

/* ---- timer.c ------------------------------------------------------------ */
/* Add t to p's heap (p must be held by the calling M, or locked out). */
void gort_timer_add(P *p, gort_tnode *t);
/* Remove t from its heap; false if it was not in one (fired or removed). */
bool gort_timer_del(gort_tnode *t);
/* For a sync timer: remove it, then wait until its callback (if one was
 * started) has returned.  After this, t may be freed. */
void gort_timer_del_sync(gort_tnode *t);
/* Run p's timers due by now. */
void gort_timers_run(P *p, int64_t now);
/* Move every timer of from (being retired) into to's heap. */
void gort_timers_move(P *from, P *to);
/* Earliest timer over every P; 0 if none. */
int64_t gort_timers_earliest(void);

/* ---- sema.c ------------------------------------------------------------- */
/* Go's semacquire/semrelease on a counter word: acquire waits until *addr
 * > 0 and decrements it; release increments it and wakes one waiter.
 * Goroutines park, plain threads block. */
void gort_semacquire(_Atomic(uint32_t) *addr, const char *reason);
void gort_semrelease(_Atomic(uint32_t) *addr);
/* For the mutex: lifo queues at the head (a waiter that already waited);
 * handoff gives the unit straight to the first waiter and yields to it. */
void gort_semacquire1(_Atomic(uint32_t) *addr, bool lifo, const char *reason);
void gort_semrelease1(_Atomic(uint32_t) *addr, bool handoff);
/* Acquire with a deadline (gort_os_nanotime): 0 none; < 0 only try (no
 * wait).  0, -ETIMEDOUT once the deadline passed with no unit taken, or
 * -EAGAIN (only trying, none free).  Goroutines park, threads block. */
int gort_semacquire_until(_Atomic(uint32_t) *addr, int64_t deadline, const char *reason);
/* The second half of gort_semrelease1, for a caller that added the unit
 * itself and knows (from a count of its own) that someone may wait. */
void gort_semwake(_Atomic(uint32_t) *addr, bool handoff);

#ifdef __cplusplus
}
#endif
#endif /* GORT_CORE_RUNTIME_H */
