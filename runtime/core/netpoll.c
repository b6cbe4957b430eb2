/*
 * netpoll.c — descriptors that park goroutines, not threads (Go's
 * netpoll.go and internal/poll, in C).
 *
 * Every descriptor gort reads or writes is registered once with the OS
 * poller (os.h: epoll or kqueue, edge-triggered, for both directions) and
 * put in non-blocking mode.  An operation first just tries the system
 * call; only on EAGAIN does the goroutine park, on its descriptor's read or
 * write slot, until the poller reports the descriptor ready, its timeout
 * passes, or gort_fd_close wakes it with -EBADF.  Regular files cannot be
 * polled: their reads and writes run between gort_syscall_enter/exit.
 * Plain threads (not goroutines) block in poll(2) instead of parking
 * (os.h gort_os_poll_fd), on the descriptor and on a wake handle of their
 * own that gort_fd_close signals.
 *
 * A slot (pdesc.rg / .wg) is 0, PD_READY (an edge arrived while no one
 * waited), or the io_waiter of the one parked goroutine.  Invariants:
 *   - A waiter is published in a slot only on g0, after its goroutine
 *     parked (gort_park's unlock function), with its timeout armed first.
 *   - Exactly one claimant takes a published waiter, by CAS of the slot
 *     from the waiter to 0: the poller (result 0), the timeout (-ETIMEDOUT)
 *     or the close (-EBADF); the claimant then readies the goroutine.  The
 *     goroutine, once running, deletes its timeout synchronously before
 *     its frame (and the waiter in it) goes away.
 *   - One reader and one writer at a time per descriptor: each direction
 *     is an io_lock (rl, wl; so concurrent accepts queue, and a gort_write
 *     of n bytes is never interleaved with another), a semaphore of one
 *     unit taken with the call's own deadline (sema.c
 *     gort_semacquire_until: timeout 0 only tries, -EAGAIN; a queued call
 *     times out with -ETIMEDOUT) and handed to the next queued call in
 *     FIFO order.  A caller counts itself in queued before it waits; a
 *     release adds the unit, then wakes only if queued is not 0 (both
 *     seq_cst).  So at most one goroutine waits in each slot and one
 *     plain thread in each of rthr / wthr.
 *   - A plain thread publishes its wake handle in rthr / wthr under
 *     pdesc.lock, only while not closing, and unpublishes it under the lock
 *     before closing it; gort_fd_close signals the published ones under
 *     the lock.  So the close never writes to a handle that is closed or
 *     whose number was reused.
 *   - closing is set, under pdesc.lock, for the whole of a gort_fd_close:
 *     from before it wakes the waiters until close(2) returned, and is
 *     cleared under the lock together with that close(2).  While it is set,
 *     every call on the descriptor (parked, queued behind another, or
 *     arriving: registration refuses under the lock) ends with -EBADF, and
 *     a second gort_fd_close is -EBADF and closes nothing.  Every
 *     operation counts itself in ops (seq_cst) before it looks at closing;
 *     the close sets closing before it waits for ops to reach 0: it never
 *     closes the number under a call still using it.  A registration of
 *     the number after that (a file the kernel gave the same number) takes
 *     the lock, so it comes after the clear, and registers the new file.
 *   - pdesc.seq changes at every registration and close; the poller's key
 *     carries it, so an event for a closed (and perhaps reused) descriptor
 *     is dropped.  gort_fd_open of the file already registered under that
 *     number (same device and inode) changes nothing.
 *   - pdesc.lock is a leaf: under it run only system calls on this
 *     descriptor (fstat, the poller's add and delete, close(2), which a
 *     socket with SO_LINGER may make wait) and on wake handles (a write
 *     that never blocks); no other lock is taken under it.
 * Who polls: an M about to go idle polls without blocking; the one
 * sleeper M (proc.c timer_sleep) blocks in the poller until the next
 * timer; sysmon polls if nobody has for 10 ms.  gort_netpoll() returns the
 * readied goroutines as a list for the caller to schedule.
 *
 * Descriptors must be closed with gort_fd_close: a plain close() leaves
 * gort believing the number is still registered.
 *
 * gort_fd_wait (and through it runtime/hooks, which parks goroutines in
 * libc's blocking calls) registers a descriptor held, not owned: in the
 * poller, but with its O_NONBLOCK as the program set it (a description
 * shared with another process or thread keeps its mode).  It stats the
 * descriptor at every wait, so a number closed behind gort's back and
 * reused is registered afresh.  A gort call on a held descriptor makes it
 * owned (non-blocking) in place; waiters stay parked.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "runtime/core/runtime.h"

#define PD_READY ((uintptr_t)1)
/* The timeout fired before its waiter was published: the publisher finds
 * this instead of 0 and does not park. */
