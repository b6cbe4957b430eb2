/*
 * stack.c — goroutine stacks.
 *
 * C code cannot grow or move its stack, so a goroutine gets a fixed-size
 * stack (64 KiB virtual by default) that the kernel commits page by page as
 * it is touched: a goroutine that uses 2 KiB costs one page of RSS.
 *
 * Default-size stacks are carved from slabs: one mapping holds SLAB_SLOTS
 * stacks behind one leading guard page.  Each stack is then protected one
 * of two ways (HACKING.md, hazard 7: linux allows ~65K mappings, and a guard
 * page splits a mapping in two):
 *   guard   its lowest page is made PROT_NONE; an overflow faults there and
 *           the SIGSEGV handler (on the M's sigaltstack) reports it.  Used
 *           while the guarded stacks stay under 1/8 of vm.max_map_count.
 *   canary  beyond that budget: the 16 bytes at the very top of the slot
 *           below hold a per-process random word; an overflow runs into it
 *           first, and every switch away from the goroutine checks it.
 *
 * Slot layout (S = default stack size, page-aligned; lo grows up):
 *   [guard page, if guarded][ ... usable stack ... ][16-byte canary word]
 *                                                   ^ guards the slot above
 *
 * Stacks of other sizes get a mapping of their own with a guard page, made
 * when the goroutine is spawned (so gort_go_with can report -ENOMEM or
 * -EAGAIN) and unmapped when it exits.
 *
 * A default stack is a gort_stack (runtime.h), kept for life and passed
 * around: a G takes one when it first runs (proc.c g_start) and gives it
 * back when it exits.  Free stacks wait on the P's cache (LIFO, up to
 * STACK_CACHE, spilling half to the global list), so the next goroutine to
 * start on that P gets the stack that was in use a moment ago: hot in the
 * cache and the TLB, every page it touched already committed.  A burst of
 * spawns queued faster than they run costs G records only, not stacks.
 *
 * Claims: the spawn of a default-stack G claims its stack (Ps take claims
 * 32 at a time into p->stack_credit, so a spawn pays no shared atomic),
 * and the count keeps claimed <= slots - nallp * STACK_CACHE, mapping
 * slabs ahead: with every other P's cache full, a claimed G still finds a
 * free or uncarved slot when it first runs.  So running out of memory is
 * -ENOMEM from gort_go, not an abort at g_start.  The price: address space
 * (not memory) for each queued goroutine, as before lazy stacks.
 *
 * The scavenger (sysmon, every SCAVENGE_NS): stacks on the global list
 * that were already there at the last pass give their pages back to the
 * OS (gort_os_release), but for the WARM_STACKS at its head, the next to
 * be taken; the per-P caches are left alone.  So at most
 * (STACK_CACHE * Ps + WARM_STACKS) free stacks stay committed, and a
 * steady load, whose free stacks keep moving, never pays for a release.
 * The top page of a slot holds the canary of the slot above: it is given
 * back only if that stack is free on the global list too (canary_stale:
 * rewritten when it leaves the list).  The pass also frees dead G records
 * beyond a bound (proc.c gort_gfree_trim).
 *
 * Every stack is registered with valgrind when it is carved or mapped (its
 * id in g->vg_stack) and deregistered just before it is unmapped, so a
 * default stack stays registered for life, through every reuse
 * (runtime/valgrind.h; nothing at all without valgrind's headers).
 *
 * Rejected: a guard page for every stack (caps goroutines near 32K); a
 * malloc'd stack (no lazy commit, no guard); canaries on every stack
 * (a canary at the bottom of the stack's own slot would commit a second
 * page per goroutine, which the canary in the slot below does not); a
 * stack bound to its G record from spawn to reuse (a million queued
 * spawns held a million stacks, each cold when it finally ran).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/runtime.h"
#include "runtime/valgrind.h"

#define SLAB_SLOTS 256
#define CANARY_BYTES 16
#define STACK_CACHE 64  /* per-P free stacks; half moves to/from the global list */
#define CREDIT_BATCH 32 /* stack claims a P takes from, or gives back to, the count at once */
#define WARM_STACKS 64  /* free stacks on the global list the scavenger leaves committed */
#define SCAVENGE_NS ((int64_t)250 * 1000 * 1000) /* between scavenger passes */

