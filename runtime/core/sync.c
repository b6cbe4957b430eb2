/*
 * sync.c — gort_mutex, gort_rwmutex, gort_cond, gort_once (Go's sync
 * package), on the address-keyed semaphores of sema.c.  Every type is
 * zero-initialisable, needs no destroy, parks goroutines and blocks plain
 * threads.
 *
 * Mutex (Go's sync.Mutex).  state: bit 0 locked, bit 1 woken (a waiter
 * is awake and trying, so unlock need not wake another), bit 2 starving,
 * the rest the number of waiters.  Normal mode: a woken waiter competes
 * with new arrivals, who spin a little first and usually win (good
 * throughput).  A waiter that has waited over 1 ms switches the mutex to
 * starvation mode: unlock then hands the mutex straight to the first
 * waiter, arrivals queue behind, so no waiter waits forever.  The last
 * waiter (or one that waited under 1 ms) switches back.
 *
 * RWMutex (Go's sync.RWMutex).  readers counts readers; a writer
 * subtracts RWMAX so new readers see a negative count and wait, then
 * waits for the readers already inside (readerwait) to leave.
 *
 * Cond (Go's notifyList).  A waiter takes a ticket under the cond's lock
 * before it unlocks the mutex; signal wakes the waiter holding the oldest
 * unserved ticket, or, if that waiter has not queued yet, leaves the
 * ticket marked served so it does not block at all.  No wakeup is lost
 * between the unlock and the wait.
 */
#include <errno.h>

#include "runtime/core/runtime.h"

/* ---- mutex ---------------------------------------------------------------- */

/* mutex_lock_slow starts a cache line.  Where it fell inside one decided,
 * from one unrelated build to the next, whether 4 goroutines hammering
 * one mutex on 2 Ps mostly spin and take turns (20-30 ns per lock and
 * unlock, ~150 parks per 10 M) or keep parking (one park per ~500, 44-61
 * ns): the two builds that put it 32 bytes into a line were slow in
 * every run, four at other offsets fast.  How the placement tips the
 * contention is not understood (the instructions are the same); this
 * pins it, so every build gets the same one. */
#define GORT_HOT_ALIGN __attribute__((aligned(64)))

enum { MUTEX_LOCKED = 1, MUTEX_WOKEN = 2, MUTEX_STARVING = 4, MUTEX_WAITER_SHIFT = 3 };
#define STARVATION_NS 1000000 /* 1 ms */

typedef struct mutex {
    _Atomic(int32_t) state;
    _Atomic(uint32_t) sema;
} mutex;
_Static_assert(sizeof(mutex) == sizeof(gort_mutex), "gort_mutex layout");

GORT_RUNTIME_TEXT static mutex *mu(gort_mutex *m) { return (mutex *)(void *)m; }

GORT_RUNTIME_TEXT static bool can_spin(int iter) {
    /* Spin only while another P may be running the holder. */
    return iter < 4 && atomic_load(&gort_sched_g.gomaxprocs) > 1;
}

GORT_RUNTIME_TEXT static void spin(void) {
    for (int i = 0; i < 30; i++) gort_cpu_relax();
}

GORT_RUNTIME_TEXT GORT_HOT_ALIGN static void mutex_lock_slow(mutex *m) {
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = atomic_load(&m->state);
    for (;;) {
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            /* Tell unlock not to wake anyone: we are awake and trying. */
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                atomic_compare_exchange_strong(&m->state, &old, old | MUTEX_WOKEN))
                awoke = true;
            spin();
            iter++;
            old = atomic_load(&m->state);
            continue;
        }
        int32_t new = old;
        if (!(old & MUTEX_STARVING)) new |= MUTEX_LOCKED; /* starving: queue, do not grab */
        if (old & (MUTEX_LOCKED | MUTEX_STARVING)) new += 1 << MUTEX_WAITER_SHIFT;
        if (starving && (old & MUTEX_LOCKED)) new |= MUTEX_STARVING;
        if (awoke) new &= ~MUTEX_WOKEN;
        if (!atomic_compare_exchange_strong(&m->state, &old, new)) continue;
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING))) return; /* got it */
        bool lifo = wait_start != 0;
        if (wait_start == 0) wait_start = gort_os_nanotime();
        gort_semacquire1(&m->sema, lifo, "mutex");
        starving = starving || gort_os_nanotime() - wait_start > STARVATION_NS;
        old = atomic_load(&m->state);
        if (old & MUTEX_STARVING) {
            /* Handed to us: take the lock, drop our waiter count, and
             * leave starvation mode if we are the last or did not wait
             * long. */
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1) delta -= MUTEX_STARVING;
            atomic_fetch_add(&m->state, delta);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

