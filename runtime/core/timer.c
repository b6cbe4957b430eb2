/*
 * timer.c — per-P timer heaps, and who wakes up to fire them.
 *
 * Each P has a 4-ary min-heap of timers ordered by `when`, guarded by its
 * own lock (as Go's p.timers).  Timers are added to the heap of the adding
 * M's P and fired by whichever M looks: the owner at every schedule, a
 * thief while stealing (so an idle P's timers still fire), or the one M
 * that sleeps until the earliest timer when every P is idle.  Timers no
 * running P owns — added by callers without a P (plain threads, system
 * calls) and those of a P retired by gort_maxprocs (gort_timers_move) —
 * are in sched.timerp's heap, which no M holds: every M looking for work
 * fires it, the sleeper M sleeps until it too, and sysmon fires it while
 * any P runs, so they fire whatever a P is doing (held by a goroutine that
 * never yields, or blocked outside gort).
 *
 * Invariants:
 *   - heap[i]->idx == i; a timer not in a heap has idx == -1.
 *   - timers.next == heap[0]->when (0 when empty), published with seq_cst
 *     after every change, so scanners need no lock.
 *   - f runs with no lock held, and the timer is out of the heap (one-shot)
 *     or already re-inserted (periodic) before f runs: f may free a
 *     one-shot timer, e.g. by readying the goroutine whose stack holds it.
 *   - A sync timer has running > 0 from its removal (under the heap lock)
 *     until f returns, so gort_timer_del_sync can wait out a firing
 *     callback before its owner frees it (select timeouts, gort_timer).
 *   - Two Ms may fire consecutive periods of a ticker at once (one is
 *     slow to call f, another finds the next period due).  A periodic
 *     sync timer's firings call f in the order they were taken (a ticket
 *     under the heap lock), so a ticker never sends an older fire time
 *     after a newer one.
 *
 * Wakeups (gort_timers_notify): adding a timer publishes timers.next, then
 * reads sched.timer_until; the sleeping M publishes timer_until, then
 * re-scans every timers.next.  With seq_cst on both sides one of them sees
 * the other, so a new earlier timer is never slept through.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime/core/runtime.h"

GORT_RUNTIME_TEXT static void publish(gort_timers *ts) {
    atomic_store(&ts->next, ts->n > 0 ? ts->heap[0]->when : 0);
}

GORT_RUNTIME_TEXT static void set_at(gort_timers *ts, int32_t i, gort_tnode *t) {
    ts->heap[i] = t;
    t->idx = i;
}

GORT_RUNTIME_TEXT static void sift_up(gort_timers *ts, int32_t i) {
    gort_tnode *t = ts->heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (ts->heap[parent]->when <= t->when) break;
        set_at(ts, i, ts->heap[parent]);
        i = parent;
    }
    set_at(ts, i, t);
}

GORT_RUNTIME_TEXT static void sift_down(gort_timers *ts, int32_t i) {
    gort_tnode *t = ts->heap[i];
    for (;;) {
        int32_t c = 4 * i + 1, best = -1;
        for (int32_t k = c; k < c + 4 && k < ts->n; k++)
            if (ts->heap[k]->when < (best < 0 ? t->when : ts->heap[best]->when)) best = k;
        if (best < 0) break;
        set_at(ts, i, ts->heap[best]);
        i = best;
    }
    set_at(ts, i, t);
}

GORT_RUNTIME_TEXT static void heap_remove_at(gort_timers *ts, int32_t i) {
    gort_tnode *t = ts->heap[i];
    ts->n--;
    if (i != ts->n) {
        set_at(ts, i, ts->heap[ts->n]);
        sift_down(ts, i);
        sift_up(ts, i);
    }
    t->idx = -1;
}

GORT_RUNTIME_TEXT static void heap_push(gort_timers *ts, gort_tnode *t) {
    if (ts->n == ts->cap) {
        int32_t cap = ts->cap ? ts->cap * 2 : 64;
        gort_tnode **h = realloc(ts->heap, (size_t)cap * sizeof *h);
        if (h == NULL) gort_fatal("gort: out of memory growing a timer heap");
        ts->heap = h;
        ts->cap = cap;
    }
    set_at(ts, ts->n++, t);
    sift_up(ts, t->idx);
}

GORT_RUNTIME_TEXT void gort_timer_add(P *p, gort_tnode *t) {
    gort_timers *ts = &p->timers;
    int64_t when = t->when; /* t may fire and be gone once unlocked */
    gort_lock(&ts->lock);
    atomic_store(&t->owner, p);
    heap_push(ts, t);
    publish(ts);
    gort_unlock(&ts->lock);
    gort_timers_notify(when);
}

/* The earliest deadline over all heaps does not change, so no one needs
 * waking; publishing to before from keeps the timers visible to a
 * concurrent gort_timers_earliest() throughout.  Called with sched.lock
 * held: must not notify (that takes sched.lock). */
GORT_RUNTIME_TEXT void gort_timers_move(P *from, P *to) {
    gort_timers *src = &from->timers, *dst = &to->timers;
    gort_lock(&src->lock); /* order: the retiring P's heap, then timerp's */
    gort_lock(&dst->lock);
    for (int32_t i = 0; i < src->n; i++) {
        gort_tnode *t = src->heap[i];
        t->idx = -1;
        atomic_store(&t->owner, to);
        heap_push(dst, t);
    }
    publish(dst);
    src->n = 0;
    publish(src);
    gort_unlock(&dst->lock);
    gort_unlock(&src->lock);
}

