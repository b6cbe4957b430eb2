/*
 * chan.c — channels and select (Go's chan.go and select.go).
 *
 * A channel is a lock, a ring of cap elements, and two queues of blocked
 * operations: senders and receivers.  Invariants (c->lock held, ring
 * frozen: see below):
 *   - At least one of sendq and recvq is empty, counting only waiters
 *     not yet claimed.
 *   - Buffered: if the ring holds an element, recvq has no live waiter;
 *     if it has room, sendq has no live waiter.  Unbuffered: it holds
 *     nothing, ever.
 *   - A closed channel has an empty sendq and recvq (close wakes all).
 *   - FIFO: elements leave the ring in the order their positions were
 *     claimed; a queued sender's element goes in behind everything the
 *     ring holds, and a queued receiver finds the ring empty.
 *
 * The ring and its fast path.  A buffered channel with elem_size > 0 keeps
 * its elements in cap slots, each a stamp and an element (Vyukov's bounded
 * queue, with Crossbeam's lap|index positions so cap need not be a power
 * of two).  Two words, tail (next send) and head (next receive), hold a
 * position and flags: CH_FROZEN in both, CH_CLOSED in tail.  A send at
 * position t may write slot t when its stamp is t; a receive at h may read
 * it when its stamp is h + 1.  Each claims its position with a CAS on its
 * word that expects *no flag*, copies the element, and publishes the
 * slot's next stamp with a release store (acquire loads of the stamp on
 * the other side; the element is plain memory ordered by them).  A send
 * or receive without a waiter in sight takes no lock: one CAS.  A slot
 * that another fast path claimed but is still copying (the ring is not
 * full, or not empty, by the other side's word) is waited for briefly
 * (stamp_spin).  Anything else (a flag set, the ring full or empty, a
 * slot still not published) goes to the locked slow path.  The entry
 * points are the fast path inlined, with the cooperative preemption
 * check's common case (no request) inline too.
 *
 * Freezing.  Whoever takes c->lock (chan_lock) then sets CH_FROZEN in
 * tail and in head (two RMWs).  Each RMW is ordered, in its word's
 * modification order, after every fast-path CAS that succeeded before it
 * and before every one that tries after it, which fails: a fast path that
 * claimed a position first is counted by the lock holder (the positions
 * it reads are exact and only it moves them), and nothing claims one
 * afterwards.  What a frozen lock holder cannot see finished is a claimed
 * slot still being copied; it waits for that slot's stamp (stamp_wait: a
 * few instructions away, unless the OS descheduled a plain thread there).
 * So under the lock the ring is exactly what it holds: try_send/try_recv,
 * select's polls and close decide on exact state, and select sees every
 * element a fast path sent.  This is how the
 * Dekker race is closed: a receiver about to queue itself froze tail
 * first, so a racing fast sender either claimed its slot before the
 * freeze (the receiver sees the element and takes it instead of
 * waiting) or fails its CAS and takes the lock (and finds the receiver).
 * The same holds for a sender at a full ring, and for close, which sets
 * CH_CLOSED in tail under the lock: a fast send that claimed its slot
 * before that is an element sent before the close, and drains; no fast
 * send succeeds after it.  Receives may drain a closed channel on the
 * fast path; only the locked path reports -EPIPE, after seeing the ring
 * exactly empty.
 *
 * Memory orders.  No fence is needed for the race with a waiter: it is
 * decided by the atomicity of RMWs on one word (the fast path's CAS and
 * the freeze), which every memory model orders totally, so the fast-path
 * CASes are relaxed.  What crosses threads is the element, ordered by the
 * stamp: written (or read out) before the release store of the slot's
 * next stamp, used only after an acquire load saw that stamp; that holds
 * on arm64 as on x86.  While frozen the lock holder is the only writer of
 * tail and head (relaxed stores that keep the flags; a failed CAS writes
 * nothing), and the lock orders one holder's writes before the next's
 * reads.  A waiter and its waker meet under the lock.
 *
 * Thawing.  chan_unlock clears CH_FROZEN again unless a waiter is queued
 * on either queue: while one is, every operation takes the lock (the
 * waiter must be found, and woken, by the next operation that could
 * complete it).  So frozen == a waiter is queued, at every unlock.
 * Channels with no ring (unbuffered; elem_size 0, which keeps a count)
 * are frozen for good and always take the lock.
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
 * Select first looks without locks (pass 0): which cases seem ready, by
 * the ring's positions and c->ready (what the locked path could complete
 * at the last unlock: a waiting peer, an elem_size 0 count, closed).  It
 * tries the one it picks alone, by the fast path or under that one
 * channel's lock, so a select with a ready case (a consumer serving
 * blocked producers) takes one lock, not all.  A stale hint only costs
 * time: otherwise (pass 1) it locks its channels in address order (each
 * once: a channel may appear in several cases, both ways) and picks
 * again, exactly; if nothing is ready it queues a waiter on every
 * channel and blocks (pass 2), and once woken locks them again to unlink
 * the rest (pass 3).  Both picks are uniform among the cases that are (or
 * look) ready: reservoir sampling in one scan, which draws a random
 * number only when a second ready case turns up.
 *
 * The channel lock is a spin lock (gort_spin_lock): held for a few dozen
 * instructions and never while anyone sleeps, so releasing it is a plain
 * store instead of the runtime lock's atomic exchange (four fewer locked
 * instructions per ping-pong round trip).
 *
 * Waking happens after the channel lock is released.
 *
 * gort_chan_free (and gort_timer_stop) refuse a channel with a blocked
 * operation, one not yet completed, which will be woken through it.  An op that locks its channels again after waking (a
 * select, to unlink its other waiters; a timed op, to unlink after a
 * timeout) pins each channel it queued on (c->pins, under c->lock) until
 * that last unlock: its waiter may be off the queue already (the case that
 * won, or one a losing waker unlinked) while it has yet to run, and a
 * program that freed the channel once the send returned would have it
 * lock freed memory.  gort_chan_free waits for the pins to go (their
 * owners are woken: a pinned op with no queued waiter has been claimed).
 * A fast-path operation never blocks and never pins: freeing a channel
 * while one is still returning is a use after free, as for any call.  len
 * is exact under the freeze, counting a
 * claimed slot still being copied in.  Plain OS threads take both paths as
 * goroutines do; timed operations and timeout 0 (a try) try the fast path
 * first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/runtime.h"

#define GORT_INLINE inline __attribute__((always_inline))
#define GORT_NOINLINE __attribute__((noinline))

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

/* The fast-path words.  A position is lap | index (Crossbeam's ArrayQueue):
 * index < cap, lap a multiple of one_lap (the least power of two above
 * cap), counted modulo 2^62; the two bits above hold flags. */