GORT_RUNTIME_TEXT int gort_mutex_lock(gort_mutex *gm) {
    gort_preempt_check();
    if (gm == NULL) return -EINVAL;
    int32_t zero = 0;
    if (!atomic_compare_exchange_strong(&mu(gm)->state, &zero, MUTEX_LOCKED)) mutex_lock_slow(mu(gm));
    return 0;
}

GORT_RUNTIME_TEXT int gort_mutex_trylock(gort_mutex *gm) {
    if (gm == NULL) return -EINVAL;
    mutex *m = mu(gm);
    int32_t old = atomic_load(&m->state);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING)) return -EBUSY;
    return atomic_compare_exchange_strong(&m->state, &old, old | MUTEX_LOCKED) ? 0 : -EBUSY;
}

GORT_RUNTIME_TEXT int gort_mutex_unlock(gort_mutex *gm) {
    if (gm == NULL) return -EINVAL;
    mutex *m = mu(gm);
    int32_t old = atomic_load(&m->state), new;
    do {
        if (!(old & MUTEX_LOCKED)) return -EPERM; /* unlock of an unlocked mutex */
        new = old - MUTEX_LOCKED;
    } while (!atomic_compare_exchange_weak(&m->state, &old, new));
    if (new == 0) return 0;
    if (new & MUTEX_STARVING) {
        gort_semrelease1(&m->sema, true); /* hand off to the first waiter */
        return 0;
    }
    old = new;
    for (;;) {
        /* No waiters, or someone is already awake/holding/starving. */
        if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING))) return 0;
        new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
        if (atomic_compare_exchange_weak(&m->state, &old, new)) {
            gort_semrelease1(&m->sema, false);
            return 0;
        }
    }
}

/* ---- rwmutex ---------------------------------------------------------------- */

#define RWMAX (1 << 30)

typedef struct rwmutex {
    gort_mutex w;                  /* held by a writer (or one waiting)    */
    _Atomic(uint32_t) writer_sem;  /* the writer waits for readers to go   */
    _Atomic(uint32_t) reader_sem;  /* readers wait for the writer          */
    _Atomic(int32_t) readers;      /* readers in; - RWMAX while a writer is */
    _Atomic(int32_t) readerwait;   /* readers the writer still waits for   */
} rwmutex;
_Static_assert(sizeof(rwmutex) == sizeof(gort_rwmutex), "gort_rwmutex layout");

GORT_RUNTIME_TEXT static rwmutex *rwm(gort_rwmutex *rw) { return (rwmutex *)(void *)rw; }

GORT_RUNTIME_TEXT int gort_rwmutex_rlock(gort_rwmutex *grw) {
    gort_preempt_check();
    if (grw == NULL) return -EINVAL;
    rwmutex *rw = rwm(grw);
    if (atomic_fetch_add(&rw->readers, 1) + 1 < 0) gort_semacquire(&rw->reader_sem, "rwmutex rlock");
    return 0;
}

GORT_RUNTIME_TEXT int gort_rwmutex_runlock(gort_rwmutex *grw) {
    if (grw == NULL) return -EINVAL;
    rwmutex *rw = rwm(grw);
    int32_t old = atomic_load(&rw->readers), r;
    do {
        /* No reader is in: refuse without touching the count (a transient
         * wrong count would strand a concurrent writer or reader). */
        if (old == 0 || old == -RWMAX) return -EPERM;
        r = old - 1;
    } while (!atomic_compare_exchange_weak(&rw->readers, &old, r));
    if (r >= 0) return 0;
    /* A writer waits: the last reader out lets it in. */
    if (atomic_fetch_sub(&rw->readerwait, 1) - 1 == 0) gort_semrelease(&rw->writer_sem);
    return 0;
}

GORT_RUNTIME_TEXT int gort_rwmutex_lock(gort_rwmutex *grw) {
    gort_preempt_check();
    if (grw == NULL) return -EINVAL;
    rwmutex *rw = rwm(grw);
    gort_mutex_lock(&rw->w); /* one writer at a time */
    int32_t r = atomic_fetch_sub(&rw->readers, RWMAX);
    if (r != 0 && atomic_fetch_add(&rw->readerwait, r) + r != 0)
        gort_semacquire(&rw->writer_sem, "rwmutex lock");
    return 0;
}