GORT_RUNTIME_TEXT bool gort_timer_del(gort_tnode *t) {
    for (;;) {
        P *p = atomic_load(&t->owner);
        if (p == NULL) return false;
        gort_timers *ts = &p->timers;
        gort_lock(&ts->lock);
        if (atomic_load(&t->owner) != p) { /* moved meanwhile: follow it */
            gort_unlock(&ts->lock);
            continue;
        }
        bool was = t->idx >= 0;
        if (was) {
            heap_remove_at(ts, t->idx);
            publish(ts);
        }
        gort_unlock(&ts->lock);
        return was;
    }
}

GORT_RUNTIME_TEXT void gort_timer_del_sync(gort_tnode *t) {
    gort_timer_del(t);
    /* A callback started before the delete sets running under the heap
     * lock; it is short (it readies a goroutine or sends on a buffered
     * channel), so spin. */
    while (atomic_load(&t->running) != 0) gort_os_thread_yield();
}

GORT_RUNTIME_TEXT void gort_timers_run(P *p, int64_t now) {
    gort_timers *ts = &p->timers;
    int64_t next = atomic_load_explicit(&ts->next, memory_order_relaxed);
    if (next == 0 || next > now) return;
    gort_lock(&ts->lock);
    while (ts->n > 0 && ts->heap[0]->when <= now) {
        gort_tnode *t = ts->heap[0];
        void (*f)(void *, int64_t) = t->f;
        void *arg = t->arg;
        bool sync = t->sync, ordered = sync && t->period > 0;
        uint32_t ticket = ordered ? t->fire_ticket++ : 0;
        if (t->period > 0) {
            /* Skip the periods already missed, as Go's ticker does;
             * saturate (a huge period means "not again", not a `when` that
             * wrapped into the past and fires at every look). */
            int64_t periods = 1 + (now - t->when) / t->period;
            t->when = periods > (INT64_MAX - t->when) / t->period ? INT64_MAX : t->when + t->period * periods;
            sift_down(ts, 0);
        } else {
            heap_remove_at(ts, 0);
        }
        if (sync) atomic_fetch_add(&t->running, 1); /* a counter: two Ms may fire a ticker */
        publish(ts);
        gort_unlock(&ts->lock);
        if (ordered) /* an M firing the period before (running > 0 keeps t) */
            for (int i = 0; atomic_load_explicit(&t->fired_done, memory_order_acquire) != ticket; i++)
                gort_spin_wait(i, 100);
        f(arg, now); /* a non-sync t may be gone after this */
        if (ordered) atomic_store_explicit(&t->fired_done, ticket + 1, memory_order_release);
        if (sync) atomic_fetch_sub(&t->running, 1);
        gort_lock(&ts->lock);
    }
    gort_unlock(&ts->lock);
}

GORT_RUNTIME_TEXT int64_t gort_timers_earliest(void) {
    int64_t best = atomic_load(&gort_sched_g.timerp->timers.next);
    int32_t n = atomic_load(&gort_sched_g.nallp);
    for (int32_t i = 0; i < n; i++) {
        int64_t w = atomic_load(&gort_sched_g.allp[i]->timers.next);
        if (w != 0 && (best == 0 || w < best)) best = w;
    }
    return best;
}

/* ---- gort_timer: the public timer (Go's time.Timer / time.Ticker) --------
 * A sync timer node plus a channel of one int64_t.  Each firing sends the
 * fire time without blocking; a full channel drops it. */

struct gort_timer {
    gort_tnode node;
    gort_chan *c;
};

GORT_RUNTIME_TEXT static void fire(void *arg, int64_t now) {
    gort_timer *t = arg;
    (void)gort_chan_send_timeout(t->c, &now, 0); /* never blocks on g0 */
}

GORT_RUNTIME_TEXT gort_timer *gort_timer_start(int64_t after_ns, int64_t period_ns) {
    gort_preempt_check();
    if (after_ns < 0 || period_ns < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (gort_forked()) {
        errno = -gort_forked_error();
        return NULL;
    }
    gort_lazy_init();
    gort_timer *t = calloc(1, sizeof *t);
    if (t == NULL || (t->c = gort_chan_make(sizeof(int64_t), 1)) == NULL) {
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    t->node.when = gort_deadline(after_ns);
    t->node.period = period_ns;
    t->node.f = fire;
    t->node.arg = t;
    t->node.idx = -1;
    t->node.sync = true;
    M *m = gort_getm();
    /* Without a P (a plain thread, a system call): the heap no P owns. */
    gort_timer_add(m != NULL && m->p != NULL ? m->p : gort_sched_g.timerp, &t->node);
    return t;
}

GORT_RUNTIME_TEXT gort_chan *gort_timer_chan(gort_timer *t) { return t != NULL ? t->c : NULL; }

GORT_RUNTIME_TEXT int gort_timer_stop(gort_timer *t) {
    if (t == NULL) return -EINVAL;
    if (gort_chan_has_waiters(t->c)) return -EBUSY; /* they would wake into freed memory */
    gort_timer_del_sync(&t->node); /* waits out a firing callback */
    gort_chan_free(t->c);
    free(t);
    return 0;
}
