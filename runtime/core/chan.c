/*
 * chan.c — channels and select (Go's chan.go and select.go).
 *
 * A channel is a lock, a ring buffer of cap elements, and two queues of
 * blocked operations: senders and receivers.  Invariants (c->lock held):
 *   - At least one of sendq and recvq is empty, counting only waiters
 *     not yet claimed.
 *   - Buffered: if count > 0, recvq has no live waiter; if count < cap,
 *     sendq has no live waiter.  Unbuffered: count == 0 always.
 *   - A closed channel has an empty sendq and recvq (close wakes all).
 *
 * Blocking.  Every blocked operation — a plain send or receive, or a whole
 * select — is one `op` on its caller's stack, with one `waiter` per case
 * queued on the case's channel.  Whoever completes a case first *claims*
 * the op (a CAS on op.done), fills in which case won and its result, and
 * wakes the caller; a waker that loses the CAS unlinks that waiter and
 * looks further.  A timeout is one more claimant.  After waking, the
 * caller unlinks its other waiters.  Ops and waiters live on the blocked
 * caller's stack (our stacks never move): no allocation on any path, and
 * a waker never touches them after the wakeup.
 *
 * Hand-off.  A sender that finds a waiting receiver copies its value
 * straight into the receiver's buffer (and the reverse), never through the
 * channel's ring, and the woken goroutine goes to the waker's runnext, so
 * a ping-pong stays on one P.
 *
 * Select locks its channels in address order (each once: a channel may
 * appear in several cases, both ways), polls the cases in a random order
 * so the choice among ready cases is uniform, and else queues a waiter on
 * every channel and blocks.
 *
 * Waking happens after the channel lock is released.
 *
 * gort_chan_free (and gort_timer_stop) refuse a channel with a queued
 * waiter, which still needs it: to be woken through it, or to unlink
 * itself from it.  An op that locks its channels again after waking (a
 * select, to unlink its other waiters; a timed op, to unlink after a
 * timeout) pins each channel it queued on (c->pins, under c->lock) until
 * that last unlock: its waiter may be off the queue already (the case that
 * won, or one a losing waker unlinked) while it has yet to run, and a
 * program that freed the channel once the send returned would have it
 * lock freed memory.  gort_chan_free waits for the pins to go (their
 * owners are woken: a pinned op with no queued waiter has been claimed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/runtime.h"

typedef struct waiter waiter;
typedef struct op op;

struct op {
    gort_sleeper s;
    _Atomic(uint32_t) done; /* 0: waiting; 1: claimed                    */
    bool contended;         /* several claimants (a select, or a timeout):
                               claim with a CAS; else only the one waker
                               holding the channel lock can: a store */
    int which;              /* the case that completed; -1: timed out    */
    int result;             /* its result: 0 or -EPIPE                   */
};

struct waiter {
    op *op;
    gort_chan *c;
    void *elem;    /* value to send, or where a received value goes     */
    int idx;       /* case index                                        */
    bool queued;   /* on c's queue (c->lock)                            */
    waiter *next, *prev;
    waiter *wnext; /* close: list of waiters to wake                    */
};

typedef struct wq {
    waiter *head, *tail;
} wq;

struct gort_chan {
    gort_os_lock lock;
    bool closed;
    size_t elem_size, cap;
    size_t count, head; /* ring: count elements from head            */
    wq recvq, sendq;
    /* blocked ops that will lock c again after they are woken (a select's
     * pass 3, a timed op's unlink): gort_chan_free waits for them */
    size_t pins;
    char *buf;
};

/* ---- queues (c->lock held) ------------------------------------------------ */

GORT_NOPREEMPT static void wq_push(wq *q, waiter *w) {
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->queued = true;
}

GORT_NOPREEMPT static void wq_remove(wq *q, waiter *w) {
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->queued = false;
}

/* The first waiter whose op we can claim; others (claimed elsewhere) are
 * dropped from the queue. */
GORT_NOPREEMPT static waiter *wq_claim(wq *q) {
    waiter *w;
    while ((w = q->head) != NULL) {
        uint32_t zero = 0;
        wq_remove(q, w);
        if (!w->op->contended) {
            atomic_store_explicit(&w->op->done, 1, memory_order_relaxed);
            return w;
        }
        if (atomic_compare_exchange_strong(&w->op->done, &zero, 1)) return w;
    }
    return NULL;
}