#define CH_FROZEN (UINT64_C(1) << 63) /* tail and head: fast paths off     */
#define CH_CLOSED (UINT64_C(1) << 62) /* tail only: fast sends off for good */
#define CH_FLAGS (CH_FROZEN | CH_CLOSED)
#define CH_POS (CH_CLOSED - 1)

/* A ring slot: its stamp, then the element (slot_size bytes in all). */
typedef struct slot {
    _Atomic(uint64_t) stamp; /* pos: free for the send at pos; pos + 1:
                                holds the element sent at pos */
    char elem[];
} slot;

struct gort_chan {
    /* Each fast-path word on a cache line of its own. */
    _Alignas(64) _Atomic(uint64_t) tail; /* next send's position | flags  */
    _Alignas(64) _Atomic(uint64_t) head; /* next receive's position | flags */
    _Alignas(64) gort_spinlock lock;
    /* What select's lock-free first pass reads (see gort_select): set at
     * every unlock, so only a hint between them */
    _Atomic(uint32_t) ready;
    bool closed; /* (lock) */
    bool frozen; /* (lock) CH_FROZEN is set in tail and head          */
    size_t elem_size, cap;
    char *slots;      /* the ring: cap slots; NULL: no fast path         */
    size_t slot_size; /* 8 + elem_size rounded up to 8                  */
    uint64_t one_lap;
    size_t count; /* (lock) elements held, when slots is NULL (elem_size 0) */
    wq recvq, sendq;
    /* blocked ops that will lock c again after they are woken (a select's
     * pass 3, a timed op's unlink): gort_chan_free waits for them */
    size_t pins;
};

/* ---- queues (c->lock held) ------------------------------------------------ */

GORT_RUNTIME_TEXT static void wq_push(wq *q, waiter *w) {
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->queued = true;
}