#define PD_TIMEDOUT ((uintptr_t)2)

/* One caller at a time in a direction: a semaphore of one unit (1 free, 0
 * held), and how many callers wait for it (so an uncontended release does
 * not look at the semaphore table). */
typedef struct io_lock {
    _Atomic(uint32_t) sem;
    _Atomic(uint32_t) queued;
} io_lock;

typedef struct pdesc pdesc;
typedef struct io_waiter {
    G *g;
    pdesc *pd;
    _Atomic(uintptr_t) *slot;
    int result; /* 0: ready; -ETIMEDOUT; -EBADF */
    bool armed;
    int64_t deadline; /* 0: none */
    gort_tnode timer;
} io_waiter;

struct pdesc {
    gort_os_lock lock;             /* registration, close, rthr/wthr    */
    _Atomic(uint32_t) seq;         /* bumped at registration and close  */
    _Atomic(int) open;             /* OPEN_NONE, OPEN_HELD, OPEN_OWNED   */
    _Atomic(bool) closing;         /* a gort_fd_close is running        */
    bool pollable;                 /* false: a regular file or directory */
    /* Owned and pollable: the program's own O_NONBLOCK (gort keeps the
     * descriptor's set): what it was at registration, then what the
     * program set through gort_fd_user_nonblock (the hooks' fcntl). */
    _Atomic(bool) user_nonblock;
    uint64_t dev;                  /* the file registered (fstat), so a  */
    uint64_t ino;                     /* second gort_fd_open is told apart  */
    _Atomic(uintptr_t) rg, wg;     /* 0, PD_READY or an io_waiter *      */
    io_lock rl, wl;                /* one reader, one writer at a time  */
    /* The plain thread waiting in poll for each direction (the holder of
     * rl / wl), by its wake handle; NULL: none.  Under lock. */
    gort_os_wake *rthr, *wthr;
    _Atomic(int32_t) ops;          /* operations in flight: close waits */
};

/* pdesc.open: not registered; registered as the program left it
 * (gort_fd_wait); registered and made the runtime's (non-blocking). */
enum { OPEN_NONE, OPEN_HELD, OPEN_OWNED };

/* fd_register's modes: a gort call (owned, registered once); a number the
 * kernel just handed out, or gort_fd_open (owned, stat again); a wait
 * (held at least, stat again). */
enum { REG_USE, REG_FRESH, REG_HOLD, REG_FRESH_OURS /* REG_FRESH, made non-blocking by gort (accept) */ };

enum { CHUNK = 1024, NCHUNKS = 4096 }; /* descriptors 0 .. 4M-1 */
static _Atomic(pdesc *) chunks[NCHUNKS];
static gort_os_lock poll_init_lock;
static _Atomic(int) poll_state; /* 0 not yet, 1 running, < 0 -errno */
static _Atomic(int32_t) waiters; /* goroutines parked on a slot */
static _Atomic(int64_t) last_poll;

GORT_RUNTIME_TEXT static uint64_t key_of(int fd, uint32_t seq) { return (uint64_t)seq << 32 | (uint32_t)fd; }

GORT_RUNTIME_TEXT static pdesc *pd_get(int fd, bool create) {
    if (fd < 0 || fd >= CHUNK * NCHUNKS) return NULL;
    _Atomic(pdesc *) *c = &chunks[fd / CHUNK];
    pdesc *chunk = atomic_load_explicit(c, memory_order_acquire);
    if (chunk == NULL) {
        if (!create) return NULL;
        pdesc *fresh = calloc(CHUNK, sizeof *fresh);
        if (fresh == NULL) return NULL;
        for (int i = 0; i < CHUNK; i++) { /* published by the CAS below */
            atomic_init(&fresh[i].rl.sem, 1);
            atomic_init(&fresh[i].wl.sem, 1);
        }
        if (!atomic_compare_exchange_strong(c, &chunk, fresh))
            free(fresh); /* another thread won; chunk is theirs */
        else
            chunk = fresh;
    }
    return &chunk[fd % CHUNK];
}

