/*
 * sema.c — semaphores keyed by address (Go's sema.go), and the sync types
 * built directly on them: gort_sema and gort_waitgroup.
 *
 * A semaphore is any 32-bit counter word.  semacquire takes one unit,
 * waiting while there is none; semrelease adds one and wakes one waiter.
 * Waiters queue in one of SEMTAB_SIZE buckets chosen by address, each with
 * its own lock, so a semaphore costs no memory of its own and needs no
 * init or destroy.
 *
 * Invariants:
 *   - A waiter is on its bucket's list iff it has not been woken; the
 *     waker unlinks it under the bucket lock before waking it, and never
 *     touches it again (it lives on the waiter's stack).
 *   - bucket.nwait counts queued waiters (and ones about to queue): a
 *     releaser that sees 0 after its increment may skip the lock, because
 *     an acquirer increments nwait before its last try (seq_cst on both).
 *   - Goroutines park; plain threads sleep on their thread note
 *     (gort_sleeper).  Either kind can wake the other.
 *   - A timed waiter (gort_semacquire_until) is claimed exactly once, by
 *     whoever unlinks it from its bucket under the bucket lock: a releaser
 *     (it then retries the counter) or its timeout (it then returns
 *     -ETIMEDOUT without having taken a unit, so no unit is lost: a unit
 *     released meanwhile stays in the counter or goes to the next waiter).
 *     A goroutine's timeout is a sync timer armed on g0 before the bucket
 *     is unlocked, and deleted (gort_timer_del_sync) before the waiter's
 *     frame goes; a thread times out on its note and then unlinks itself,
 *     or, if a releaser was first, takes that releaser's wakeup.
 * Woken waiters retry the counter, so a barging acquirer can overtake;
 * FIFO among waiters keeps that bounded.  The mutex's starvation mode
 * needs more: a hand-off release takes the unit for the first waiter
 * (ticket) and yields to it, and a waiter that already waited once queues
 * at the head (lifo).
 */
#include <errno.h>

#include "runtime/core/runtime.h"

#define SEMTAB_SIZE 251

typedef struct waiter waiter;
struct waiter {
    _Atomic(uint32_t) *addr;
    gort_sleeper s;
    bool ticket; /* a hand-off release took the unit for us */
    waiter *next;
};

/* gort_semacquire_until's waiter: a waiter (first) and its timeout. */
typedef struct twaiter {
    waiter w;
    bool timedout;    /* its timeout unlinked it (under the bucket lock) */
    gort_tnode timer; /* a goroutine's timeout                           */
} twaiter;

typedef struct semroot {
    _Alignas(64) gort_os_lock lock; /* one cache line per bucket */
    waiter *head, *tail;
    _Atomic(uint32_t) nwait;
} semroot;

static semroot semtab[SEMTAB_SIZE];

GORT_RUNTIME_TEXT static semroot *root_of(_Atomic(uint32_t) *addr) {
    return &semtab[((uintptr_t)addr >> 3) % SEMTAB_SIZE];
}

GORT_RUNTIME_TEXT static bool can_acquire(_Atomic(uint32_t) *addr) {
    uint32_t v = atomic_load(addr);
    while (v > 0)
        if (atomic_compare_exchange_weak(addr, &v, v - 1)) return true;
    return false;
}

GORT_RUNTIME_TEXT static bool unlock_root(G *g, void *arg) {
    (void)g;
    gort_unlock(&((semroot *)arg)->lock);
    return true;
}

GORT_RUNTIME_TEXT void gort_semacquire1(_Atomic(uint32_t) *addr, bool lifo, const char *reason) {
    if (can_acquire(addr)) return;
    semroot *r = root_of(addr);
    waiter w = {addr, {NULL, NULL}, false, NULL};
    gort_sleeper_init(&w.s);

    for (;;) {
        gort_lock(&r->lock);
        atomic_fetch_add(&r->nwait, 1);
        if (can_acquire(addr)) {
            atomic_fetch_sub(&r->nwait, 1);
            gort_unlock(&r->lock);
            return;
        }
        w.next = NULL;
        if (lifo && r->head != NULL) {
            w.next = r->head;
            r->head = &w;
        } else {
            if (r->tail != NULL)
                r->tail->next = &w;
            else
                r->head = &w;
            r->tail = &w;
        }
        gort_block(&w.s, unlock_root, r, reason);
        if (w.ticket || can_acquire(addr)) return;
        lifo = true; /* waited once already: go first next time */
    }
}

GORT_RUNTIME_TEXT void gort_semacquire(_Atomic(uint32_t) *addr, const char *reason) {
    gort_semacquire1(addr, false, reason);
}