/* One slab: SLAB_SLOTS slots behind a leading guard page, and their
 * descriptors (for life: slabs are never unmapped). */
typedef struct slab_rec slab_rec;
struct slab_rec {
    char *base;     /* slot 0, just above the leading guard page */
    int carved;     /* slots carved so far (slab.lock)          */
    slab_rec *next; /* every slab, in mapping order            */
    gort_stack descs[SLAB_SLOTS];
};

static struct {
    gort_os_lock lock;  /* guards everything here but what is atomic  */
    slab_rec *slabs, *last; /* every slab                           */
    slab_rec *carving;  /* the first slab with uncarved slots; NULL: none */
    long slots;         /* slots in every slab                      */
    long claimed;       /* stacks promised: spawned Gs' and P credits */
    long guarded;       /* stacks with a guard page so far          */
    long budget;        /* how many may have one                    */
    uint64_t seed;
    bool ready;
    gort_stack *free;   /* free stacks beyond the per-P caches      */
    /* of those, how many still hold their pages (sysmon peeks) */
    _Atomic(long) committed;
    uint32_t pass;      /* scavenger passes so far                  */
    int64_t next_pass;  /* sysmon only: when the next is due (0: none pending) */
} slab;

GORT_RUNTIME_TEXT static uint64_t canary_value(const uint64_t *where) { return slab.seed ^ (uint64_t)(uintptr_t)where; }

GORT_RUNTIME_TEXT static void slab_init(void) {
    slab.budget = gort_debug_g.stackguard ? gort_os_max_map_count() / 8 : 0;
    slab.seed = (uint64_t)gort_os_nanotime() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&slab;
    slab.ready = true;
    gort_crash_reserve(); /* address space for a fatal report's symbolizer (traceback.c) */
}

/* Map one more slab (slab.lock held).  0 or -ENOMEM. */
GORT_RUNTIME_TEXT static int slab_new(void) {
    size_t page = gort_os_pagesize(), slot = gort_sched_g.stack_size;
    if (!slab.ready) slab_init();
    slab_rec *r = calloc(1, sizeof *r);
    if (r == NULL) return -ENOMEM;
    char *map = gort_os_map(page + SLAB_SLOTS * slot);
    if (map == NULL) {
        free(r);
        return -ENOMEM;
    }
    (void)gort_os_guard(map, page); /* best effort: slot 0's floor */
    r->base = map + page;
    if (slab.last != NULL)
        slab.last->next = r;
    else
        slab.slabs = r;
    slab.last = r;
    if (slab.carving == NULL) slab.carving = r;
    slab.slots += SLAB_SLOTS;
    return 0;
}

/* Carve one default-size stack (slab.lock held); sched.stack_size is
 * page-aligned.  NULL: out of memory. */
GORT_RUNTIME_TEXT static gort_stack *slot_carve(void) {
    size_t page = gort_os_pagesize(), slot = gort_sched_g.stack_size;
    bool guard = false;

    if (slab.carving == NULL && slab_new() != 0) return NULL;
    slab_rec *r = slab.carving;
    int j = r->carved++;
    if (r->carved == SLAB_SLOTS) slab.carving = r->next;
    char *lo = r->base + (size_t)j * slot;
    gort_stack *s = &r->descs[j];
    if (slab.guarded < slab.budget) {
        if (gort_os_guard(lo, page) == 0)
            slab.guarded++, guard = true;
        else
            slab.budget = slab.guarded; /* out of mappings: canaries from now on */
    }
    s->lo = lo + (guard ? page : 0);
    s->size = (uint32_t)(slot - (guard ? page : 0) - CANARY_BYTES);
    s->canary = NULL;
    if (!guard && j != 0) {
        /* The top of the slot below; that slot never uses its last 16 bytes. */
        uint64_t *c = (uint64_t *)(void *)(lo - CANARY_BYTES);
        *c = canary_value(c);
        s->canary = c;
    }
    s->vg_id = vg_stack_register(s->lo, s->size); /* for life: never unmapped */
    return s;
}

GORT_RUNTIME_TEXT static gort_stack *pop(gort_stack **list) {
    gort_stack *s = *list;
    if (s != NULL) *list = s->next;
    return s;
}

