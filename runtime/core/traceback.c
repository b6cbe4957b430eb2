/*
 * traceback.c — the goroutine dump: gort_dump(fd), and the reports that end
 * the process (SIGQUIT, deadlock, a fatal error or stack overflow after its
 * one line), with a symbolized stack trace for every goroutine
 * (Go's traceback.go and the stopped world of runtime.Stack(all)).
 *
 *   goroutine 7 "worker" [waiting: chan receive, 1200 ms]:
 *           gort_chan_recv+0x8c at runtime/core/chan.c:301
 *           worker+0x3c at tests/dump_test.cc:42
 *
 * Invariants:
 *   - While sched.dumping is set no M switches to a goroutine: run()
 *     waits in gort_dump_wait() first.  So a goroutine that is not running
 *     keeps its stack and saved context (arch.h gort_ctx_regs) while the
 *     dumper unwinds it.
 *   - A goroutine that is running (or in a system call) is unwound by its
 *     own M, in the SIGURG handler, from the interrupted context
 *     (gort_traceback_answer): the dumper asks every M (m->traceback_want) and
 *     waits for the answers (m->traceback_done), at most ASK_NS per round.
 *   - The ask is also the barrier that makes the flag visible: an M that
 *     answered reads sched.dumping as set at its next switch.  An M the
 *     signal caught inside a switch (m->in_switch: from leaving one G to
 *     arriving on the next, its check of the flag included; a stack
 *     half-switched is never unwound) and not waiting may still switch
 *     once; it is asked again until it has either arrived (and its
 *     goroutine is unwound running) or is waiting.  Only then are stopped
 *     goroutines unwound.
 *   - Unwinding (os.h gort_os_unwind) is async-signal-safe; naming the
 *     pcs (gort_os_symbolize) is not.  gort_dump and the deadlock report
 *     name them; a report from a signal handler is printed by sysmon
 *     (linux), or names them only when the interrupted thread was in the
 *     program's or the runtime's code (not inside libc, where it may hold
 *     malloc's lock), and otherwise prints bare pcs.
 *   - An M whose thread is blocked in the kernel is never signalled (the
 *     call would fail with EINTR): the dumper answers for it, from the sp
 *     and pc of its system call (os.h gort_os_thread_syscall_at) and the
 *     return addresses into the program's code found above that sp
 *     (foreign_traceback).  Its goroutine shows as [foreign call, N ms]
 *     if sysmon has seen it blocked past its slice (preempt.c).
 *   - One fatal report at a time, process-wide (gort_fatal_begin): a
 *     second M that hits a fatal error while one is being printed waits
 *     for it to end the process, and never prints or dumps alongside it
 *     (two Ms out of stack memory at once used to dump concurrently, and
 *     libdw, whose state is one per process, crashed).  The report may be
 *     about memory running out: a reservation of address space kept since
 *     start-up (gort_crash_reserve) is unmapped first, and if even then
 *     the symbolizer could not get memory, pcs are printed bare.
 *   - gort_dump formats into memory and writes after the world resumes,
 *     so fd may be a pipe that one of the program's goroutines reads.
 *     The fatal reports write straight to stderr and never resume.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/core/asan.h"
#include "runtime/core/runtime.h"
#include "runtime/core/tsan.h"

enum {
    ASK_NS = 100 * 1000 * 1000, /* wait this long for the Ms' answers, per round */
    ASK_ROUNDS = 20,            /* rounds before giving up on an M in its switch */
};

static gort_sched *const sched = &gort_sched_g;
static gort_os_lock dump_lock; /* one gort_dump (or blockwarn line) at a time */

/* ---- fatal reports: one at a time, with memory to print it ------------ */

enum {
    CRASH_RESERVE = 32 << 20, /* address space kept for the report's symbolizer */
    SYMBOLIZER_ROOM = 16 << 20, /* what it must be able to map, or bare pcs */
};

static _Atomic(uint64_t) fatal_tid; /* the thread printing a fatal report; 0: none */
static void *crash_reserve;