/* ---- timed acquire ----------------------------------------------------- */

/* Queue w at r's tail (lifo: head); r locked. */
GORT_RUNTIME_TEXT static void enqueue(semroot *r, waiter *w, bool lifo) {
    w->next = NULL;
    if (lifo && r->head != NULL) {
        w->next = r->head;
        r->head = w;
        return;
    }
    if (r->tail != NULL)
        r->tail->next = w;
    else
        r->head = w;
    r->tail = w;
}

/* Unlink w if it is still queued on r (r locked): true if it was, and so
 * no releaser has claimed it. */
GORT_RUNTIME_TEXT static bool unlink_waiter(semroot *r, waiter *w) {
    waiter *prev = NULL;
    for (waiter **link = &r->head; *link != NULL; prev = *link, link = &(*link)->next) {
        if (*link != w) continue;
        *link = w->next;
        if (r->tail == w) r->tail = prev;
        atomic_fetch_sub(&r->nwait, 1);
        return true;
    }
    return false;
}

/* A goroutine's timeout, on some M's g0: claim the waiter unless a
 * releaser did.  Its goroutine deletes this timer synchronously before the
 * waiter goes away. */
GORT_RUNTIME_TEXT static void sema_timeout(void *arg, int64_t now) {
    twaiter *t = arg;
    semroot *r = root_of(t->w.addr);
    (void)now;
    gort_lock(&r->lock);
    bool mine = unlink_waiter(r, &t->w);
    if (mine) t->timedout = true;
    gort_unlock(&r->lock);
    if (mine) gort_unblock(&t->w.s);
}

/* On g0, the goroutine parked with its waiter queued: arm the timeout, then
 * unlock the bucket (after which the waiter may be claimed and gone). */
GORT_RUNTIME_TEXT static bool timed_commit(G *g, void *arg) {
    twaiter *t = arg;
    semroot *r = root_of(t->w.addr);
    (void)g;
    gort_timer_add(gort_getm()->p, &t->timer); /* lock order: bucket, then timer heap */
    gort_unlock(&r->lock);
    return true;
}

GORT_RUNTIME_TEXT int gort_semacquire_until(_Atomic(uint32_t) *addr, int64_t deadline, const char *reason) {
    if (can_acquire(addr)) return 0;
    if (deadline < 0) return -EAGAIN;
    if (deadline == 0) {
        gort_semacquire1(addr, false, reason);
        return 0;
    }
    semroot *r = root_of(addr);
    twaiter t = {.w = {addr, {NULL, NULL}, false, NULL}};
    bool lifo = false;
    gort_sleeper_init(&t.w.s);
    for (;;) {
        int64_t left = deadline - gort_os_nanotime();
        gort_lock(&r->lock);
        atomic_fetch_add(&r->nwait, 1);
        if (can_acquire(addr)) {
            atomic_fetch_sub(&r->nwait, 1);
            gort_unlock(&r->lock);
            return 0;
        }
        if (left <= 0) {
            atomic_fetch_sub(&r->nwait, 1);
            gort_unlock(&r->lock);
            return -ETIMEDOUT;
        }
        enqueue(r, &t.w, lifo);
        t.timedout = false;
        if (t.w.s.g != NULL) {
            t.timer = (gort_tnode){.when = deadline, .f = sema_timeout, .arg = &t, .idx = -1, .sync = true};
            gort_park(timed_commit, &t, reason);
            gort_timer_del_sync(&t.timer); /* t is on this stack */
        } else {
            gort_unlock(&r->lock);
            if (!gort_note_sleep_for(t.w.s.note, left)) {
                gort_lock(&r->lock);
                t.timedout = unlink_waiter(r, &t.w);
                gort_unlock(&r->lock);
                if (!t.timedout) gort_note_sleep(t.w.s.note); /* a releaser claimed us: its wakeup comes */
            }
            gort_note_clear(t.w.s.note);
        }
        if (t.w.ticket || can_acquire(addr)) return 0;
        if (t.timedout) return -ETIMEDOUT;
        lifo = true; /* woken, and overtaken: go first next time */
    }
}