GORT_RUNTIME_TEXT static int poller_start(void) {
    int st = atomic_load_explicit(&poll_state, memory_order_acquire);
    if (st != 0) return st < 0 ? st : 0;
    gort_lock(&poll_init_lock);
    st = atomic_load(&poll_state);
    if (st == 0) {
        st = gort_os_poll_init();
        atomic_store_explicit(&poll_state, st == 0 ? 1 : st, memory_order_release);
        if (st == 0) gort_netpoll_started(); /* the sleeper M starts polling */
    }
    gort_unlock(&poll_init_lock);
    return st < 0 ? st : 0;
}

GORT_RUNTIME_TEXT bool gort_netpoll_inited(void) {
    return atomic_load_explicit(&poll_state, memory_order_acquire) == 1;
}

GORT_RUNTIME_TEXT bool gort_netpoll_waiting(void) { return atomic_load_explicit(&waiters, memory_order_relaxed) > 0; }

GORT_RUNTIME_TEXT int64_t gort_netpoll_last(void) { return atomic_load_explicit(&last_poll, memory_order_relaxed); }

/* Register fd for mode (REG_*; REG_USE registers once, the others stat
 * the descriptor again: the same file stays as it is, another file that
 * reused the number is registered afresh).  -EBADF while a gort_fd_close
 * of it runs. */
GORT_RUNTIME_TEXT static int fd_register(int fd, int mode, pdesc **out) {
    pdesc *pd = pd_get(fd, true);
    int err;
    if (pd == NULL) return fd < 0 || fd >= CHUNK * NCHUNKS ? -EBADF : -ENOMEM;
    *out = pd;
    if (mode == REG_USE && atomic_load_explicit(&pd->open, memory_order_acquire) == OPEN_OWNED) return 0;
    bool hold = mode == REG_HOLD;
    if ((err = poller_start()) != 0) return err;
    gort_lock(&pd->lock);
    if (atomic_load(&pd->closing)) { /* still the file being closed */
        err = -EBADF;
        goto out;
    }
    int was = atomic_load(&pd->open);
    if (mode != REG_USE || was != OPEN_OWNED) {
        gort_os_fd_info st;
        if ((err = gort_os_fd_stat(fd, &st)) != 0) goto out;
        /* The file already registered: nothing to do (starting over would
         * strand a goroutine parked on it), unless it is held and a gort
         * call wants it owned.  A number reused after a plain close()
         * holds another file: register it. */
        bool same = was != OPEN_NONE && st.dev == pd->dev && st.ino == pd->ino;
        if (same && (hold || (was == OPEN_OWNED && (!pd->pollable || st.nonblocking)))) goto out;
        if (same && was == OPEN_HELD) {
            atomic_store(&pd->user_nonblock, st.nonblocking);
            if (pd->pollable && (err = gort_os_fd_prepare(fd)) != 0) goto out;
            atomic_store_explicit(&pd->open, OPEN_OWNED, memory_order_release);
            goto out;
        }
        if (was != OPEN_NONE && pd->pollable) gort_os_poll_del(fd);
        uint32_t seq = atomic_load(&pd->seq) + 1;
        atomic_store(&pd->seq, seq);
        atomic_store(&pd->rg, 0);
        atomic_store(&pd->wg, 0);
        pd->pollable = st.pollable;
        pd->dev = st.dev;
        pd->ino = st.ino;
        atomic_store(&pd->user_nonblock, st.nonblocking && mode != REG_FRESH_OURS);
        if (pd->pollable) {
            if (!hold && (err = gort_os_fd_prepare(fd)) != 0) goto out; /* non-blocking, no SIGPIPE */
            err = gort_os_poll_add(fd, key_of(fd, seq));
            if (err == -EPERM) pd->pollable = false, err = 0; /* cannot be polled: block */
            if (err != 0) goto out;
        }
        atomic_store_explicit(&pd->open, hold ? OPEN_HELD : OPEN_OWNED, memory_order_release);
    }
out:
    gort_unlock(&pd->lock);
    return err;
}