GORT_RUNTIME_TEXT void gort_crash_reserve(void) {
    if (crash_reserve == NULL) crash_reserve = gort_os_map(CRASH_RESERVE); /* never touched: no RSS */
}

GORT_RUNTIME_TEXT void gort_fatal_begin(void) {
    uint64_t self = gort_os_thread_id(), none = 0;
    if (atomic_compare_exchange_strong(&fatal_tid, &none, self)) {
        void *r = crash_reserve;
        crash_reserve = NULL;
        if (r != NULL) gort_os_unmap(r, CRASH_RESERVE);
        return;
    }
    if (none == self) abort(); /* a fatal error inside our own report */
    for (;;) gort_os_nanosleep((int64_t)1000 * 1000 * 1000); /* the first report ends the process */
}

/* After the reservation is gone: can the symbolizer get memory? */
GORT_RUNTIME_TEXT static bool room_to_symbolize(void) {
    if (atomic_load(&fatal_tid) == 0) return true; /* not a fatal report */
    void *p = gort_os_map(SYMBOLIZER_ROOM);
    if (p == NULL) return false;
    gort_os_unmap(p, SYMBOLIZER_ROOM);
    return true;
}

/* ---- output: a growing buffer, or straight to the fd ---------------- */

typedef struct out {
    int fd;
    char *buf; /* NULL: write directly (signal / fatal paths) */
    size_t len, cap;
} out;