/* The ring's i-th element from head (i < cap): a compare, not a division. */
GORT_NOPREEMPT static void *slot(gort_chan *c, size_t i) {
    size_t k = c->head + i;
    if (k >= c->cap) k -= c->cap;
    return c->buf + k * c->elem_size;
}

GORT_NOPREEMPT static void ring_pop_head(gort_chan *c) {
    if (++c->head == c->cap) c->head = 0;
}

/* Word-sized elements (the common case) copied inline, not through a call
 * to memcpy. */
GORT_NOPREEMPT static void copy_elem(gort_chan *c, void *dst, const void *src) {
    if (dst == NULL) return;
    switch (c->elem_size) {
    case 0: return;
    case 4: memcpy(dst, src, 4); return;
    case 8: memcpy(dst, src, 8); return;
    case 16: memcpy(dst, src, 16); return;
    default: memcpy(dst, src, c->elem_size);
    }
}

GORT_NOPREEMPT static void zero_elem(gort_chan *c, void *dst) {
    if (c->elem_size != 0 && dst != NULL) memset(dst, 0, c->elem_size);
}

/* Complete a claimed waiter's case. */
GORT_NOPREEMPT static void fill(waiter *w, int result) {
    w->op->which = w->idx;
    w->op->result = result;
}

/* ---- one case, without blocking (c->lock held) ---------------------------
 * Return 0 or -EPIPE when done, -EAGAIN when it would block; *wake is a
 * claimed waiter to wake once the lock is released. */

GORT_NOPREEMPT static int try_send(gort_chan *c, const void *elem, waiter **wake) {
    waiter *w;
    if (c->closed) return -EPIPE;
    if ((w = wq_claim(&c->recvq)) != NULL) { /* hand off */
        copy_elem(c, w->elem, elem);
        fill(w, 0);
        *wake = w;
        return 0;
    }
    if (c->count < c->cap) {
        copy_elem(c, slot(c, c->count), elem);
        c->count++;
        return 0;
    }
    return -EAGAIN;
}

GORT_NOPREEMPT static int try_recv(gort_chan *c, void *elem, waiter **wake) {
    waiter *w;
    if ((w = wq_claim(&c->sendq)) != NULL) {
        if (c->cap == 0) {
            copy_elem(c, elem, w->elem); /* hand off */
        } else {
            /* Full ring: take its head; the sender's value goes to the
             * tail, which is the slot just freed. */
            copy_elem(c, elem, slot(c, 0));
            copy_elem(c, slot(c, 0), w->elem);
            ring_pop_head(c);
        }
        fill(w, 0);
        *wake = w;
        return 0;
    }
    if (c->count > 0) {
        copy_elem(c, elem, slot(c, 0));
        ring_pop_head(c);
        c->count--;
        return 0;
    }
    if (c->closed) {
        zero_elem(c, elem);
        return -EPIPE;
    }
    return -EAGAIN;
}

/* ---- blocking ------------------------------------------------------------ */

typedef struct lockset {
    gort_chan **chans; /* sorted, distinct */
    size_t n;
} lockset;

GORT_NOPREEMPT static void lock_all(lockset *ls) {
    for (size_t i = 0; i < ls->n; i++) gort_lock(&ls->chans[i]->lock);
}

GORT_NOPREEMPT static void unlock_all(lockset *ls) {
    for (size_t i = ls->n; i > 0; i--) gort_unlock(&ls->chans[i - 1]->lock);
}

typedef struct block_ctx {
    lockset *ls;
    gort_tnode *timer; /* NULL: no timeout */
} block_ctx;

/* On g0 after the goroutine parked (or on the thread): arm the timeout,
 * then release the channels.  In that order: once a channel is unlocked a
 * waker may complete the op and the goroutine may run, delete its timer
 * and return, so the timer must be in a heap by then (lock order: channel,
 * then timer heap).  The timer may fire at once: the G is parked, but once
 * the timer is armed the goroutine may run and leave block(), whose frame
 * holds *b: read everything needed from b before arming. */