/* ---- claiming waiters ------------------------------------------------------ */

typedef struct glist {
    G *head, *tail;
} glist;

GORT_RUNTIME_TEXT static void glist_push(glist *l, G *g) {
    g->schedlink = NULL;
    if (l->tail != NULL)
        l->tail->schedlink = g;
    else
        l->head = g;
    l->tail = g;
}

/* Claim slot's waiter with result (into l), or with set_ready leave
 * PD_READY for the next waiter. */
GORT_RUNTIME_TEXT static void slot_wake(_Atomic(uintptr_t) *slot, int result, bool set_ready, glist *l) {
    for (;;) {
        uintptr_t old = atomic_load(slot);
        if (old == PD_READY || old == PD_TIMEDOUT) return;
        if (old == 0) {
            if (!set_ready || atomic_compare_exchange_strong(slot, &old, PD_READY)) return;
            continue;
        }
        if (atomic_compare_exchange_strong(slot, &old, 0)) {
            io_waiter *w = (io_waiter *)old;
            w->result = result;
            atomic_fetch_sub_explicit(&waiters, 1, memory_order_relaxed);
            glist_push(l, w->g);
            return;
        }
    }
}

GORT_RUNTIME_TEXT static void on_ready(uint64_t key, int modes, void *arg) {
    pdesc *pd = pd_get((int)(uint32_t)key, false);
    if (pd == NULL || atomic_load(&pd->seq) != (uint32_t)(key >> 32)) return; /* stale */
    if (modes & GORT_POLL_READ) slot_wake(&pd->rg, 0, true, arg);
    if (modes & GORT_POLL_WRITE) slot_wake(&pd->wg, 0, true, arg);
}

GORT_RUNTIME_TEXT G *gort_netpoll(int64_t ns) {
    glist l = {NULL, NULL};
    if (!gort_netpoll_inited()) return NULL;
    gort_os_poll_wait(ns, on_ready, &l);
    atomic_store_explicit(&last_poll, gort_os_nanotime(), memory_order_relaxed);
    return l.head;
}

/* ---- parking on a slot --------------------------------------------------- */

GORT_RUNTIME_TEXT static void io_timeout(void *arg, int64_t now) {
    io_waiter *w = arg; /* its goroutine deletes this timer synchronously: w lives */
    for (;;) {
        uintptr_t old = atomic_load(w->slot);
        if (old == (uintptr_t)w) {
            if (!atomic_compare_exchange_strong(w->slot, &old, 0)) continue;
            w->result = -ETIMEDOUT;
            atomic_fetch_sub_explicit(&waiters, 1, memory_order_relaxed);
            gort_ready(w->g, false);
            return;
        }
        if (old != 0 || atomic_compare_exchange_strong(w->slot, &old, PD_TIMEDOUT)) return;
    }
}

/* On g0, the goroutine parked: arm the timeout, then publish the waiter. */
GORT_RUNTIME_TEXT static bool io_commit(G *g, void *arg) {
    io_waiter *w = arg;
    /* Once published, w may be claimed and its goroutine gone: keep what
     * we need after the publication in locals. */
    _Atomic(uintptr_t) *slot = w->slot;
    pdesc *pd = w->pd;
    if (w->deadline != 0) {
        w->timer = (gort_tnode){.when = w->deadline, .f = io_timeout, .arg = w, .idx = -1, .sync = true};
        w->armed = true;
        gort_timer_add(gort_getm()->p, &w->timer);
    }
    uintptr_t old = 0;
    atomic_fetch_add_explicit(&waiters, 1, memory_order_relaxed);
    if (!atomic_compare_exchange_strong(slot, &old, (uintptr_t)w)) {
        atomic_fetch_sub_explicit(&waiters, 1, memory_order_relaxed);
        atomic_store(slot, 0); /* PD_READY or PD_TIMEDOUT: consume it, do not park */
        w->result = old == PD_TIMEDOUT ? -ETIMEDOUT : 0;
        return false;
    }
    if (atomic_load(&pd->closing)) { /* the close swept before we published */
        uintptr_t mine = (uintptr_t)w;
        if (atomic_compare_exchange_strong(slot, &mine, 0)) { /* ours again: w is alive */
            atomic_fetch_sub_explicit(&waiters, 1, memory_order_relaxed);
            w->result = -EBADF;
            return false;
        }
    }
    return true;
}