/* Wake one waiter for a unit just added to *addr. */
GORT_RUNTIME_TEXT static void sem_wake(_Atomic(uint32_t) *addr, bool handoff) {
    semroot *r = root_of(addr);
    if (atomic_load(&r->nwait) == 0) return;
    gort_lock(&r->lock);
    waiter **link = &r->head, *prev = NULL, *w;
    for (w = r->head; w != NULL; prev = w, w = w->next) {
        if (w->addr != addr) {
            link = &w->next;
            continue;
        }
        *link = w->next;
        if (r->tail == w) r->tail = prev;
        atomic_fetch_sub(&r->nwait, 1);
        if (handoff && can_acquire(addr)) w->ticket = true;
        break;
    }
    gort_unlock(&r->lock);
    if (w == NULL) return;
    bool yield = handoff && w->ticket;
    gort_unblock(&w->s);
    /* The woken goroutine is in our runnext: yield runs it at once. */
    if (yield && gort_getg() != NULL) gort_yield();
}

GORT_RUNTIME_TEXT void gort_semrelease1(_Atomic(uint32_t) *addr, bool handoff) {
    atomic_fetch_add(addr, 1);
    sem_wake(addr, handoff);
}

GORT_RUNTIME_TEXT void gort_semrelease(_Atomic(uint32_t) *addr) { gort_semrelease1(addr, false); }

GORT_RUNTIME_TEXT void gort_semwake(_Atomic(uint32_t) *addr, bool handoff) { sem_wake(addr, handoff); }

/* ---- gort_sema ---------------------------------------------------------- */

GORT_RUNTIME_TEXT static _Atomic(uint32_t) *sema_word(gort_sema *s) { return (_Atomic(uint32_t) *)(void *)&s->count_; }
_Static_assert(sizeof(_Atomic(uint32_t)) == sizeof(uint32_t), "gort_sema layout");

GORT_RUNTIME_TEXT int gort_sema_acquire(gort_sema *s) {
    gort_preempt_check();
    if (s == NULL) return -EINVAL;
    gort_semacquire(sema_word(s), "semaphore");
    return 0;
}

GORT_RUNTIME_TEXT int gort_sema_release(gort_sema *s) {
    if (s == NULL) return -EINVAL;
    uint32_t v = atomic_load(sema_word(s));
    do {
        if (v == UINT32_MAX) return -EOVERFLOW; /* checked and added in one step */
    } while (!atomic_compare_exchange_weak(sema_word(s), &v, v + 1));
    sem_wake(sema_word(s), false);
    return 0;
}

/* ---- gort_waitgroup ------------------------------------------------------
 * state: counter in the high 32 bits (signed), waiters in the low 32.
 * When the counter reaches zero with waiters, add() resets state to 0 and
 * releases the semaphore once per waiter (Go's WaitGroup). */

typedef struct wg_internal {
    _Atomic(uint64_t) state;
    _Atomic(uint32_t) sema;
    uint32_t pad;
} wg_internal;
_Static_assert(sizeof(wg_internal) == sizeof(gort_waitgroup), "gort_waitgroup layout");
_Static_assert(_Alignof(wg_internal) <= _Alignof(gort_waitgroup), "gort_waitgroup alignment");

GORT_RUNTIME_TEXT int gort_waitgroup_add(gort_waitgroup *wgp, int64_t delta) {
    wg_internal *wg = (wg_internal *)(void *)wgp;
    /* The counter is in [0, INT32_MAX]: a delta beyond that range cannot
     * fit (and counter + delta must not overflow int64_t). */
    if (wg == NULL || delta > INT32_MAX || delta < -(int64_t)INT32_MAX) return -EINVAL;
    uint64_t old = atomic_load(&wg->state), now;
    int64_t v;
    uint32_t waiters;
    do {
        v = (int64_t)(int32_t)(uint32_t)(old >> 32) + delta;
        waiters = (uint32_t)old;
        if (v < 0 || v > INT32_MAX) return -EINVAL; /* counter left as it was */
        now = v == 0 ? 0 : ((uint64_t)(uint32_t)(int32_t)v << 32) | waiters;
    } while (!atomic_compare_exchange_weak(&wg->state, &old, now));
    if (v > 0 || waiters == 0) return 0;
    for (uint32_t i = 0; i < waiters; i++) gort_semrelease(&wg->sema);
    return 0;
}

GORT_RUNTIME_TEXT int gort_waitgroup_done(gort_waitgroup *wg) { return gort_waitgroup_add(wg, -1); }

GORT_RUNTIME_TEXT int gort_waitgroup_wait(gort_waitgroup *wgp) {
    gort_preempt_check();
    wg_internal *wg = (wg_internal *)(void *)wgp;
    if (wg == NULL) return -EINVAL;
    uint64_t old = atomic_load(&wg->state);
    for (;;) {
        if ((old >> 32) == 0) return 0;
        if (atomic_compare_exchange_weak(&wg->state, &old, old + 1)) break;
    }
    gort_semacquire(&wg->sema, "waitgroup");
    return 0;
}