GORT_RUNTIME_TEXT static void wq_remove(wq *q, waiter *w) {
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
GORT_RUNTIME_TEXT GORT_INLINE static waiter *wq_claim(wq *q) {
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

/* Word-sized elements (the common case) copied inline, not through a call
 * to memcpy. */
GORT_RUNTIME_TEXT GORT_INLINE static void copy_elem(gort_chan *c, void *dst, const void *src) {
    if (dst == NULL) return;
    switch (c->elem_size) {
    case 0: return;
    case 4: memcpy(dst, src, 4); return;
    case 8: memcpy(dst, src, 8); return;
    case 16: memcpy(dst, src, 16); return;
    default: memcpy(dst, src, c->elem_size);
    }
}

GORT_RUNTIME_TEXT static void zero_elem(gort_chan *c, void *dst) {
    if (c->elem_size != 0 && dst != NULL) memset(dst, 0, c->elem_size);
}

/* ---- the ring ------------------------------------------------------------ */

GORT_RUNTIME_TEXT GORT_INLINE static slot *slot_at(gort_chan *c, uint64_t pos) {
    return (slot *)(void *)(c->slots + (size_t)(pos & (c->one_lap - 1)) * c->slot_size);
}

/* The position after pos: the next index, or index 0 of the next lap. */
GORT_RUNTIME_TEXT GORT_INLINE static uint64_t pos_next(gort_chan *c, uint64_t pos) {
    uint64_t idx = pos & (c->one_lap - 1);
    if (idx + 1 < c->cap) return pos + 1;
    return (pos - idx + c->one_lap) & CH_POS;
}

/* Wait for an operation that claimed its position with a fast-path CAS to
 * publish its stamp: a few instructions away, unless the OS preempted a
 * plain thread in between. */
GORT_RUNTIME_TEXT static void stamp_wait(slot *s, uint64_t want) {
    for (int i = 0; atomic_load_explicit(&s->stamp, memory_order_acquire) != want; i++) gort_spin_wait(i, 100);
}

/* A short wait for s's stamp (an operation that claimed it is copying):
 * false if it did not come; the caller takes the locked path then. */
GORT_RUNTIME_TEXT GORT_NOINLINE static bool stamp_spin(slot *s, uint64_t want) {
    for (int i = 0; i < 64; i++) {
        if (atomic_load_explicit(&s->stamp, memory_order_acquire) == want) return true;
        gort_cpu_relax();
    }
    return false;
}

/* Fast paths: no lock.  Return false to take the locked path: a flag is
 * set, or the ring looks full (send) or empty (receive), or an operation
 * that claimed the slot has not published it yet. */
GORT_RUNTIME_TEXT GORT_INLINE static bool fast_send(gort_chan *c, const void *elem) {
    /* Everything the copy needs is loaded before the CAS: on x86 a locked
     * instruction holds back the loads after it until it completes. */
    bool word = c->elem_size == 8;
    uint64_t v = 0;
    if (word) memcpy(&v, elem, 8);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (t & CH_FLAGS) return false;
        slot *s = slot_at(c, t);
        if (atomic_load_explicit(&s->stamp, memory_order_acquire) == t) {
            /* A CAS that expects no flag: it fails once a lock holder
             * froze the ring or closed the channel. */
            if (atomic_compare_exchange_weak_explicit(&c->tail, &t, pos_next(c, t), memory_order_relaxed,
                                                      memory_order_relaxed)) {
                if (word)
                    memcpy(s->elem, &v, 8);
                else
                    copy_elem(c, s->elem, elem);
                atomic_store_explicit(&s->stamp, t + 1, memory_order_release);
                return true;
            }
            continue; /* t reloaded */
        }
        uint64_t t2 = atomic_load_explicit(&c->tail, memory_order_relaxed);
        if (t2 == t) {
            /* Full, or a receiver still copying out of slot t: then head
             * is no longer a lap behind, and it is worth a short wait. */
            uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed) & CH_POS;
            if (((h + c->one_lap) & CH_POS) == t || !stamp_spin(s, t)) return false;
            continue;
        }
        t = t2; /* another sender took t */
    }
}

GORT_RUNTIME_TEXT GORT_INLINE static bool fast_recv(gort_chan *c, void *elem) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        if (h & CH_FLAGS) return false;
        slot *s = slot_at(c, h);
        if (atomic_load_explicit(&s->stamp, memory_order_acquire) == h + 1) {
            uint64_t free_stamp = (h + c->one_lap) & CH_POS; /* for the send one lap later */
            if (atomic_compare_exchange_weak_explicit(&c->head, &h, pos_next(c, h), memory_order_relaxed,
                                                      memory_order_relaxed)) {
                copy_elem(c, elem, s->elem);
                /* Release: after our copy. */
                atomic_store_explicit(&s->stamp, free_stamp, memory_order_release);
                return true;
            }
            continue;
        }
        uint64_t h2 = atomic_load_explicit(&c->head, memory_order_relaxed);
        if (h2 == h) {
            /* Empty, or a sender still copying into slot h (tail moved on). */
            if ((atomic_load_explicit(&c->tail, memory_order_relaxed) & CH_POS) == h || !stamp_spin(s, h + 1))
                return false;
            continue;
        }
        h = h2;
    }
}