/* Wait until the slot's direction of pd is ready: 0, -ETIMEDOUT, -EBADF. */
GORT_RUNTIME_TEXT static int io_wait(pdesc *pd, _Atomic(uintptr_t) *slot, int64_t deadline, const char *reason) {
    uintptr_t ready = PD_READY;
    if (atomic_compare_exchange_strong(slot, &ready, 0)) return 0;
    if (atomic_load(&pd->closing)) return -EBADF;
    if (deadline < 0) return -EAGAIN; /* timeout 0: do not wait */
    if (deadline > 0 && gort_os_nanotime() >= deadline) return -ETIMEDOUT;
    io_waiter w = {.g = gort_getg(), .pd = pd, .slot = slot, .result = 0, .deadline = deadline};
    gort_park(io_commit, &w, reason);
    if (w.armed) gort_timer_del_sync(&w.timer);
    return w.result;
}

/* ---- the operations ------------------------------------------------------- */

/* deadline: 0 none, -1 "try once" (timeout 0), else absolute. */
GORT_RUNTIME_TEXT static int64_t deadline_of(int64_t timeout_ns) {
    return timeout_ns < 0 ? 0 : timeout_ns == 0 ? -1 : gort_deadline(timeout_ns);
}

/* Without a wake handle (none could be made), a plain thread looks for a
 * close this often. */
#define THREAD_SLICE_NS (10 * 1000000)

/* A plain thread waits in poll(2) (os.h gort_os_poll_fd) until fd is
 * ready for its direction: 0, -EAGAIN (deadline -1), -ETIMEDOUT, -EBADF
 * (closed meanwhile: gort_fd_close signals the wake handle published in
 * rthr/wthr).  The caller holds the direction's io_lock, so the slot is
 * free. */
GORT_RUNTIME_TEXT static int thread_wait(pdesc *pd, int fd, bool writing, int64_t deadline) {
    if (deadline < 0) return -EAGAIN; /* timeout 0: do not wait */
    gort_thread_known(); /* alive for deadlock detection while it waits */
    gort_os_wake wake, **slot = writing ? &pd->wthr : &pd->rthr;
    bool have_wake = gort_os_wake_open(&wake) == 0;
    int err = 0;
    gort_lock(&pd->lock);
    if (atomic_load(&pd->closing))
        err = -EBADF;
    else if (have_wake)
        *slot = &wake;
    gort_unlock(&pd->lock);
    while (err == 0) {
        int64_t ns = -1;
        if (deadline > 0 && (ns = deadline - gort_os_nanotime()) <= 0) {
            err = -ETIMEDOUT;
            break;
        }
        if (!have_wake && (ns < 0 || ns > THREAD_SLICE_NS)) ns = THREAD_SLICE_NS;
        int r = gort_os_poll_fd(fd, writing ? GORT_POLL_WRITE : GORT_POLL_READ, have_wake ? &wake : NULL, ns);
        if (atomic_load(&pd->closing))
            err = -EBADF;
        else if (r != 0)
            err = r < 0 ? r : 0;
        if (r != 0) break; /* ready (or an error) */
    }
    if (have_wake) { /* unpublished under the lock: the closer signals only under it */
        gort_lock(&pd->lock);
        if (*slot == &wake) *slot = NULL;
        gort_unlock(&pd->lock);
        gort_os_wake_close(&wake);
    }
    return err;
}

enum { OP_READ, OP_WRITE, OP_ACCEPT };

/* One try of op: its result, or -errno (os.h). */
GORT_RUNTIME_TEXT static ssize_t op_once(int op, int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *len) {
    switch (op) {
    case OP_READ: return gort_os_read(fd, buf, n);
    case OP_WRITE: return gort_os_write(fd, buf, n); /* EPIPE, never SIGPIPE */
    default: return gort_os_accept(fd, sa, len);
    }
}

