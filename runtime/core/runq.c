/*
 * runq.c — the run queues: per-P lock-free rings and the global queue.
 *
 * Local queue (Go's runqput/runqget/runqsteal): a ring of RUNQ_SIZE G
 * pointers.  Invariants:
 *   - Only the owning P writes runqtail and the slots in [tail, head+SIZE);
 *     it publishes them with a release store of runqtail.
 *   - Anyone (the owner or a thief) consumes from runqhead with a CAS; a
 *     thief first copies the slots it claims, then CASes head, so a slot is
 *     never read after the owner may overwrite it.
 *   - runnext is a single slot the owner fills and anyone may take by CAS;
 *     a G taken from it inherits the current time slice (no schedtick).
 *     A thief takes a running P's runnext only if that P did not switch
 *     during a 3 us wait: then the G that readied it is still running.
 *     A P that switched is cycling through the Gs it readies (a
 *     ping-pong pair, a producer and its consumer); taking one would only
 *     split them between two cores, so the thief is told (`cycling`) and
 *     keeps watching instead (proc.c, find_runnable).
 * Overflow: when the ring is full, half of it plus the new G move to the
 * global queue in one batch (runq_put_slow), so a producer never blocks.
 *
 * Global queue: a linked list through g->schedlink under sched.lock;
 * runqsize is atomic so it can be checked without the lock.
 */
#include "runtime/core/runtime.h"

#define RQ_LOAD(p) atomic_load_explicit(p, memory_order_acquire)
#define RQ_SLOT(p, i) (&(p)->runq[(i) % RUNQ_SIZE])

GORT_RUNTIME_TEXT bool gort_runq_empty(P *p) {
    /* head, tail and runnext are read separately; like Go's runqempty we
     * re-read tail to be sure runnext was not moved to the ring meanwhile. */
    for (;;) {
        uint32_t head = RQ_LOAD(&p->runqhead);
        uint32_t tail = RQ_LOAD(&p->runqtail);
        G *next = RQ_LOAD(&p->runnext);
        if (tail == RQ_LOAD(&p->runqtail)) return head == tail && next == NULL;
    }
}

GORT_RUNTIME_TEXT uint32_t gort_runq_len(P *p) {
    uint32_t head = RQ_LOAD(&p->runqhead);
    uint32_t tail = RQ_LOAD(&p->runqtail);
    return tail - head;
}

/* The ring is full: move half of it and g to the global queue. */
GORT_RUNTIME_TEXT static bool runq_put_slow(P *p, G *g, uint32_t head, uint32_t tail) {
    enum { HALF = RUNQ_SIZE / 2 };
    G *batch[HALF + 1];
    uint32_t n = (tail - head) / 2;

    if (n != HALF) gort_fatal("gort: runq_put_slow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(RQ_SLOT(p, head + i), memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &head, head + n, memory_order_release,
                                                 memory_order_relaxed))
        return false; /* a thief took some: the ring has room again */
    batch[n] = g;
    for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
    gort_lock(&gort_sched_g.lock);
    gort_globrunq_put_batch(batch[0], batch[n], (int32_t)n + 1);
    gort_unlock(&gort_sched_g.lock);
    return true;
}

GORT_RUNTIME_TEXT bool gort_runq_put(P *p, G *g, bool next) {
    if (next) {
        /* seq_cst: a full barrier, which gort_wakep relies on. */
        G *old = atomic_exchange_explicit(&p->runnext, g, memory_order_seq_cst);
        if (old == NULL) return false;
        g = old; /* kick the old runnext to the tail of the ring */
    }
    for (;;) {
        uint32_t head = RQ_LOAD(&p->runqhead);
        uint32_t tail = atomic_load_explicit(&p->runqtail, memory_order_relaxed); /* we own it */
        if (tail - head < RUNQ_SIZE) {
            atomic_store_explicit(RQ_SLOT(p, tail), g, memory_order_relaxed);
            atomic_store_explicit(&p->runqtail, tail + 1, memory_order_release);
            return true;
        }
        if (runq_put_slow(p, g, head, tail)) return false; /* under sched.lock */
    }
}

GORT_RUNTIME_TEXT G *gort_runq_get(P *p, bool *inherit) {
    G *next = RQ_LOAD(&p->runnext);
    if (next != NULL && atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL, memory_order_acq_rel,
                                                                memory_order_relaxed)) {
        *inherit = true;
        return next;
    }
    *inherit = false;
    for (;;) {
        uint32_t head = RQ_LOAD(&p->runqhead);
        uint32_t tail = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
        if (tail == head) return NULL;
        G *g = atomic_load_explicit(RQ_SLOT(p, head), memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&p->runqhead, &head, head + 1, memory_order_release,
                                                  memory_order_relaxed))
            return g;
    }
}

/* Copy half of victim's ring into dst's ring starting at dst slot `at`,
 * without publishing; returns how many.  With stealnext, take the victim's
 * runnext when its ring is empty, unless the victim is cycling (see
 * gort_runq_steal). */