GORT_RUNTIME_TEXT static void push(gort_stack **list, gort_stack *s) {
    s->next = *list;
    *list = s;
}

/* The global free list (slab.lock held). */
GORT_RUNTIME_TEXT static void global_push(gort_stack *s) {
    push(&slab.free, s);
    s->global = true;
    s->released = false; /* it was in use: its pages are back */
    s->freed_pass = slab.pass;
    atomic_store_explicit(&slab.committed, atomic_load_explicit(&slab.committed, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

GORT_RUNTIME_TEXT static gort_stack *global_pop(void) {
    gort_stack *s = pop(&slab.free);
    if (s == NULL) return NULL;
    s->global = false;
    if (s->canary_stale) { /* the scavenger gave the page holding it back */
        uint64_t *c = (uint64_t *)(uintptr_t)s->canary;
        *c = canary_value(c);
        s->canary_stale = false;
    }
    if (!s->released)
        atomic_store_explicit(&slab.committed, atomic_load_explicit(&slab.committed, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    return s;
}

/* Push the list s onto the global free list (slab.lock held). */
GORT_RUNTIME_TEXT static void free_all(gort_stack *s) {
    while (s != NULL) {
        gort_stack *next = s->next;
        global_push(s);
        s = next;
    }
}

/* ---- claims: a stack for every spawned G ------------------------------ */

/* Promise up to want more stacks (slab.lock held); how many it could.
 * The invariant: claimed <= slots - nallp * STACK_CACHE.  A G holding a
 * claim and taking its stack then always finds one on its P's cache, the
 * global list or uncarved, even with every other P's cache full. */
GORT_RUNTIME_TEXT static long claim_locked(long want) {
    long reserve = (long)atomic_load(&gort_sched_g.nallp) * STACK_CACHE;
    while (slab.slots - reserve - slab.claimed < want && slab_new() == 0) {
    }
    long have = slab.slots - reserve - slab.claimed;
    if (have > want) have = want;
    if (have < 0) have = 0;
    slab.claimed += have;
    return have;
}

GORT_RUNTIME_TEXT int gort_stack_claim(P *p) {
    if (p != NULL && p->stack_credit > 0) {
        p->stack_credit--;
        return 0;
    }
    gort_lock(&slab.lock);
    long got = claim_locked(p != NULL ? CREDIT_BATCH : 1);
    gort_unlock(&slab.lock);
    if (got == 0) return -ENOMEM;
    if (p != NULL) p->stack_credit += (int32_t)got - 1;
    return 0;
}

/* A G with a default stack exits and p (or no P) holds too many claims:
 * a batch goes back to the count. */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void unclaim_slow(P *p) {
    long back = 1;
    if (p != NULL) {
        p->stack_credit -= CREDIT_BATCH - 1;
        back = CREDIT_BATCH;
    }
    gort_lock(&slab.lock);
    slab.claimed -= back;
    gort_unlock(&slab.lock);
}

GORT_RUNTIME_TEXT int gort_stack_get(P *p, G *g) {
    gort_stack *s;
    if (p != NULL && p->stacks != NULL) {
        s = pop(&p->stacks);
        p->nstacks--;
    } else {
        gort_lock(&slab.lock);
        while (p != NULL && p->nstacks < STACK_CACHE / 2 && (s = global_pop()) != NULL) { /* refill */
            push(&p->stacks, s);
            p->nstacks++;
        }
        if (p != NULL && (s = pop(&p->stacks)) != NULL)
            p->nstacks--;
        else if ((s = global_pop()) == NULL)
            s = slot_carve();
        gort_unlock(&slab.lock);
        if (s == NULL) return -ENOMEM;
    }
    g->slot = s;
    g->stack_lo = s->lo;
    g->stack_size = s->size;
    g->canary = s->canary;
    g->vg_stack = s->vg_id;
    return 0;
}

GORT_RUNTIME_TEXT int gort_stack_map(G *g, size_t size) {
    size_t page = gort_os_pagesize();
    size = (size + page - 1) & ~(page - 1);
    char *map = gort_os_map(page + size);
    if (map == NULL) return -ENOMEM;
    if (gort_os_guard(map, page) != 0) {
        gort_os_unmap(map, page + size);
        return -EAGAIN; /* out of mappings */
    }
    g->slot = NULL;
    g->stack_map = map;
    g->stack_map_size = page + size;
    g->stack_lo = map + page;
    g->stack_size = size;
    g->canary = NULL;
    g->vg_stack = vg_stack_register(g->stack_lo, g->stack_size);
    return 0;
}

/* Off gort_stack_put's path, so it needs no frame of its own. */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void stack_unmap(G *g) {
    vg_stack_deregister(g->vg_stack);
    gort_os_unmap(g->stack_map, g->stack_map_size);
    g->stack_map = NULL;
    g->stack_map_size = 0;
}

/* gort_stack_put's slow half: p's cache overflowed (spill: the coldest
 * half goes to the global list), or there is no P (s, if not NULL, goes
 * there alone); unclaim: p holds too many claims (or there is no P). */
GORT_RUNTIME_TEXT __attribute__((noinline)) static void put_slow(P *p, gort_stack *spill, bool unclaim) {
    if (unclaim) unclaim_slow(p);
    if (spill == NULL) return;
    gort_stack *s = spill;
    if (p != NULL) {
        gort_stack **cut = &p->stacks;
        for (int32_t i = 0; i < STACK_CACHE / 2; i++) cut = &(*cut)->next;
        s = *cut;
        *cut = NULL;
        p->nstacks = STACK_CACHE / 2;
    } else {
        s->next = NULL;
    }
    gort_lock(&slab.lock);
    free_all(s);
    gort_unlock(&slab.lock);
}

GORT_RUNTIME_TEXT void gort_stack_put(P *p, G *g) {
    gort_stack *s = g->slot;
    /* stack_lo NULL is what g_start and the dump test; the next spawn's
     * gort_stack_get or gort_stack_map sets the rest */
    g->slot = NULL;
    g->stack_lo = NULL;
    if (g->stack_map != NULL) {
        stack_unmap(g);
        return;
    }
    /* A default-stack G: the stack to p's cache, and its claim
     * (gort_stack_claim) to p's credit; either overflowing, or no P, goes
     * through the lock, off this path (a tail call: no frame here). */
    if (__builtin_expect(p != NULL, 1)) {
        bool spill = false, credit_full = p->stack_credit >= 2 * CREDIT_BATCH;
        if (s != NULL) { /* NULL: it never started */
            push(&p->stacks, s);
            spill = ++p->nstacks > STACK_CACHE;
        }
        if (!credit_full) p->stack_credit++;
        if (!spill && !credit_full) return;
        put_slow(p, spill ? s : NULL, credit_full);
        return;
    }
    put_slow(NULL, s, true);
}

GORT_RUNTIME_TEXT void gort_stack_drain(P *p) {
    gort_lock(&slab.lock);
    free_all(p->stacks);
    slab.claimed -= p->stack_credit;
    gort_unlock(&slab.lock);
    p->stacks = NULL;
    p->nstacks = 0;
    p->stack_credit = 0;
}

/* ---- the scavenger: free stacks' pages back to the OS ------------------ */

/* One pass over slab r (slab.lock held): give back the pages of every
 * stack on the global list that has been there since before the last
 * pass, in runs of adjacent slots (one call each).  A slot's top page also
 * holds the canary of the slot above (canary mode); it goes too only if
 * that stack is on the global list as well (marked canary_stale: whoever
 * takes it rewrites the word), else it stays. */
GORT_RUNTIME_TEXT static long scavenge_slab(slab_rec *r, uint32_t pass) {
    size_t page = gort_os_pagesize(), slot = gort_sched_g.stack_size;
    char *run = NULL, *run_end = NULL;
    long released = 0;
    for (int j = 0; j <= r->carved; j++) {
        gort_stack *s = j < r->carved ? &r->descs[j] : NULL;
        bool take = s != NULL && s->global && !s->released && s->freed_pass + 2 <= pass;
        char *lo = r->base + (size_t)j * slot, *hi = lo + slot; /* guard page included: harmless */
        if (take) {
            gort_stack *above = j + 1 < r->carved ? &r->descs[j + 1] : NULL;
            if (above != NULL && above->canary != NULL) {
                if (above->global)
                    above->canary_stale = true;
                else
                    hi -= page; /* its canary is in use */
            }
            s->released = true;
            released++;
        }
        if (take && run_end == lo) {
            run_end = hi;
        } else {
            if (run != NULL) (void)gort_os_release(run, (size_t)(run_end - run));
            run = take ? lo : NULL;
            run_end = take ? hi : NULL;
        }
        if (take && hi != lo + slot) { /* kept its top page: the run ends here */
            (void)gort_os_release(run, (size_t)(run_end - run));
            run = run_end = NULL;
        }
    }
    return released;
}

GORT_RUNTIME_TEXT static void scavenge_pass(void) {
    gort_lock(&slab.lock);
    uint32_t pass = ++slab.pass;
    /* the hottest free stacks (the list's head: next to be taken) stay */
    int n = 0;
    for (gort_stack *s = slab.free; s != NULL && n < WARM_STACKS; s = s->next, n++) s->freed_pass = pass;
    slab_rec *r = slab.slabs;
    gort_unlock(&slab.lock);
    /* slab by slab, so a spawner waits at most one slab's worth of calls */
    while (r != NULL) {
        gort_lock(&slab.lock);
        long released = scavenge_slab(r, pass);
        atomic_store_explicit(&slab.committed,
                              atomic_load_explicit(&slab.committed, memory_order_relaxed) - released,
                              memory_order_relaxed);
        slab_rec *next = r->next;
        gort_unlock(&slab.lock);
        r = next;
    }
    gort_gfree_trim(); /* dead G records beyond a bound (proc.c) */
}

GORT_RUNTIME_TEXT static bool scavenge_pending(void) {
    return atomic_load_explicit(&slab.committed, memory_order_relaxed) > WARM_STACKS || gort_gfree_excess();
}

GORT_RUNTIME_TEXT void gort_stack_scavenge(int64_t now) {
    if (!scavenge_pending()) {
        slab.next_pass = 0;
        return;
    }
    if (slab.next_pass == 0) slab.next_pass = now + SCAVENGE_NS;
    if (now < slab.next_pass) return;
    scavenge_pass();
    slab.next_pass = now + SCAVENGE_NS;
}

GORT_RUNTIME_TEXT int64_t gort_stack_scavenge_wait(int64_t now) {
    if (!scavenge_pending()) return -1;
    if (slab.next_pass == 0) slab.next_pass = now + SCAVENGE_NS;
    int64_t wait = slab.next_pass - now;
    return wait > 1000000 ? wait : 1000000;
}

/* Minimal async-signal-safe formatting (runtime.h). */
GORT_RUNTIME_TEXT char *gort_put_str(char *p, char *end, const char *s) {
    while (*s && p < end) *p++ = *s++;
    return p;
}

GORT_RUNTIME_TEXT char *gort_put_u64(char *p, char *end, uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v != 0);
    while (n > 0 && p < end) *p++ = tmp[--n];
    return p;
}

GORT_RUNTIME_TEXT _Noreturn void gort_stack_overflow(G *g, const char *how, gort_sigctx *ctx) {
    char buf[256], *p = buf, *end = buf + sizeof buf - 1;
    gort_fatal_begin(); /* one report at a time (traceback.c) */
    p = gort_put_str(p, end, "gort: goroutine ");
    p = gort_put_u64(p, end, g->id);
    if (g->name != NULL) {
        p = gort_put_str(p, end, " \"");
        p = gort_put_str(p, end, g->name);
        p = gort_put_str(p, end, "\"");
    }
    p = gort_put_str(p, end, " stack overflow (stack ");
    p = gort_put_u64(p, end, g->stack_size);
    p = gort_put_str(p, end, " bytes");
    p = gort_put_str(p, end, how);
    p = gort_put_str(p, end, ")\n");
    gort_os_write_all(2, buf, (size_t)(p - buf));
    gort_crash_dump(ctx, true);
}

GORT_RUNTIME_TEXT void gort_stack_check(G *g) {
    if (g->canary != NULL && *g->canary != canary_value(g->canary))
        gort_stack_overflow(g, ", canary clobbered", NULL);
}

GORT_RUNTIME_TEXT void gort_stack_fault(G *g, void *addr, gort_sigctx *ctx) {
    uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)g->stack_lo, page = gort_os_pagesize();
    if (g->stack_lo != NULL && a < lo && a >= lo - page) gort_stack_overflow(g, "", ctx);
}