/* Locked ring operations (c->lock held and, with a ring, c->frozen: no
 * fast path can move head or tail, so they are exact and only this thread
 * writes them; an operation that claimed a slot before the freeze may
 * still be copying, and is waited for on its stamp). */

GORT_RUNTIME_TEXT static size_t ring_len(gort_chan *c) {
    if (c->slots == NULL) return c->count;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed) & CH_POS;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed) & CH_POS;
    uint64_t hi = h & (c->one_lap - 1), ti = t & (c->one_lap - 1);
    if (hi < ti) return (size_t)(ti - hi);
    if (hi > ti) return (size_t)(c->cap - hi + ti);
    return h == t ? 0 : c->cap;
}

/* Append elem (ring_len < cap). */
GORT_RUNTIME_TEXT static void ring_put(gort_chan *c, const void *elem) {
    if (c->slots == NULL) {
        c->count++;
        return;
    }
    uint64_t tw = atomic_load_explicit(&c->tail, memory_order_relaxed), t = tw & CH_POS;
    slot *s = slot_at(c, t);
    stamp_wait(s, t); /* a fast receiver may still be copying out the last lap's */
    copy_elem(c, s->elem, elem);
    atomic_store_explicit(&s->stamp, t + 1, memory_order_release);
    atomic_store_explicit(&c->tail, pos_next(c, t) | (tw & CH_FLAGS), memory_order_relaxed);
}

/* Take the head into elem (ring_len > 0). */
GORT_RUNTIME_TEXT static void ring_take(gort_chan *c, void *elem) {
    if (c->slots == NULL) {
        c->count--;
        return;
    }
    uint64_t hw = atomic_load_explicit(&c->head, memory_order_relaxed), h = hw & CH_POS;
    slot *s = slot_at(c, h);
    stamp_wait(s, h + 1); /* a fast sender may still be copying in */
    copy_elem(c, elem, s->elem);
    atomic_store_explicit(&s->stamp, (h + c->one_lap) & CH_POS, memory_order_release);
    atomic_store_explicit(&c->head, pos_next(c, h) | (hw & CH_FLAGS), memory_order_relaxed);
}

/* Take c's lock and freeze its ring: set CH_FROZEN in tail and head (two
 * RMWs, each ordered after every fast-path CAS on its word that
 * succeeded before it, and failing every one after it). */
GORT_RUNTIME_TEXT GORT_INLINE static void chan_lock(gort_chan *c) {
    gort_spin_lock(&c->lock);
    if (c->slots != NULL && !c->frozen) {
        atomic_fetch_or(&c->tail, CH_FROZEN);
        atomic_fetch_or(&c->head, CH_FROZEN);
        c->frozen = true;
    }
}

/* c->ready: which operations a waiter queued at the last unlock could
 * complete (a sender to receive from, a receiver to send to).  What else
 * makes a case ready select's first pass reads elsewhere: a ring's
 * positions, CH_CLOSED in tail; an elem_size 0 buffered channel (a
 * count, rare) always looks ready. */
enum { READY_RECV = 1, READY_SEND = 2 };

/* Publish c->ready, thaw the ring unless a waiter is queued (it stays
 * frozen while one is), and unlock. */
GORT_RUNTIME_TEXT GORT_INLINE static void chan_unlock(gort_chan *c) {
    atomic_store_explicit(&c->ready,
                          (c->sendq.head != NULL ? READY_RECV : 0) | (c->recvq.head != NULL ? READY_SEND : 0),
                          memory_order_relaxed);
    if (c->frozen && c->recvq.head == NULL && c->sendq.head == NULL) {
        c->frozen = false;
        atomic_fetch_and(&c->tail, ~CH_FROZEN);
        atomic_fetch_and(&c->head, ~CH_FROZEN);
    }
    gort_spin_unlock(&c->lock);
}

/* Complete a claimed waiter's case. */
GORT_RUNTIME_TEXT static void fill(waiter *w, int result) {
    w->op->which = w->idx;
    w->op->result = result;
}

/* ---- one case, without blocking (chan_lock held) -------------------------
 * Return 0 or -EPIPE when done, -EAGAIN when it would block; *wake is a
 * claimed waiter to wake once the lock is released. */