GORT_RUNTIME_TEXT static uint32_t runq_grab(P *victim, P *dst, uint32_t at, bool stealnext, bool *cycling) {
    for (;;) {
        uint32_t head = RQ_LOAD(&victim->runqhead);
        uint32_t tail = RQ_LOAD(&victim->runqtail);
        uint32_t n = tail - head;
        n -= n / 2;
        if (n == 0) {
            G *next;
            if (!stealnext || (next = RQ_LOAD(&victim->runnext)) == NULL) return 0;
            if (atomic_load_explicit(&victim->status, memory_order_relaxed) == P_RUNNING) {
                /* The victim is most likely about to run its runnext
                 * itself (a G it just readied and is about to block for):
                 * give it 3 us (50-80 with Linux's timer slack).  If it
                 * switched meanwhile, it is cycling through the Gs it
                 * readies, as a ping-pong pair does: taking one would only
                 * split the pair.  If it did not, the G that readied this
                 * one is still running and this one would wait for it. */
                uint64_t switches = atomic_load_explicit(&victim->n_switches, memory_order_relaxed);
                gort_os_nanosleep(3000);
                if (atomic_load_explicit(&victim->n_switches, memory_order_relaxed) != switches) {
                    if (cycling != NULL) *cycling = true;
                    return 0;
                }
                if (RQ_LOAD(&victim->runnext) != next) continue;
            }
            if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL, memory_order_acq_rel,
                                                         memory_order_relaxed))
                continue;
            atomic_store_explicit(RQ_SLOT(dst, at), next, memory_order_relaxed);
            return 1;
        }
        if (n > RUNQ_SIZE / 2) continue; /* head and tail read inconsistently */
        for (uint32_t i = 0; i < n; i++) {
            G *g = atomic_load_explicit(RQ_SLOT(victim, head + i), memory_order_relaxed);
            atomic_store_explicit(RQ_SLOT(dst, at + i), g, memory_order_relaxed);
        }
        if (atomic_compare_exchange_weak_explicit(&victim->runqhead, &head, head + n, memory_order_release,
                                                  memory_order_relaxed))
            return n;
    }
}

GORT_RUNTIME_TEXT G *gort_runq_steal(P *p, P *victim, bool stealnext, bool *cycling) {
    uint32_t tail = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    uint32_t n = runq_grab(victim, p, tail, stealnext, cycling);
    if (n == 0) return NULL;
    n--;
    G *g = atomic_load_explicit(RQ_SLOT(p, tail + n), memory_order_relaxed);
    if (n == 0) return g;
    uint32_t head = RQ_LOAD(&p->runqhead);
    if (tail - head + n >= RUNQ_SIZE) gort_fatal("gort: runq_steal: local queue overflow");
    atomic_store_explicit(&p->runqtail, tail + n, memory_order_release);
    return g;
}

/* ---- global queue (sched.lock held) ------------------------------------ */

GORT_RUNTIME_TEXT void gort_globrunq_put(G *g) {
    g->schedlink = NULL;
    gort_globrunq_put_batch(g, g, 1);
}

GORT_RUNTIME_TEXT void gort_globrunq_put_batch(G *head, G *tail, int32_t n) {
    gort_sched *s = &gort_sched_g;
    tail->schedlink = NULL;
    if (s->runq_tail != NULL)
        s->runq_tail->schedlink = head;
    else
        s->runq_head = head;
    s->runq_tail = tail;
    atomic_fetch_add_explicit(&s->runqsize, n, memory_order_relaxed);
}

/* Take a fair share of the global queue: one G to run, the rest (up to
 * max if > 0, and half a ring) into p's local ring. */
GORT_RUNTIME_TEXT G *gort_globrunq_get(P *p, int32_t max) {
    gort_sched *s = &gort_sched_g;
    int32_t size = atomic_load_explicit(&s->runqsize, memory_order_relaxed);
    int32_t procs = atomic_load_explicit(&s->gomaxprocs, memory_order_relaxed);
    if (size == 0) return NULL;
    int32_t n = size / procs + 1;
    if (n > size) n = size;
    if (max > 0 && n > max) n = max;
    if (n > RUNQ_SIZE / 2) n = RUNQ_SIZE / 2;
    uint32_t room = RUNQ_SIZE - gort_runq_len(p); /* never overflow: we hold sched.lock */
    if ((uint32_t)n > room + 1) n = (int32_t)room + 1;
    atomic_fetch_sub_explicit(&s->runqsize, n, memory_order_relaxed);
    G *g = s->runq_head;
    s->runq_head = g->schedlink;
    for (int32_t i = 1; i < n; i++) {
        G *g1 = s->runq_head;
        s->runq_head = g1->schedlink;
        gort_runq_put(p, g1, false);
    }
    if (s->runq_head == NULL) s->runq_tail = NULL;
    return g;
}