GORT_NOPREEMPT static bool block_unlock(G *g, void *arg) {
    block_ctx *b = arg;
    lockset *ls = b->ls; /* b may be gone once the timer is armed */
    if (g != NULL && b->timer != NULL) {
        M *m = gort_getm();
        gort_timer_add(m->p, b->timer);
    }
    unlock_all(ls); /* the lockset outlives this: its owner needs these locks to leave */
    return true;
}

GORT_NOPREEMPT static void timeout_fire(void *arg, int64_t now) {
    op *o = arg;
    uint32_t zero = 0;
    (void)now;
    if (atomic_compare_exchange_strong(&o->done, &zero, 1)) {
        o->which = -1;
        gort_unblock(&o->s);
    }
}

/* Block o, whose waiters are queued on the locked channels of ls, until a
 * case completes or timeout_ns (> 0; < 0: forever) passes.  Returns with
 * the channels unlocked and o->which set. */
GORT_NOPREEMPT static void block(op *o, lockset *ls, int64_t timeout_ns, const char *reason) {
    gort_tnode t = {.f = timeout_fire, .arg = o, .idx = -1, .sync = true};
    block_ctx b = {ls, NULL};
    if (timeout_ns > 0) {
        t.when = gort_deadline(timeout_ns);
        b.timer = &t;
    }
    if (o->s.g != NULL) {
        gort_park(block_unlock, &b, reason);
        if (b.timer != NULL) gort_timer_del_sync(&t); /* t is on this stack */
        return;
    }
    /* A plain thread times out on its own note. */
    block_unlock(NULL, &b);
    uint32_t zero = 0;
    if (timeout_ns > 0 && !gort_note_sleep_for(o->s.note, timeout_ns) &&
        atomic_compare_exchange_strong(&o->done, &zero, 1)) {
        o->which = -1; /* the timeout won */
        return;
    }
    gort_note_sleep(o->s.note); /* woken, or a waker won and is about to wake us */
    gort_note_clear(o->s.note);
}

GORT_NOPREEMPT static void op_init(op *o, bool contended) {
    gort_sleeper_init(&o->s);
    o->contended = contended;
    atomic_store_explicit(&o->done, 0, memory_order_relaxed);
    o->which = -1;
    o->result = 0;
}

/* ---- channels ------------------------------------------------------------ */