GORT_RUNTIME_TEXT GORT_INLINE static int try_send(gort_chan *c, const void *elem, waiter **wake) {
    waiter *w;
    if (c->closed) return -EPIPE;
    if ((w = wq_claim(&c->recvq)) != NULL) { /* hand off */
        copy_elem(c, w->elem, elem);
        fill(w, 0);
        *wake = w;
        return 0;
    }
    if (ring_len(c) < c->cap) {
        ring_put(c, elem);
        return 0;
    }
    return -EAGAIN;
}

GORT_RUNTIME_TEXT GORT_INLINE static int try_recv(gort_chan *c, void *elem, waiter **wake) {
    waiter *w;
    if ((w = wq_claim(&c->sendq)) != NULL) {
        if (c->cap == 0) {
            copy_elem(c, elem, w->elem); /* hand off */
        } else {
            /* Full ring: take its head; the sender's value goes to the
             * tail, which is the slot just freed. */
            ring_take(c, elem);
            ring_put(c, w->elem);
        }
        fill(w, 0);
        *wake = w;
        return 0;
    }
    if (ring_len(c) > 0) {
        ring_take(c, elem);
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

GORT_RUNTIME_TEXT static void lock_all(lockset *ls) {
    for (size_t i = 0; i < ls->n; i++) chan_lock(ls->chans[i]);
}

GORT_RUNTIME_TEXT static void unlock_all(lockset *ls) {
    for (size_t i = ls->n; i > 0; i--) chan_unlock(ls->chans[i - 1]);
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
GORT_RUNTIME_TEXT static bool block_unlock(G *g, void *arg) {
    block_ctx *b = arg;
    lockset *ls = b->ls; /* b may be gone once the timer is armed */
    if (g != NULL && b->timer != NULL) {
        M *m = gort_getm();
        gort_timer_add(m->p, b->timer);
    }
    unlock_all(ls); /* the lockset outlives this: its owner needs these locks to leave */
    return true;
}

GORT_RUNTIME_TEXT static void timeout_fire(void *arg, int64_t now) {
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
GORT_RUNTIME_TEXT GORT_INLINE static void block(op *o, lockset *ls, int64_t timeout_ns, const char *reason) {
    gort_tnode t; /* filled only with a timeout: most blocks have none */
    block_ctx b = {ls, NULL};
    if (timeout_ns > 0) {
        t = (gort_tnode){.when = gort_deadline(timeout_ns), .f = timeout_fire, .arg = o, .idx = -1, .sync = true};
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

GORT_RUNTIME_TEXT static void op_init(op *o, bool contended) {
    gort_sleeper_init(&o->s);
    o->contended = contended;
    atomic_store_explicit(&o->done, 0, memory_order_relaxed);
    o->which = -1;
    o->result = 0;
}

/* ---- channels ------------------------------------------------------------ */

GORT_RUNTIME_TEXT gort_chan *gort_chan_make(size_t elem_size, size_t cap) {
    gort_chan *c;
    if (elem_size != 0 && cap > SIZE_MAX / 2 / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    if ((c = aligned_alloc(_Alignof(gort_chan), sizeof *c)) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->elem_size = elem_size;
    c->cap = cap;
    if (cap > 0 && elem_size > 0) {
        c->slot_size = sizeof(slot) + ((elem_size + 7) & ~(size_t)7);
        if (cap > SIZE_MAX / 2 / c->slot_size || (c->slots = malloc(cap * c->slot_size)) == NULL) {
            free(c);
            errno = ENOMEM;
            return NULL;
        }
        c->one_lap = 1;
        while (c->one_lap <= cap) c->one_lap <<= 1;
        for (size_t i = 0; i < cap; i++) atomic_init(&slot_at(c, i)->stamp, i);
        atomic_init(&c->tail, 0);
        atomic_init(&c->head, 0);
    } else {
        /* No ring (unbuffered, or elem_size 0: a count): frozen for good. */
        atomic_init(&c->tail, CH_FROZEN);
        atomic_init(&c->head, CH_FROZEN);
    }
    return c;
}

/* Is an operation blocked on c, not yet completed?  It will be woken
 * through c.  A queued waiter whose op was claimed (the other cases of a
 * select that completed, a timed op whose timeout fired) does not count:
 * its op pinned c and unlinks it once it runs (gort_chan_free waits for
 * the pins). */
GORT_RUNTIME_TEXT static bool wq_live(const wq *q) {
    for (const waiter *w = q->head; w != NULL; w = w->next)
        if (atomic_load_explicit(&w->op->done, memory_order_relaxed) == 0) return true;
    return false;
}

GORT_RUNTIME_TEXT size_t gort_chan_elem_size(const gort_chan *c) { return c->elem_size; }

GORT_RUNTIME_TEXT bool gort_chan_has_waiters(gort_chan *c) {
    gort_spin_lock(&c->lock);
    bool busy = wq_live(&c->recvq) || wq_live(&c->sendq);
    gort_spin_unlock(&c->lock);
    return busy;
}

GORT_RUNTIME_TEXT int gort_chan_free(gort_chan *c) {
    if (c == NULL) return -EINVAL;
    if (gort_chan_has_waiters(c)) return -EBUSY; /* freeing would strand them on freed memory */
    for (;;) { /* woken ops that still lock c on their way out: let them finish */
        gort_spin_lock(&c->lock);
        size_t pins = c->pins;
        gort_spin_unlock(&c->lock);
        if (pins == 0) break;
        gort_yield();
    }
    free(c->slots);
    free(c);
    return 0;
}

/* The locked path of a send or receive (c valid). */
GORT_RUNTIME_TEXT GORT_NOINLINE static int chan_slow(gort_chan *c, void *elem, bool send, int64_t timeout_ns) {
    waiter *wake = NULL;
    int r;
    chan_lock(c);
    r = send ? try_send(c, elem, &wake) : try_recv(c, elem, &wake);
    if (r != -EAGAIN || timeout_ns == 0) {
        chan_unlock(c);
        if (wake != NULL) gort_unblock(&wake->op->s);
        return r;
    }
    if (gort_forked()) { /* nobody is left to complete it */
        chan_unlock(c);
        return gort_forked_error();
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
    chan_lock(c); /* unlink our waiter if the timeout won */
    if (w.queued) wq_remove(send ? &c->sendq : &c->recvq, &w);
    c->pins--;
    chan_unlock(c);
    return o.which >= 0 ? o.result : -ETIMEDOUT;
}

/* The cooperative preemption point (gort_preempt_check), with its common
 * case inline: no request on this P. */
GORT_RUNTIME_TEXT GORT_INLINE static void chan_preempt_check(void) {
    M *m = gort_getm();
    P *p;
    if (m != NULL && (p = m->p) != NULL && atomic_load_explicit(&p->preempt_tick, memory_order_relaxed) != 0)
        gort_preempt_check();
}

/* Inlined into each entry point: the fast path, then the locked one. */
GORT_RUNTIME_TEXT GORT_INLINE static int chan_op(gort_chan *c, void *elem, bool send, int64_t timeout_ns) {
    chan_preempt_check();
    if (c == NULL || (send && elem == NULL && c->elem_size != 0)) return -EINVAL;
    /* no ring (unbuffered): the slow path, without touching head or tail */
    if (c->slots != NULL && (send ? fast_send(c, elem) : fast_recv(c, elem))) return 0;
    return chan_slow(c, elem, send, timeout_ns);
}

GORT_RUNTIME_TEXT int gort_chan_send(gort_chan *c, const void *elem) { return chan_op(c, (void *)elem, true, -1); }
GORT_RUNTIME_TEXT int gort_chan_recv(gort_chan *c, void *elem) { return chan_op(c, elem, false, -1); }

/* A try (timeout 0) from a signal handler that interrupted the runtime on
 * this thread while it held one of its locks would wait for itself, or
 * change what the lock guards under the holder: -EPERM instead.  Calls
 * from handlers are not supported either way (gort_signal_notify); this is
 * the case a check can see, off the blocking paths. */
GORT_RUNTIME_TEXT static bool interrupted_runtime(void) {
    M *m = gort_getm();
    return m != NULL && m->locks != 0;
}

GORT_RUNTIME_TEXT int gort_chan_send_timeout(gort_chan *c, const void *elem, int64_t timeout_ns) {
    if (timeout_ns == 0 && interrupted_runtime()) return -EPERM;
    return chan_op(c, (void *)elem, true, timeout_ns);
}

GORT_RUNTIME_TEXT int gort_chan_recv_timeout(gort_chan *c, void *elem, int64_t timeout_ns) {
    if (timeout_ns == 0 && interrupted_runtime()) return -EPERM;
    return chan_op(c, elem, false, timeout_ns);
}

GORT_RUNTIME_TEXT int gort_chan_close(gort_chan *c) {
    waiter *wake = NULL, *w;
    if (c == NULL) return -EINVAL;
    chan_lock(c);
    if (c->closed) {
        chan_unlock(c);
        return -EPIPE;
    }
    c->closed = true;
    atomic_fetch_or(&c->tail, CH_CLOSED); /* fast sends end; fast receives drain */
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
    chan_unlock(c);
    while ((w = wake) != NULL) {
        wake = w->wnext; /* read before the wakeup frees w */
        gort_unblock(&w->op->s);
    }
    return 0;
}

GORT_RUNTIME_TEXT size_t gort_chan_len(const gort_chan *cc) {
    gort_chan *c = (gort_chan *)cc;
    if (c == NULL) return 0;
    chan_lock(c);
    size_t n = ring_len(c);
    chan_unlock(c);
    return n;
}

GORT_RUNTIME_TEXT size_t gort_chan_cap(const gort_chan *c) { return c != NULL ? c->cap : 0; }

/* ---- select -------------------------------------------------------------- */

#define SELECT_MAX 65536
#define SELECT_STACK 16 /* up to this many cases need no allocation */

GORT_RUNTIME_TEXT static int cmp_chan(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (gort_chan *const *)a, y = (uintptr_t) * (gort_chan *const *)b;
    return x < y ? -1 : x > y;
}

/* Channels by address: insertion sort for the few cases of most selects
 * (qsort's call overhead was a fifth of a 4-case select). */
GORT_RUNTIME_TEXT static void sort_chans(gort_chan **a, size_t n) {
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
GORT_RUNTIME_TEXT static GORT_NORETURN void block_forever(void) {
    gort_sleeper s;
    gort_sleeper_init(&s);
    for (;;) gort_block(&s, NULL, NULL, "select (no cases)"); /* no one wakes it */
}

/* The waiter at q's head whose op no one has claimed yet, if any; waiters
 * claimed elsewhere (another case of their select won, or their timeout)
 * are dropped on the way, as wq_claim does (c->lock held). */
GORT_RUNTIME_TEXT static bool has_waiter(wq *q) {
    waiter *w;
    while ((w = q->head) != NULL && atomic_load_explicit(&w->op->done, memory_order_relaxed) != 0) wq_remove(q, w);
    return w != NULL;
}

/* Could try_send / try_recv complete now (c locked and frozen)?  A true
 * answer can still turn out -EAGAIN: the waiter it saw may be claimed
 * through another channel before try_* claims it. */
GORT_RUNTIME_TEXT static bool can_send(gort_chan *c) {
    return c->closed || has_waiter(&c->recvq) || ring_len(c) < c->cap;
}

GORT_RUNTIME_TEXT static bool can_recv(gort_chan *c) {
    return c->closed || ring_len(c) > 0 || has_waiter(&c->sendq);
}

/* The same question without the lock, from c->ready, the ring's
 * positions and CH_CLOSED: a hint, possibly stale either way. */
GORT_RUNTIME_TEXT static bool may_send(gort_chan *c) {
    if (atomic_load_explicit(&c->ready, memory_order_relaxed) & READY_SEND) return true;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (t & CH_CLOSED) return true;
    if (c->slots == NULL) return c->cap > 0; /* an elem_size 0 count: may have room */
    return (t & CH_POS) != ((atomic_load_explicit(&c->head, memory_order_relaxed) + c->one_lap) & CH_POS); /* room */
}

GORT_RUNTIME_TEXT static bool may_recv(gort_chan *c) {
    if (atomic_load_explicit(&c->ready, memory_order_relaxed) & READY_RECV) return true;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (t & CH_CLOSED) return true;
    if (c->slots == NULL) return c->cap > 0; /* an elem_size 0 count: may hold one */
    return (atomic_load_explicit(&c->head, memory_order_relaxed) & CH_POS) != (t & CH_POS); /* an element */
}

/* A uniform choice among the ready cases, made in one scan (reservoir
 * sampling): the k-th ready case replaces the choice with probability
 * 1/k.  No random number is drawn until a second ready case shows up, so
 * the common select, with one case ready, pays nothing for fairness. */
typedef struct pick {
    uint32_t seen;
    int chosen;
    uint64_t rand;
} pick;

GORT_RUNTIME_TEXT GORT_INLINE static void pick_offer(pick *p, int i) {
    if (++p->seen == 1) {
        p->chosen = i;
        return;
    }
    if (p->seen == 2) p->rand = gort_fastrand() | 1; /* xorshift needs a nonzero state */
    p->rand ^= p->rand << 13;
    p->rand ^= p->rand >> 7;
    p->rand ^= p->rand << 17;
    if ((((p->rand >> 32) * p->seen) >> 32) == 0) p->chosen = i; /* with probability 1/seen */
}

/* Run case k, whose channel is locked: 0 / -EPIPE, or -EAGAIN. */
GORT_RUNTIME_TEXT static int try_case(gort_case *k, waiter **wake) {
    return k->op == GORT_SEND ? try_send(k->chan, k->elem, wake) : try_recv(k->chan, k->elem, wake);
}

GORT_RUNTIME_TEXT int gort_select(gort_case *cases, size_t n, int64_t timeout_ns) {
    gort_preempt_check();
    gort_chan *chans_buf[SELECT_STACK];
    waiter waiters_buf[SELECT_STACK];
    uint32_t order_buf[SELECT_STACK];
    gort_chan **chans = chans_buf;
    waiter *waiters = waiters_buf;
    uint32_t *order = order_buf;
    size_t live = 0, i;
    int ret;
    pick pk = {0, -1, 0};

    if (n > SELECT_MAX || (n > 0 && cases == NULL)) return -EINVAL;
    /* pass 0, without locks: validate, and choose among the cases that
     * look ready (c->ready, the ring's positions). */
    for (i = 0; i < n; i++) {
        gort_case *k = &cases[i];
        if (k->chan == NULL) continue;
        if (k->op == GORT_SEND) {
            if (k->elem == NULL && k->chan->elem_size != 0) return -EINVAL;
            if (may_send(k->chan)) pick_offer(&pk, (int)i);
        } else if (k->op == GORT_RECV) {
            if (may_recv(k->chan)) pick_offer(&pk, (int)i);
        } else {
            return -EINVAL;
        }
        live++;
    }
    if (live == 0) {
        if (timeout_ns == 0) return -EAGAIN;
        if (timeout_ns < 0) block_forever();
        gort_sleep(timeout_ns);
        return -ETIMEDOUT;
    }
    /* Try the choice alone: the fast path, or its one channel locked.  A
     * select whose case is ready (a consumer serving blocked producers)
     * takes one lock, not all.  If the hint was stale, pass 1 decides. */
    if (pk.seen > 0) {
        gort_case *k = &cases[pk.chosen];
        gort_chan *c = k->chan;
        bool send = k->op == GORT_SEND;
        waiter *wake = NULL;
        int r = 0;
        if (c->slots == NULL || !(send ? fast_send(c, k->elem) : fast_recv(c, k->elem))) {
            chan_lock(c);
            r = try_case(k, &wake);
            chan_unlock(c);
        }
        if (r != -EAGAIN) {
            if (wake != NULL) gort_unblock(&wake->op->s);
            k->result = r;
            return pk.chosen;
        }
    }

    if (n > SELECT_STACK) {
        chans = malloc(n * sizeof *chans);
        waiters = malloc(n * sizeof *waiters);
        order = malloc(n * sizeof *order);
        if (chans == NULL || waiters == NULL || order == NULL) {
            ret = -ENOMEM;
            goto out;
        }
    }
    /* Lock order: distinct channels by address. */
    size_t nchans = 0;
    for (i = 0; i < n; i++)
        if (cases[i].chan != NULL) chans[nchans++] = cases[i].chan;
    sort_chans(chans, nchans);
    nchans = 1;
    for (i = 1; i < live; i++)
        if (chans[i] != chans[nchans - 1]) chans[nchans++] = chans[i];
    lockset ls = {chans, nchans};
    lock_all(&ls);

    for (;;) { /* pass 1: the same choice, exact under the locks */
        pk = (pick){0, -1, 0};
        for (i = 0; i < n; i++) {
            gort_case *k = &cases[i];
            if (k->chan != NULL && (k->op == GORT_SEND ? can_send(k->chan) : can_recv(k->chan)))
                pick_offer(&pk, (int)i);
        }
        if (pk.seen == 0) break;
        waiter *wake = NULL;
        int r = try_case(&cases[pk.chosen], &wake);
        if (r == -EAGAIN) continue; /* its waiter was claimed meanwhile (and dropped): again */
        unlock_all(&ls);
        if (wake != NULL) gort_unblock(&wake->op->s);
        cases[pk.chosen].result = r;
        ret = pk.chosen;
        goto out;
    }
    if (timeout_ns == 0 || gort_forked()) {
        unlock_all(&ls);
        ret = timeout_ns == 0 ? -EAGAIN : gort_forked_error();
        goto out;
    }

    /* pass 2: queue a waiter on every case and block.  Queued in case
     * order; but if a channel appears in several cases, the first peer to
     * come completes whichever of them is queued first, so then the order
     * is a random permutation (Fisher-Yates). */
    size_t j = 0;
    for (i = 0; i < n; i++)
        if (cases[i].chan != NULL) order[j++] = (uint32_t)i;
    if (nchans < live) {
        for (i = live - 1; i > 0; i--) {
            j = (size_t)(gort_fastrand() % (i + 1));
            uint32_t x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
    }
    op o;
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