GORT_RUNTIME_TEXT int gort_rwmutex_unlock(gort_rwmutex *grw) {
    if (grw == NULL) return -EINVAL;
    rwmutex *rw = rwm(grw);
    int32_t r = atomic_load(&rw->readers);
    do {
        if (r >= 0) return -EPERM; /* not write-locked */
    } while (!atomic_compare_exchange_weak(&rw->readers, &r, r + RWMAX));
    r += RWMAX; /* readers that queued meanwhile: let them all in */
    for (int32_t i = 0; i < r; i++) gort_semrelease(&rw->reader_sem);
    gort_mutex_unlock(&rw->w);
    return 0;
}

/* ---- cond ------------------------------------------------------------------ */

typedef struct cwaiter cwaiter;
struct cwaiter {
    gort_sleeper s;
    uint32_t ticket;
    cwaiter *next;
};

typedef struct cond {
    gort_os_lock lock;
    uint32_t wait;   /* next ticket to hand out                 */
    uint32_t notify; /* next ticket to serve                    */
    uint32_t pad;
    cwaiter *head, *tail;
} cond;
_Static_assert(sizeof(cond) <= sizeof(gort_cond), "gort_cond layout");

GORT_RUNTIME_TEXT static cond *cv(gort_cond *c) { return (cond *)(void *)c; }

GORT_RUNTIME_TEXT static bool ticket_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

GORT_RUNTIME_TEXT static bool unlock_cond(G *g, void *arg) {
    (void)g;
    gort_unlock(&((cond *)arg)->lock);
    return true;
}

GORT_RUNTIME_TEXT int gort_cond_wait(gort_cond *gc, gort_mutex *gm) {
    gort_preempt_check();
    if (gc == NULL || gm == NULL) return -EINVAL;
    if (!(atomic_load(&mu(gm)->state) & MUTEX_LOCKED)) return -EPERM;
    cond *c = cv(gc);
    cwaiter w;
    gort_sleeper_init(&w.s);
    gort_lock(&c->lock);
    w.ticket = c->wait++;
    gort_unlock(&c->lock);

    int err = gort_mutex_unlock(gm);
    if (err != 0) {
        /* Our ticket will never queue; a signal may be spent on it.  Turn
         * that lost signal into spurious wakeups, which a cond allows. */
        gort_cond_broadcast(gc);
        return err;
    }
    gort_lock(&c->lock);
    if (ticket_before(w.ticket, c->notify)) { /* signalled already */
        gort_unlock(&c->lock);
    } else {
        w.next = NULL;
        if (c->tail != NULL)
            c->tail->next = &w;
        else
            c->head = &w;
        c->tail = &w;
        gort_block(&w.s, unlock_cond, c, "cond");
    }
    return gort_mutex_lock(gm);
}

GORT_RUNTIME_TEXT int gort_cond_signal(gort_cond *gc) {
    if (gc == NULL) return -EINVAL;
    cond *c = cv(gc);
    cwaiter *w, *prev = NULL;
    gort_lock(&c->lock);
    if (c->wait == c->notify) {
        gort_unlock(&c->lock);
        return 0;
    }
    uint32_t t = c->notify++;
    for (w = c->head; w != NULL; prev = w, w = w->next) {
        if (w->ticket != t) continue;
        if (prev != NULL)
            prev->next = w->next;
        else
            c->head = w->next;
        if (c->tail == w) c->tail = prev;
        break;
    }
    gort_unlock(&c->lock);
    if (w != NULL) gort_unblock(&w->s); /* else it sees its ticket served */
    return 0;
}

GORT_RUNTIME_TEXT int gort_cond_broadcast(gort_cond *gc) {
    if (gc == NULL) return -EINVAL;
    cond *c = cv(gc);
    gort_lock(&c->lock);
    cwaiter *w = c->head;
    c->head = c->tail = NULL;
    c->notify = c->wait;
    gort_unlock(&c->lock);
    while (w != NULL) {
        cwaiter *next = w->next; /* read before the wakeup frees w */
        gort_unblock(&w->s);
        w = next;
    }
    return 0;
}

/* ---- once ------------------------------------------------------------------ */

typedef struct once {
    _Atomic(uint32_t) done;
    gort_mutex m;
} once;
_Static_assert(sizeof(once) == sizeof(gort_once), "gort_once layout");

GORT_RUNTIME_TEXT int gort_once_do(gort_once *go, void (*fn)(void *), void *arg) {
    if (go == NULL || fn == NULL) return -EINVAL;
    once *o = (once *)(void *)go;
    if (atomic_load_explicit(&o->done, memory_order_acquire)) return 0;
    gort_mutex_lock(&o->m); /* later callers wait here until fn returned */
    if (!atomic_load_explicit(&o->done, memory_order_relaxed)) {
        fn(arg);
        atomic_store_explicit(&o->done, 1, memory_order_release);
    }
    gort_mutex_unlock(&o->m);
    return 0;
}