/* Count an operation in flight on fd, then register fd (op_end undoes).
 * In that order, against gort_fd_close's (set closing, then wait for ops
 * to drain), both seq_cst: either the close sees the count and waits, or
 * the call sees closing and looks again under the lock, where it is
 * -EBADF while the close runs (never registering the descriptor anew), or
 * registers afresh the file that reused the number once close(2) is done. */
GORT_RUNTIME_TEXT static int op_begin(int fd, int mode, pdesc **out) {
    pdesc *pd = pd_get(fd, true);
    int err;
    if (pd == NULL) return fd >= CHUNK * NCHUNKS ? -EBADF : -ENOMEM;
    atomic_fetch_add(&pd->ops, 1);
    err = fd_register(fd, mode == REG_USE && atomic_load(&pd->closing) ? REG_FRESH : mode, &pd);
    if (err != 0) {
        atomic_fetch_sub(&pd->ops, 1);
        return err;
    }
    *out = pd;
    return 0;
}

GORT_RUNTIME_TEXT static ssize_t op_end(pdesc *pd, ssize_t r) {
    atomic_fetch_sub(&pd->ops, 1);
    return r;
}

/* Take a direction within deadline (0 none, -1 only try): 0, -EAGAIN,
 * -ETIMEDOUT. */
GORT_RUNTIME_TEXT static int io_lock_take(io_lock *l, int64_t deadline, const char *reason) {
    uint32_t one = 1;
    if (atomic_compare_exchange_strong(&l->sem, &one, 0)) return 0;
    if (deadline < 0) return -EAGAIN;
    atomic_fetch_add(&l->queued, 1); /* before the acquire's last try: seq_cst, as io_unlock's */
    int err = gort_semacquire_until(&l->sem, deadline, reason);
    atomic_fetch_sub(&l->queued, 1);
    return err;
}

/* Release a direction to the next call queued on it, if any (a hand-off,
 * FIFO: a caller in a loop cannot starve the queue by taking the unit
 * back before the woken waiter runs).  A caller that queues after the
 * load of queued finds the unit in its last try. */
GORT_RUNTIME_TEXT static void io_unlock(io_lock *l) {
    atomic_fetch_add(&l->sem, 1);
    if (atomic_load(&l->queued) != 0) gort_semwake(&l->sem, true);
}

static ssize_t do_io_on(pdesc *pd, int op, int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *len,
                        int64_t timeout_ns);

GORT_RUNTIME_TEXT static ssize_t do_io(int op, int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *len,
                                    int64_t timeout_ns) {
    pdesc *pd;
    int err;
    if (fd < 0) return -EBADF;
    if (buf == NULL && n > 0 && op != OP_ACCEPT) return -EFAULT;
    if (n > SSIZE_MAX) return -EINVAL; /* the count would not fit the result */
    if (gort_forked()) return gort_forked_error();
    gort_preempt_check();
    if ((err = op_begin(fd, REG_USE, &pd)) != 0) return err;
    return op_end(pd, do_io_on(pd, op, fd, buf, n, sa, len, timeout_ns));
}

