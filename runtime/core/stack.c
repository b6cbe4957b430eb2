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
 * when the goroutine is spawned (so gort_go can report -EAGAIN) and
 * unmapped when it exits.
 *
 * A default stack is a gort_stack (runtime.h), kept for life and passed
 * around: a G takes one when it first runs (proc.c g_start) and gives it
 * back when it exits.  Free stacks wait on the P's cache (LIFO, up to
 * STACK_CACHE, spilling half to the global list), so the next goroutine to
 * start on that P gets the stack that was in use a moment ago: hot in the
 * cache and the TLB, every page it touched already committed.  A burst of
 * spawns queued faster than they run costs G records only, not stacks.
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
#define STACK_CACHE 64 /* per-P free stacks; half moves to/from the global list */

static struct {
    gort_os_lock lock;  /* guards everything here                  */
    char *cur;          /* next slot to carve                      */
    gort_stack *descs;  /* the current slab's descriptors          */
    int left;           /* slots left in the current slab          */
    long guarded;       /* stacks with a guard page so far         */
    long budget;        /* how many may have one                   */
    uint64_t seed;
    bool ready;
    gort_stack *free;   /* free stacks beyond the per-P caches     */
} slab;

GORT_NOPREEMPT static uint64_t canary_value(const uint64_t *where) { return slab.seed ^ (uint64_t)(uintptr_t)where; }

GORT_NOPREEMPT static void slab_init(void) {
    slab.budget = gort_debug_g.stackguard ? gort_os_max_map_count() / 8 : 0;
    slab.seed = (uint64_t)gort_os_nanotime() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&slab;
    slab.ready = true;
}

GORT_NOPREEMPT static int slab_new(size_t slot) {
    size_t page = gort_os_pagesize();
    gort_stack *descs = calloc(SLAB_SLOTS, sizeof *descs);
    if (descs == NULL) return -ENOMEM;
    char *base = gort_os_map(page + SLAB_SLOTS * slot);
    if (base == NULL) {
        free(descs);
        return -ENOMEM;
    }
    (void)gort_os_guard(base, page); /* best effort: slot 0's floor */
    slab.cur = base + page;
    slab.descs = descs;
    slab.left = SLAB_SLOTS;
    return 0;
}

/* Carve one default-size stack (slab.lock held); sched.stack_size is
 * page-aligned.  NULL: out of memory. */
GORT_NOPREEMPT static gort_stack *slot_carve(void) {
    size_t page = gort_os_pagesize(), slot = gort_sched_g.stack_size;
    bool guard = false;

    if (!slab.ready) slab_init();
    if (slab.left == 0 && slab_new(slot) != 0) return NULL;
    char *lo = slab.cur;
    bool first = slab.left == SLAB_SLOTS;
    gort_stack *s = &slab.descs[SLAB_SLOTS - slab.left];
    slab.cur += slot;
    slab.left--;
    if (slab.guarded < slab.budget) {
        if (gort_os_guard(lo, page) == 0)
            slab.guarded++, guard = true;
        else
            slab.budget = slab.guarded; /* out of mappings: canaries from now on */
    }
    s->lo = lo + (guard ? page : 0);
    s->size = slot - (guard ? page : 0) - CANARY_BYTES;
    s->canary = NULL;
    if (!guard && !first) {
        /* The top of the slot below; that slot never uses its last 16 bytes. */
        uint64_t *c = (uint64_t *)(void *)(lo - CANARY_BYTES);
        *c = canary_value(c);
        s->canary = c;
    }
    s->vg_id = vg_stack_register(s->lo, s->size); /* for life: never unmapped */
    return s;
}

GORT_NOPREEMPT static gort_stack *pop(gort_stack **list) {
    gort_stack *s = *list;
    if (s != NULL) *list = s->next;
    return s;
}

GORT_NOPREEMPT static void push(gort_stack **list, gort_stack *s) {
    s->next = *list;
    *list = s;
}

/* Push the list s onto the global free list (slab.lock held). */
GORT_NOPREEMPT static void free_all(gort_stack *s) {
    while (s != NULL) {
        gort_stack *next = s->next;
        push(&slab.free, s);
        s = next;
    }
}

GORT_NOPREEMPT int gort_stack_get(P *p, G *g) {
    gort_stack *s;
    if (p != NULL && p->stacks != NULL) {
        s = pop(&p->stacks);
        p->nstacks--;
    } else {
        gort_lock(&slab.lock);
        while (p != NULL && p->nstacks < STACK_CACHE / 2 && (s = pop(&slab.free)) != NULL) { /* refill */
            push(&p->stacks, s);
            p->nstacks++;
        }
        if (p != NULL && (s = pop(&p->stacks)) != NULL)
            p->nstacks--;
        else if ((s = pop(&slab.free)) == NULL)
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

GORT_NOPREEMPT int gort_stack_map(G *g, size_t size) {
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

GORT_NOPREEMPT void gort_stack_put(P *p, G *g) {
    gort_stack *s = g->slot;
    g->slot = NULL;
    g->stack_lo = NULL;
    g->stack_size = 0;
    g->canary = NULL;
    if (g->stack_map != NULL) {
        vg_stack_deregister(g->vg_stack);
        gort_os_unmap(g->stack_map, g->stack_map_size);
        g->stack_map = NULL;
        g->stack_map_size = 0;
        return;
    }
    if (s == NULL) return; /* it never started */
    if (p != NULL) {
        push(&p->stacks, s);
        if (++p->nstacks <= STACK_CACHE) return;
        /* full: the coldest half goes to the global list */
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

GORT_NOPREEMPT void gort_stack_drain(P *p) {
    gort_lock(&slab.lock);
    free_all(p->stacks);
    gort_unlock(&slab.lock);
    p->stacks = NULL;
    p->nstacks = 0;
}

/* Minimal async-signal-safe formatting (runtime.h). */
GORT_NOPREEMPT char *gort_put_str(char *p, char *end, const char *s) {
    while (*s && p < end) *p++ = *s++;
    return p;
}

GORT_NOPREEMPT char *gort_put_u64(char *p, char *end, uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v != 0);
    while (n > 0 && p < end) *p++ = tmp[--n];
    return p;
}

GORT_NOPREEMPT _Noreturn void gort_stack_overflow(G *g, const char *how, gort_sigctx *ctx) {
    char buf[256], *p = buf, *end = buf + sizeof buf - 1;
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

GORT_NOPREEMPT void gort_stack_check(G *g) {
    if (g->canary != NULL && *g->canary != canary_value(g->canary))
        gort_stack_overflow(g, ", canary clobbered", NULL);
}

GORT_NOPREEMPT void gort_stack_fault(G *g, void *addr, gort_sigctx *ctx) {
    uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)g->stack_lo, page = gort_os_pagesize();
    if (g->stack_lo != NULL && a < lo && a >= lo - page) gort_stack_overflow(g, "", ctx);
}