GORT_NOPREEMPT gort_chan *gort_chan_make(size_t elem_size, size_t cap) {
    gort_chan *c;
    if (elem_size != 0 && cap > SIZE_MAX / 2 / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    if ((c = calloc(1, sizeof *c)) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    c->elem_size = elem_size;
    c->cap = cap;
    if (cap > 0 && elem_size > 0 && (c->buf = malloc(cap * elem_size)) == NULL) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

/* Is anyone queued on c?  A queued waiter will touch c again (when it is
 * woken, or to unlink itself after a timeout or another select case). */
GORT_NOPREEMPT bool gort_chan_has_waiters(gort_chan *c) {
    gort_lock(&c->lock);
    bool busy = c->recvq.head != NULL || c->sendq.head != NULL;
    gort_unlock(&c->lock);
    return busy;
}

GORT_NOPREEMPT void gort_chan_free(gort_chan *c) {
    if (c == NULL) return;
    if (gort_chan_has_waiters(c)) { /* freeing would strand them on freed memory */
        errno = EBUSY;
        return;
    }
    for (;;) { /* woken ops that still lock c on their way out: let them finish */
        gort_lock(&c->lock);
        size_t pins = c->pins;
        gort_unlock(&c->lock);
        if (pins == 0) break;
        gort_yield();
    }
    free(c->buf);
    free(c);
}

GORT_NOPREEMPT static int chan_op(gort_chan *c, void *elem, bool send, int64_t timeout_ns) {
    gort_preempt_check();
    waiter *wake = NULL;
    int r;
    if (c == NULL || (send && elem == NULL && c->elem_size != 0)) return -EINVAL;
    gort_lock(&c->lock);
    r = send ? try_send(c, elem, &wake) : try_recv(c, elem, &wake);
    if (r != -EAGAIN || timeout_ns == 0) {
        gort_unlock(&c->lock);
        if (wake != NULL) gort_unblock(&wake->op->s);
        return r;
    }
    op o;
    op_init(&o, timeout_ns > 0);
    waiter w = {&o, c, elem, 0, false, NULL, NULL, NULL};
    wq_push(send ? &c->sendq : &c->recvq, &w);
    if (timeout_ns > 0) c->pins++; /* we lock c again after waking */
    gort_chan *one[1] = {c};
    lockset ls = {one, 1};
    block(&o, &ls, timeout_ns, send ? "chan send" : "chan receive");
    if (timeout_ns < 0) return o.result; /* completed by a waker: c is not touched again */
    gort_lock(&c->lock); /* unlink our waiter if the timeout won */
    if (w.queued) wq_remove(send ? &c->sendq : &c->recvq, &w);
    c->pins--;
    gort_unlock(&c->lock);
    return o.which >= 0 ? o.result : -ETIMEDOUT;
}

GORT_NOPREEMPT int gort_chan_send(gort_chan *c, const void *elem) { return chan_op(c, (void *)elem, true, -1); }
GORT_NOPREEMPT int gort_chan_recv(gort_chan *c, void *elem) { return chan_op(c, elem, false, -1); }

GORT_NOPREEMPT int gort_chan_send_timeout(gort_chan *c, const void *elem, int64_t timeout_ns) {
    return chan_op(c, (void *)elem, true, timeout_ns);
}

GORT_NOPREEMPT int gort_chan_recv_timeout(gort_chan *c, void *elem, int64_t timeout_ns) {
    return chan_op(c, elem, false, timeout_ns);
}

GORT_NOPREEMPT int gort_chan_close(gort_chan *c) {
    waiter *wake = NULL, *w;
    if (c == NULL) return -EINVAL;
    gort_lock(&c->lock);
    if (c->closed) {
        gort_unlock(&c->lock);
        return -EPIPE;
    }
    c->closed = true;
    while ((w = wq_claim(&c->recvq)) != NULL) {
        zero_elem(c, w->elem);
        fill(w, -EPIPE);
        w->wnext = wake;
        wake = w;
    }
    while ((w = wq_claim(&c->sendq)) != NULL) {
        fill(w, -EPIPE);
        w->wnext = wake;
        wake = w;
    }
    gort_unlock(&c->lock);
    while ((w = wake) != NULL) {
        wake = w->wnext; /* read before the wakeup frees w */
        gort_unblock(&w->op->s);
    }
    return 0;
}

GORT_NOPREEMPT size_t gort_chan_len(const gort_chan *cc) {
    gort_chan *c = (gort_chan *)cc;
    if (c == NULL) return 0;
    gort_lock(&c->lock);
    size_t n = c->count;
    gort_unlock(&c->lock);
    return n;
}

GORT_NOPREEMPT size_t gort_chan_cap(const gort_chan *c) { return c != NULL ? c->cap : 0; }

/* ---- select -------------------------------------------------------------- */

#define SELECT_MAX 65536
#define SELECT_STACK 16 /* up to this many cases need no allocation */

GORT_NOPREEMPT static int cmp_chan(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (gort_chan *const *)a, y = (uintptr_t) * (gort_chan *const *)b;
    return x < y ? -1 : x > y;
}

/* Channels by address: insertion sort for the few cases of most selects
 * (qsort's call overhead was a fifth of a 4-case select). */
GORT_NOPREEMPT static void sort_chans(gort_chan **a, size_t n) {
    if (n > SELECT_STACK) {
        qsort(a, n, sizeof *a, cmp_chan);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        gort_chan *x = a[i];
        size_t j = i;
        for (; j > 0 && (uintptr_t)a[j - 1] > (uintptr_t)x; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Go's empty select: park (or block the thread) forever. */
GORT_NOPREEMPT static GORT_NORETURN void block_forever(void) {
    gort_sleeper s;
    gort_sleeper_init(&s);
    for (;;) gort_block(&s, NULL, NULL, "select (no cases)"); /* no one wakes it */
}

GORT_NOPREEMPT int gort_select(gort_case *cases, size_t n, int64_t timeout_ns) {
    gort_preempt_check();
    uint32_t order_buf[SELECT_STACK];
    gort_chan *chans_buf[SELECT_STACK];
    waiter waiters_buf[SELECT_STACK];
    uint32_t *order = order_buf;
    gort_chan **chans = chans_buf;
    waiter *waiters = waiters_buf;
    size_t live = 0, i;
    int ret;

    if (n > SELECT_MAX || (n > 0 && cases == NULL)) return -EINVAL;
    for (i = 0; i < n; i++) {
        gort_case *k = &cases[i];
        if (k->chan == NULL) continue;
        if (k->op != GORT_SEND && k->op != GORT_RECV) return -EINVAL;
        if (k->op == GORT_SEND && k->elem == NULL && k->chan->elem_size != 0) return -EINVAL;
    }
    if (n > SELECT_STACK) {
        order = malloc(n * sizeof *order);
        chans = malloc(n * sizeof *chans);
        waiters = malloc(n * sizeof *waiters);
        if (order == NULL || chans == NULL || waiters == NULL) {
            ret = -ENOMEM;
            goto out;
        }
    }
    /* Poll order: a random permutation of the live cases (Fisher-Yates),
     * drawn from one gort_fastrand seed stepped here (xorshift64), each
     * index by a multiply-shift instead of a division. */
    uint64_t r = gort_fastrand();
    for (i = 0; i < n; i++) {
        if (cases[i].chan == NULL) continue;
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        size_t j = (size_t)(((r >> 32) * (uint64_t)(live + 1)) >> 32);
        if (j != live) order[live] = order[j];
        order[j] = (uint32_t)i;
        chans[live] = cases[i].chan;
        live++;
    }
    if (live == 0) {
        if (timeout_ns == 0) {
            ret = -EAGAIN;
        } else if (timeout_ns < 0) {
            block_forever();
        } else {
            gort_sleep(timeout_ns);
            ret = -ETIMEDOUT;
        }
        goto out;
    }
    /* Lock order: distinct channels by address. */
    sort_chans(chans, live);
    size_t nchans = 1;
    for (i = 1; i < live; i++)
        if (chans[i] != chans[nchans - 1]) chans[nchans++] = chans[i];
    lockset ls = {chans, nchans};
    lock_all(&ls);

    for (i = 0; i < live; i++) { /* pass 1: is any case ready? */
        gort_case *k = &cases[order[i]];
        waiter *wake = NULL;
        int r = k->op == GORT_SEND ? try_send(k->chan, k->elem, &wake) : try_recv(k->chan, k->elem, &wake);
        if (r == -EAGAIN) continue;
        unlock_all(&ls);
        if (wake != NULL) gort_unblock(&wake->op->s);
        k->result = r;
        ret = (int)order[i];
        goto out;
    }
    if (timeout_ns == 0) {
        unlock_all(&ls);
        ret = -EAGAIN;
        goto out;
    }

    op o; /* pass 2: queue a waiter on every case and block */
    op_init(&o, live > 1 || timeout_ns > 0);
    for (i = 0; i < live; i++) {
        gort_case *k = &cases[order[i]];
        waiter *w = &waiters[i];
        *w = (waiter){&o, k->chan, k->elem, (int)order[i], false, NULL, NULL, NULL};
        wq_push(k->op == GORT_SEND ? &k->chan->sendq : &k->chan->recvq, w);
        k->chan->pins++; /* pass 3 locks it again */
    }
    block(&o, &ls, timeout_ns, "select");

    lock_all(&ls); /* pass 3: unlink the waiters that did not win */
    for (i = 0; i < live; i++) {
        waiter *w = &waiters[i];
        if (w->queued) wq_remove(cases[w->idx].op == GORT_SEND ? &w->c->sendq : &w->c->recvq, w);
        w->c->pins--;
    }
    unlock_all(&ls);
    if (o.which < 0) {
        ret = -ETIMEDOUT;
    } else {
        cases[o.which].result = o.result;
        ret = o.which;
    }
out:
    if (order != order_buf) free(order);
    if (chans != chans_buf) free(chans);
    if (waiters != waiters_buf) free(waiters);
    return ret;
}