GORT_RUNTIME_TEXT static void out_write(out *o, const char *s, size_t n) {
    if (o->buf == NULL) {
        gort_os_write_all(o->fd, s, n);
        return;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap * 2 > o->len + n ? o->cap * 2 : o->len + n;
        char *b = realloc(o->buf, cap);
        if (b == NULL) return; /* out of memory: the dump is cut short */
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

GORT_RUNTIME_TEXT static char *put_hex(char *p, char *end, uint64_t v) {
    char tmp[16];
    int n = 0;
    do tmp[n++] = "0123456789abcdef"[v & 15], v >>= 4;
    while (v != 0);
    p = gort_put_str(p, end, "0x");
    while (n > 0 && p < end) *p++ = tmp[--n];
    return p;
}

/* ---- asking the Ms --------------------------------------------------- */

/* In the SIGURG handler (preempt.c) and the SIGQUIT handler, on m's thread:
 * if the dumper asked, unwind the goroutine c interrupted, if any. */
GORT_RUNTIME_TEXT void gort_traceback_answer(M *m, gort_sigctx *c) {
    uint32_t want = atomic_load_explicit(&m->traceback_want, memory_order_acquire);
    if (want == atomic_load_explicit(&m->traceback_done, memory_order_relaxed)) return;
    G *g = m->curg;
    uintptr_t sp = gort_sigctx_sp(c);
    m->traceback_g = NULL;
    m->traceback_n = 0;
    /* lo - a page: an overflow faults on the guard page below the stack */
    uintptr_t lo = g != NULL ? (uintptr_t)g->stack_lo - gort_os_pagesize() : 0;
    uintptr_t hi = g != NULL ? (uintptr_t)g->stack_lo + g->stack_size : 0;
    bool in_switch = atomic_load_explicit(&m->in_switch, memory_order_relaxed);
    if (g != NULL && !in_switch && sp >= lo && sp <= hi) {
        gort_regs r;
        gort_sigctx_regs(c, &r);
        m->traceback_n = gort_os_unwind(&r, lo, hi, m->traceback_pcs, GORT_TRACEBACK_MAX);
        m->traceback_g = g;
    }
    /* caught on g0 between run()'s check of sched.dumping and its switch */
    m->traceback_in_switch = in_switch && !atomic_load(&m->dump_waiting);
    atomic_store_explicit(&m->traceback_done, want, memory_order_release);
}

/* run(), before switching to a goroutine while a dump is on. */
GORT_RUNTIME_TEXT void gort_dump_wait(M *m) {
    atomic_store(&m->dump_waiting, true);
    while (atomic_load(&sched->dumping)) gort_os_nanosleep(50 * 1000);
    atomic_store(&m->dump_waiting, false);
}

/* The traceback of g, whose thread is blocked in the kernel: the system
 * call's pc, then each word above its sp, up to FOREIGN_SCAN bytes, that
 * is a return address into the program's code (it follows a call).  A
 * scan, not an unwind (no registers but sp and pc are known): a stale
 * return address can appear; the program's frames near the top are right.
 * The window is copied first (gort_os_read_memory), since the thread may
 * wake, and its goroutine exit and a stack of its own size be unmapped,
 * meanwhile.  0 if the OS cannot say, or the sp is not on g's stack
 * (qemu-user gives its own).  Async-signal-safe: a fatal report's dump. */
enum { FOREIGN_SCAN = 4096 };
GORT_RUNTIME_TEXT GORT_NO_ASAN GORT_NO_TSAN GORT_NOIPA static int foreign_traceback(M *m, G *g, uintptr_t *pcs, int max) {
    uintptr_t sp, pc, window[FOREIGN_SCAN / sizeof(uintptr_t)];
    uintptr_t lo = (uintptr_t)g->stack_lo, hi = lo + g->stack_size;
    if (max <= 0 || lo == 0) return 0;
    gort_lock(&sched->probe_lock);
    int err = gort_os_thread_syscall_at(&m->probe, &sp, &pc);
    gort_unlock(&sched->probe_lock);
    if (err != 0 || sp < lo || sp >= hi) return 0;
    sp &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    size_t want = hi - sp > FOREIGN_SCAN ? FOREIGN_SCAN : hi - sp;
    long got = gort_os_read_memory(window, sp, want);
    int n = 0;
    pcs[n++] = pc;
    for (long i = 0; got > 0 && i < got / (long)sizeof(uintptr_t) && n < max && n < 8; i++) {
        uintptr_t w = window[i];
        if (gort_os_pc_is_user(w) && gort_os_pc_is_user(w - 8) && gort_arch_follows_call(w)) pcs[n++] = w;
    }
    return n;
}

/* Answer for m, blocked in the kernel: its goroutine (if any) is
 * unwound by the printer (foreign_traceback), which finds it through allg
 * (m->curg is the M's own). */
GORT_RUNTIME_TEXT static void answer_blocked(M *m, uint32_t epoch) {
    m->traceback_g = NULL;
    m->traceback_n = 0;
    m->traceback_blocked = true;
    m->traceback_in_switch = false;
    atomic_store_explicit(&m->traceback_want, epoch, memory_order_release);
    atomic_store_explicit(&m->traceback_done, epoch, memory_order_release);
}

GORT_RUNTIME_TEXT static void ask(M *m, uint32_t epoch) {
    m->traceback_blocked = false;
    gort_os_thread_state ts;
    /* the state first: in_switch as the blocked thread left it */
    gort_lock(&sched->probe_lock);
    bool blocked = gort_os_thread_state_get(&m->probe, &ts) == 0 && ts.blocked;
    gort_unlock(&sched->probe_lock);
    if (blocked && !atomic_load(&m->in_switch)) {
        answer_blocked(m, epoch);
        return;
    }
    atomic_store_explicit(&m->traceback_want, epoch, memory_order_release);
    gort_os_signal_preempt_reclaim();
    atomic_fetch_add_explicit(&m->preempt_sigs, 1, memory_order_relaxed);
    gort_os_signal_preempt(m->thread);
}

GORT_RUNTIME_TEXT static bool answered(M *m, uint32_t epoch) {
    return atomic_load_explicit(&m->traceback_done, memory_order_acquire) == epoch;
}

/* The caller's M answers for its own goroutine, through the same signal
 * handler (it must be on its own stack to be unwound; the signal is
 * delivered before ask returns).  Waits for the answer at most max_waits
 * times 20 us, or for good if max_waits < 0. */
GORT_RUNTIME_TEXT static void ask_self(M *m, int max_waits) {
    uint32_t epoch = atomic_fetch_add(&sched->dump_epoch, 1) + 1;
    ask(m, epoch);
    for (int i = 0; (max_waits < 0 || i < max_waits) && !answered(m, epoch); i++) gort_os_nanosleep(20 * 1000);
}

/* Ask every M but self (which answered already, or is not running a
 * goroutine) until none is caught inside its switch: afterwards no M
 * starts a goroutine until sched.dumping is cleared. */
GORT_RUNTIME_TEXT static void ask_all(M *self) {
    bool again = true;
    for (int round = 0; round < ASK_ROUNDS && again; round++) {
        uint32_t epoch = atomic_fetch_add(&sched->dump_epoch, 1) + 1;
        for (M *m = atomic_load(&sched->allm); m != NULL; m = m->alllink)
            if (m != self && !atomic_load(&m->dead) && (round == 0 || m->traceback_in_switch)) ask(m, epoch);
        int64_t deadline = gort_os_nanotime() + ASK_NS;
        again = false;
        for (M *m = atomic_load(&sched->allm); m != NULL; m = m->alllink) {
            if (m == self || atomic_load(&m->traceback_want) != epoch) continue; /* not asked (dead, or done) */
            while (!answered(m, epoch) && gort_os_nanotime() < deadline) gort_os_nanosleep(20 * 1000);
            again |= answered(m, epoch) && m->traceback_in_switch;
        }
    }
}

/* ---- printing --------------------------------------------------------- */

GORT_RUNTIME_TEXT static const char *status_name(uint32_t s) {
    switch (s) {
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return "running";
    case G_WAITING: return "waiting";
    case G_SYSCALL: return "syscall";
    default: return "dead";
    }
}

/* Not instrumented under TSan: it reads M records reached through g->m,
 * made by another thread before that thread started (pthread_create
 * orders it; the relaxed g->m does not tell TSan so). */
GORT_RUNTIME_TEXT GORT_NO_TSAN static void print_header(out *o, G *g, M *self, uint32_t st, int64_t now) {
    char line[256], *p = line, *end = line + sizeof line - 1;
    M *m = st == G_RUNNING || st == G_SYSCALL ? atomic_load_explicit(&g->m, memory_order_relaxed) : NULL;
    int64_t since = atomic_load_explicit(&g->since, memory_order_relaxed);
    int64_t ms = since != 0 && now > since ? (now - since) / 1000000 : 0;
    p = gort_put_str(p, end, "goroutine ");
    p = gort_put_u64(p, end, g->id);
    p = gort_put_str(p, end, " \"");
    p = gort_put_str(p, end, g->name != NULL ? g->name : "");
    p = gort_put_str(p, end, "\" [");
    int64_t foreign = m != NULL && st == G_RUNNING ? atomic_load_explicit(&m->foreign_since, memory_order_relaxed) : 0;
    if (foreign != 0 && m != self) { /* sysmon saw it blocked outside gort: say so, and for how long (not the dumper:
                                       * it may have waited for the dump's lock) */
        int64_t fms = now > foreign ? (now - foreign) / 1000000 : 0;
        p = gort_put_str(p, end, "foreign call on M");
        p = gort_put_u64(p, end, (uint64_t)m->id);
        p = gort_put_str(p, end, ", ");
        p = gort_put_u64(p, end, (uint64_t)(fms >= 1000 ? fms / 1000 : fms));
        p = gort_put_str(p, end, fms >= 1000 ? " s]:\n" : " ms]:\n");
        out_write(o, line, (size_t)(p - line));
        return;
    }
    p = gort_put_str(p, end, status_name(st));
    if (st == G_WAITING) {
        p = gort_put_str(p, end, ": ");
        p = gort_put_str(p, end, g->waitreason != NULL ? g->waitreason : "?");
    }
    if (m != NULL) {
        p = gort_put_str(p, end, " on M");
        p = gort_put_u64(p, end, (uint64_t)m->id);
    }
    p = gort_put_str(p, end, ", ");
    p = gort_put_u64(p, end, (uint64_t)ms);
    p = gort_put_str(p, end, " ms]:\n");
    out_write(o, line, (size_t)(p - line));
}

/* One line per frame; pcs[0] is exact if first_exact, the rest are return
 * addresses. */
GORT_RUNTIME_TEXT static void print_frames(out *o, const uintptr_t *pcs, int n, bool first_exact, bool names) {
    for (int i = 0; i < n; i++) {
        char line[512], *p = line, *end = line + sizeof line - 1;
        p = gort_put_str(p, end, "        ");
        if (names)
            gort_os_symbolize(pcs[i], i > 0 || !first_exact, p, (size_t)(end - p));
        else
            *put_hex(p, end, pcs[i]) = '\0';
        p += strlen(p);
        p = gort_put_str(p, end, "\n");
        out_write(o, line, (size_t)(p - line));
    }
    if (n == GORT_TRACEBACK_MAX) {
        static const char more[] = "        ...more frames...\n";
        out_write(o, more, sizeof more - 1);
    }
    if (n == 0) {
        static const char none[] = "        (no stack trace)\n";
        out_write(o, none, sizeof none - 1);
    }
    out_write(o, "\n", 1);
}

GORT_RUNTIME_TEXT static void print_goroutine(out *o, G *g, M *self, int64_t now, bool names) {
    uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
    if (st == G_DEAD) return;
    print_header(o, g, self, st, now);
    uintptr_t pcs[GORT_TRACEBACK_MAX];
    M *m = st == G_RUNNING || st == G_SYSCALL ? atomic_load_explicit(&g->m, memory_order_relaxed) : NULL;
    if (m != NULL && m->traceback_g == g && m->traceback_n > 0) { /* unwound by its M, or for it */
        print_frames(o, m->traceback_pcs, m->traceback_n, true, names);
    } else if (m != NULL && m != self && m->traceback_blocked) { /* m: running or in a system call */
        int n = foreign_traceback(m, g, pcs, GORT_TRACEBACK_MAX);
        if (n > 0) {
            print_frames(o, pcs, n, true, names);
        } else {
            static const char blocked[] = "        (blocked in the kernel; no traceback)\n\n";
            out_write(o, blocked, sizeof blocked - 1);
        }
    } else if (st == G_RUNNABLE && atomic_load_explicit(&g->fresh, memory_order_acquire)) {
        pcs[0] = (uintptr_t)g->fn; /* not started (no stack yet): where it will */
        print_frames(o, pcs, 1, true, names);
    } else if (st == G_SYSCALL ||
               (st == G_RUNNING && !(m != NULL && m != self && atomic_load(&m->dump_waiting) && m->curg == g))) {
        /* its M did not answer, or it runs the dump, or it is handing its
         * M over to another G (mcall): its saved context may be stale */
        static const char busy[] = "        (running; no traceback)\n\n";
        out_write(o, busy, sizeof busy - 1);
    } else { /* stopped: runnable, waiting, or the G a waiting M is about to run */
        gort_regs r;
        gort_ctx_regs(&g->ctx, &r);
        int n = gort_os_unwind(&r, (uintptr_t)g->stack_lo, (uintptr_t)g->stack_lo + g->stack_size, pcs,
                               GORT_TRACEBACK_MAX);
        print_frames(o, pcs, n, false, names);
    }
}

/* GORT_DEBUG=blockwarn: one line about the goroutine blocked in a foreign
 * call on m for ns (sysmon, where malloc is safe: the names need libdw). */
GORT_RUNTIME_TEXT void gort_blockwarn(M *m, int64_t ns) {
    char line[1024], *p = line, *end = line + sizeof line - 2;
    uintptr_t pcs[8];
    G *g = NULL;
    gort_lock(&sched->allg_lock); /* its goroutine: running on m (m->curg is m's own) */
    for (size_t i = 0; i < sched->nallg && g == NULL; i++) {
        G *c = sched->allg[i];
        if (atomic_load(&c->status) == G_RUNNING && atomic_load_explicit(&c->m, memory_order_relaxed) == m) g = c;
    }
    gort_unlock(&sched->allg_lock);
    if (g == NULL) return; /* it has switched since */
    int n = foreign_traceback(m, g, pcs, 8);
    p = gort_put_str(p, end, "gort: goroutine ");
    p = gort_put_u64(p, end, g->id);
    p = gort_put_str(p, end, " \"");
    p = gort_put_str(p, end, g->name != NULL ? g->name : "");
    p = gort_put_str(p, end, "\" blocked in a foreign call for ");
    p = gort_put_u64(p, end, (uint64_t)(ns / 1000000));
    p = gort_put_str(p, end, " ms");
    gort_lock(&dump_lock); /* libdw is one per process: not beside a gort_dump */
    bool names = gort_os_symbols_begin();
    for (int i = 0; i < n && i < 4; i++) {
        p = gort_put_str(p, end, i == 0 ? ": " : i == 1 ? " called from " : " < ");
        if (names)
            gort_os_symbolize(pcs[i], i > 0, p, (size_t)(end - p));
        else
            *put_hex(p, end, pcs[i]) = '\0';
        p += strlen(p);
    }
    if (names) gort_os_symbols_end();
    gort_unlock(&dump_lock);
    if (n == 0) p = gort_put_str(p, end, " (no traceback)");
    *p++ = '\n';
    gort_os_write_all(2, line, (size_t)(p - line));
}

/* The whole dump.  self: the caller's M, whose goroutine (if any) has
 * answered already; fatal: never resume the world. */
GORT_RUNTIME_TEXT static void dump_all(out *o, M *self, bool names, bool from_signal) {
    int64_t now = gort_os_nanotime();
    ask_all(self);
    names = names && room_to_symbolize() && gort_os_symbols_begin();
    /* allg only grows, and outgrown arrays are kept (proc.c): without the
     * lock (the signal path) we may miss a goroutine started just now. */
    if (!from_signal) gort_lock(&sched->allg_lock);
    for (size_t i = 0; i < sched->nallg; i++) print_goroutine(o, sched->allg[i], self, now, names);
    if (!from_signal) gort_unlock(&sched->allg_lock);
    if (names) gort_os_symbols_end();
}

/* Stop the world: no M switches to a goroutine until dump_end. */
GORT_RUNTIME_TEXT static void dump_begin(void) {
    atomic_store(&sched->dumping, 1);
    /* before any read of allg: pairs with gort_gfree_trim's fence */
    gort_fence(memory_order_seq_cst);
}

GORT_RUNTIME_TEXT static void dump_end(void) { atomic_store(&sched->dumping, 0); }

typedef struct dump_args {
    out *o;
    M *self;
} dump_args;

GORT_RUNTIME_TEXT static void dump_on_g0(void *arg) {
    dump_args *a = arg;
    dump_all(a->o, a->self, true, false);
}

/* From a goroutine or a plain thread.  A goroutine answers for itself
 * first, through the same signal handler (it must be on its own stack to
 * be unwound), then the rest runs on g0. */
GORT_RUNTIME_TEXT void gort_dump(int fd) {
    if (gort_forked()) { /* the Ms to ask are gone */
        static const char line[] = "gort: no dump in a forked child (the runtime does not survive fork)\n";
        gort_os_write_all(fd, line, sizeof line - 1);
        return;
    }
    out o = {.fd = fd, .cap = 64 << 10};
    o.buf = malloc(o.cap);
    if (o.buf == NULL) return;
    gort_lock(&dump_lock);
    dump_begin();
    M *m = gort_getm();
    if (m != NULL && m->curg != NULL) {
        ask_self(m, -1);
        dump_args a = {&o, m};
        gort_systemstack(dump_on_g0, &a);
    } else {
        dump_all(&o, NULL, true, false);
    }
    dump_end();
    gort_unlock(&dump_lock);
    gort_os_write_all(fd, o.buf, o.len);
    free(o.buf);
}

/* Deadlock (preempt.c, on sysmon's thread: every goroutine asleep for
 * good): as Go. */
GORT_RUNTIME_TEXT _Noreturn void gort_deadlock_exit(void) {
    static const char head[] = "gort: all goroutines are asleep - deadlock!\n\n";
    out o = {.fd = 2};
    gort_fatal_begin();
    gort_os_write_all(2, head, sizeof head - 1);
    dump_begin();
    dump_all(&o, NULL, true, false);
    _Exit(2);
}

GORT_RUNTIME_TEXT static _Noreturn void end_process(bool abort_after) {
    if (abort_after) abort();
    _Exit(2);
}

/* The fatal reports.  In a signal handler (ctx set) the thread answers
 * for its own goroutine from ctx, then (linux) hands the rest to sysmon,
 * where naming the pcs may allocate: this thread may have been stopped
 * inside malloc.  If sysmon does not take it within a second (it took the
 * signal itself, or waits for a lock this thread holds) or finish within
 * 30, the handler prints the report itself, naming pcs only if it was
 * stopped in the program's or the runtime's code.  Without ctx (a fatal
 * error in runtime code, which never holds malloc's lock) the caller
 * prints it, after asking itself as gort_dump does. */
GORT_RUNTIME_TEXT _Noreturn void gort_crash_dump(gort_sigctx *ctx, bool abort_after) {
    out o = {.fd = 2};
    M *m = gort_getm();
    bool names = true;
    dump_begin();
    if (m != NULL && ctx != NULL) {
        atomic_store_explicit(&m->traceback_want, atomic_fetch_add(&sched->dump_epoch, 1) + 1, memory_order_relaxed);
        gort_traceback_answer(m, ctx);
        uintptr_t pc = gort_sigctx_pc(ctx);
        names = gort_os_pc_is_user(pc) || gort_os_pc_is_runtime(pc);
    } else if (m != NULL) {
        ask_self(m, 1000); /* bounded: this may be a fatal error in the handler's path */
    }
    uint64_t sysmon = atomic_load(&sched->sysmon_tid);
    for (int i = 0; i < 100 && sysmon == 0 && atomic_load(&sched->sysmon_started); i++) { /* not yet running */
        gort_os_nanosleep(10 * 1000 * 1000);
        sysmon = atomic_load(&sched->sysmon_tid);
    }
    if (ctx != NULL && GORT_OS_NOTE_WAKEUP_SIGNAL_SAFE && sysmon != 0 && sysmon != gort_os_thread_id()) {
        atomic_store(&sched->quit_m, m);
        atomic_store(&sched->quit_abort, abort_after);
        atomic_store(&sched->quit_pending, true);
        gort_note_wakeup(&sched->sysmon_note);
        for (int i = 0; i < 100 || (atomic_load(&sched->quit_taken) && i < 3000); i++)
            gort_os_nanosleep(10 * 1000 * 1000); /* sysmon ends the process */
        static const char late[] = "gort: sysmon did not print the report; printing it here\n\n";
        gort_os_write_all(2, late, sizeof late - 1);
    }
    dump_all(&o, m, names, true);
    end_process(abort_after);
}

GORT_RUNTIME_TEXT _Noreturn void gort_quit_report(void) {
    out o = {.fd = 2};
    atomic_store(&sched->quit_taken, true);
    dump_all(&o, atomic_load(&sched->quit_m), true, true);
    end_process(atomic_load(&sched->quit_abort));
}

/* SIGQUIT, when the program has no handler of its own: as Go does, print
 * every goroutine and exit with status 2.  ctx: where this thread was. */
GORT_RUNTIME_TEXT _Noreturn void gort_sig_quit(gort_sigctx *ctx) {
    static const char head[] = "SIGQUIT: quit\n\n";
    gort_fatal_begin();
    gort_os_write_all(2, head, sizeof head - 1);
    gort_crash_dump(ctx, false);
}