/* Run op until it does not return EAGAIN; write: until all n bytes. */
GORT_RUNTIME_TEXT static ssize_t do_io_on(pdesc *pd, int op, int fd, void *buf, size_t n, struct sockaddr *sa,
                                       socklen_t *len, int64_t timeout_ns) {
    ssize_t r;
    size_t done = 0;
    int err;
    int64_t deadline = deadline_of(timeout_ns);
    G *g = gort_getg();
    bool reading = op != OP_WRITE;
    io_lock *lk = reading ? &pd->rl : &pd->wl;

    if (!pd->pollable) { /* a regular file: it never says EAGAIN, it blocks */
        gort_syscall_enter();
        do {
            r = op_once(op, fd, (char *)buf + done, n - done, sa, len);
            if (r > 0 && op == OP_WRITE) done += (size_t)r;
        } while (r == -EINTR || (op == OP_WRITE && r > 0 && done < n));
        gort_syscall_exit();
        return r < 0 ? r : op == OP_WRITE ? (ssize_t)n : r;
    }
    /* Queued behind another call of this direction: within the deadline. */
    if ((err = io_lock_take(lk, deadline, reading ? "IO queue read" : "IO queue write")) != 0) return err;
    for (;;) {
        if (atomic_load(&pd->closing)) {
            r = -EBADF;
            break;
        }
        r = op_once(op, fd, (char *)buf + done, n - done, sa, len);
        if (r >= 0) {
            if (op != OP_WRITE) break;
            done += (size_t)r;
            if (done == n) {
                r = (ssize_t)n;
                break;
            }
            continue;
        }
        if (r == -EINTR || (op == OP_ACCEPT && r == -ECONNABORTED)) continue;
        if (r != -EAGAIN && r != -EWOULDBLOCK) break;
        err = g != NULL ? io_wait(pd, reading ? &pd->rg : &pd->wg, deadline, reading ? "IO wait read" : "IO wait write")
                        : thread_wait(pd, fd, !reading, deadline);
        if (err != 0) {
            r = err;
            break;
        }
    }
    io_unlock(lk);
    if (op == OP_ACCEPT && r >= 0) { /* the new descriptor is ours too */
        pdesc *npd;
        if ((err = fd_register((int)r, REG_FRESH_OURS, &npd)) != 0) {
            gort_os_close((int)r);
            return err;
        }
    }
    return r;
}

GORT_RUNTIME_TEXT int gort_fd_open(int fd) {
    pdesc *pd;
    if (fd < 0) return -EBADF;
    gort_lazy_init();
    return fd_register(fd, REG_FRESH, &pd);
}

GORT_RUNTIME_TEXT int gort_fd_close(int fd) {
    if (fd < 0) return -EBADF;
    pdesc *pd = pd_get(fd, false);
    if (pd == NULL) return gort_os_close(fd); /* never registered */
    glist l = {NULL, NULL};
    gort_lock(&pd->lock);
    if (atomic_load(&pd->closing)) { /* another close runs: it closes the number */
        gort_unlock(&pd->lock);
        return -EBADF;
    }
    /* From here until close(2) every call on fd, parked, queued or
     * arriving, ends with -EBADF; none registers it again. */
    atomic_store(&pd->closing, true);
    if (atomic_load(&pd->open) != OPEN_NONE) {
        atomic_store(&pd->seq, atomic_load(&pd->seq) + 1); /* drop events in flight */
        atomic_store(&pd->open, OPEN_NONE);
        if (pd->pollable) gort_os_poll_del(fd);
    }
    /* Plain threads in poll: their wake handles are published under this
     * lock and closed only after they are unpublished under it. */
    if (pd->rthr != NULL) gort_os_wake_signal(pd->rthr);
    if (pd->wthr != NULL) gort_os_wake_signal(pd->wthr);
    gort_unlock(&pd->lock);
    slot_wake(&pd->rg, -EBADF, false, &l);
    slot_wake(&pd->wg, -EBADF, false, &l);
    gort_inject(l.head);
    /* Let every operation in flight see the close before the number can
     * be reused (Go's fdMutex does the same). */
    while (atomic_load(&pd->ops) > 0) {
        if (gort_getg() != NULL)
            gort_yield();
        else
            gort_os_thread_yield();
    }
    /* close(2) and the end of closing under the lock: a registration of
     * the number reused (an accept's, or a call on a file opened since)
     * waits for it, and then finds the descriptor not closing. */
    gort_lock(&pd->lock);
    int err = gort_os_close(fd);
    atomic_store(&pd->closing, false);
    gort_unlock(&pd->lock);
    return err;
}

GORT_RUNTIME_TEXT ssize_t gort_read(int fd, void *buf, size_t n, int64_t timeout_ns) {
    return do_io(OP_READ, fd, buf, n, NULL, NULL, timeout_ns);
}

GORT_RUNTIME_TEXT ssize_t gort_write(int fd, const void *buf, size_t n, int64_t timeout_ns) {
    return do_io(OP_WRITE, fd, (void *)buf, n, NULL, NULL, timeout_ns);
}

GORT_RUNTIME_TEXT int gort_accept(int fd, struct sockaddr *sa, socklen_t *len, int64_t timeout_ns) {
    return (int)do_io(OP_ACCEPT, fd, NULL, 0, sa, len, timeout_ns);
}

static int connect_on(pdesc *pd, int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline);

GORT_RUNTIME_TEXT int gort_connect(int fd, const struct sockaddr *sa, socklen_t len, int64_t timeout_ns) {
    pdesc *pd;
    int err;
    if (fd < 0) return -EBADF;
    if (sa == NULL) return -EFAULT;
    if (gort_forked()) return gort_forked_error();
    gort_preempt_check();
    if ((err = op_begin(fd, REG_USE, &pd)) != 0) return err;
    return (int)op_end(pd, connect_on(pd, fd, sa, len, deadline_of(timeout_ns)));
}

GORT_RUNTIME_TEXT static int connect_on(pdesc *pd, int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline) {
    int err = gort_os_connect(fd, sa, len);
    if (err != -EINPROGRESS && err != -EINTR) return err; /* 0: connected at once */
    if (!pd->pollable) return -EINVAL;
    if ((err = io_lock_take(&pd->wl, deadline, "IO queue write")) != 0) return err;
    for (;;) {
        if (atomic_load(&pd->closing)) {
            err = -EBADF;
            break;
        }
        err = gort_getg() != NULL ? io_wait(pd, &pd->wg, deadline, "IO wait connect")
                                  : thread_wait(pd, fd, true, deadline);
        if (err != 0) break;
        if ((err = gort_os_connect_result(fd)) != -EINPROGRESS) break; /* 0 connected, or why not */
    }
    io_unlock(&pd->wl);
    return err;
}

GORT_RUNTIME_TEXT int gort_fd_wait(int fd, int events, int64_t timeout_ns) {
    pdesc *pd;
    int err;
    if (fd < 0) return -EBADF;
    if (events != GORT_FD_READ && events != GORT_FD_WRITE) return -EINVAL;
    if (gort_forked()) return gort_forked_error();
    gort_lazy_init();
    gort_preempt_check();
    if ((err = op_begin(fd, REG_HOLD, &pd)) != 0) return err;
    if (!pd->pollable) return (int)op_end(pd, 0); /* a regular file is always ready */
    bool writing = events == GORT_FD_WRITE;
    int64_t deadline = deadline_of(timeout_ns);
    io_lock *lk = writing ? &pd->wl : &pd->rl;
    /* Under the direction's lock, as a gort_read: the slot has one waiter,
     * and the look before each park finds what an earlier waiter's edge
     * left unread. */
    if ((err = io_lock_take(lk, deadline, writing ? "IO queue write" : "IO queue read")) != 0) return (int)op_end(pd, err);
    for (;;) {
        if (atomic_load(&pd->closing)) {
            err = -EBADF;
            break;
        }
        int r = gort_os_poll_fd(fd, writing ? GORT_POLL_WRITE : GORT_POLL_READ, NULL, 0);
        if (r != 0) {
            err = r < 0 ? r : 0;
            break;
        }
        err = gort_getg() != NULL ? io_wait(pd, writing ? &pd->wg : &pd->rg, deadline, writing ? "IO wait write" : "IO wait read")
                                  : thread_wait(pd, fd, writing, deadline);
        if (err != 0) break;
    }
    io_unlock(lk);
    return (int)op_end(pd, err);
}

GORT_RUNTIME_TEXT int gort_fd_user_nonblock(int fd, int mode) {
    if (fd < 0) return -EBADF;
    if (mode < -1 || mode > 1) return -EINVAL;
    pdesc *pd = pd_get(fd, false);
    if (pd == NULL || atomic_load_explicit(&pd->open, memory_order_acquire) != OPEN_OWNED || !pd->pollable ||
        atomic_load(&pd->closing)) {
        gort_os_fd_info st;
        int err = gort_os_fd_stat(fd, &st);
        return err != 0 ? err : -ENOENT; /* its O_NONBLOCK is the program's own */
    }
    if (mode >= 0) atomic_store(&pd->user_nonblock, mode == 1);
    return atomic_load(&pd->user_nonblock) ? 1 : 0;
}
