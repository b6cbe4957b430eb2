/*
 * hooks.c — libc's blocking calls, made to park the calling goroutine
 * instead of its thread.  Opt in: //runtime:gort_hooks (Bazel), pkg-config
 * gort-hooks, or LD_PRELOAD=libgort-hooks.so (docs/blocking.md).  Linux.
 *
 * Each hook is the libc function of its name.  Invariants:
 *   - Pass-through.  From a plain thread, inside a signal handler (every
 *     handler installed through sigaction/signal runs in handler_entry,
 *     which counts it), in the child of a fork, and on a descriptor the
 *     program made non-blocking, a hook is libc's own function (found once,
 *     with dlsym(RTLD_NEXT)) called with the same arguments.  "The program
 *     made non-blocking": O_NONBLOCK, unless gort set it for itself (a
 *     descriptor gort registered: gort_fd_user_nonblock keeps the
 *     program's own mode, which fcntl and ioctl FIONBIO here set and
 *     report).
 *   - A descriptor's mode is never changed (but by connect, while it
 *     starts): from a goroutine, one call at a time is made non-blocking —
 *     MSG_DONTWAIT on a socket, RWF_NOWAIT (preadv2/pwritev2) on a pipe or
 *     FIFO, otherwise a poll(2) with timeout 0 before libc's call; a
 *     regular file goes to libc at once (kind_of).  Only when that would block does the hook look at the
 *     descriptor (F_GETFL, then SO_RCVTIMEO/SO_SNDTIMEO) and park in
 *     gort_fd_wait (the poller, with O_NONBLOCK left alone), then try again.
 *   - Results and errno are those of the call made once the descriptor is
 *     ready; errno is left as it was on success.  A socket timeout gives
 *     what the kernel gives for it (EAGAIN, EINPROGRESS for connect, or
 *     the count done so far).  A parked call never ends with EINTR (its
 *     goroutine is off the thread signals go to); a close of its
 *     descriptor through this close ends it with EBADF.
 *   - The runtime never calls these (runtime/os/sys.h enters the kernel
 *     directly), so a hook that calls into gort never comes back here.
 * Still blocking the thread (the foreign-call rules of gort.h keep the
 * other goroutines running meanwhile): regular files, on a descriptor that
 * is polled first (a terminal, say) a write larger than its room,
 * recvmsg with MSG_WAITALL, ppoll, pselect and epoll_pwait with a signal mask, and glibc's own DNS traffic (getaddrinfo uses libc's internal
 * socket calls, which no interposer sees; it runs between
 * gort_syscall_enter/exit instead, so its P moves on at once).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "runtime/gort.h"

/* HOOK: a libc name defined here.  ENTRY: the C body of a hook that may
 * park, hook_NAME; NAME itself is its entry in entry_<cpu>.S, which moves
 * the caller's registers that hold errno's address to the thread the
 * call returns on (below). */
#define HOOK __attribute__((visibility("default")))
#define ENTRY __attribute__((visibility("hidden")))

/* ---- libc's functions ---------------------------------------------------- */

#define LIBC_FNS(X)                                                                                                    \
    X(read) X(write) X(readv) X(writev) X(recv) X(recvfrom) X(recvmsg) X(send) X(sendto) X(sendmsg) X(accept)           \
    X(accept4) X(connect) X(poll) X(ppoll) X(select) X(nanosleep) X(usleep) X(sleep) X(close) X(sigaction)            \
    X(getaddrinfo) X(fcntl) X(fcntl64) X(ioctl) X(pselect) X(epoll_wait) X(epoll_pwait) X(clock_nanosleep)        \
    X(fclose) X(dup2) X(dup3)

enum {
#define LIBC_ENUM(name) LIBC_##name,
    LIBC_FNS(LIBC_ENUM) LIBC_COUNT
};
static const char *const libc_names[LIBC_COUNT] = {
#define LIBC_NAME(name) #name,
    LIBC_FNS(LIBC_NAME)};
static _Atomic(void *) libc_fns[LIBC_COUNT];

static void *libc_resolve(int i) {
    void *f = dlsym(RTLD_NEXT, libc_names[i]);
    if (f == NULL) { /* no libc below us: nothing sensible to do */
        static const char msg[] = "gort hooks: libc's functions not found (dlsym RTLD_NEXT)\n";
        syscall(SYS_write, 2, msg, sizeof msg - 1);
        abort();
    }
    atomic_store_explicit(&libc_fns[i], f, memory_order_relaxed);
    return f;
}

static inline void *libc_fn(int i) {
    void *f = atomic_load_explicit(&libc_fns[i], memory_order_relaxed);
    return f != NULL ? f : libc_resolve(i);
}

/* libc's NAME, typed as ours. */
#define LIBC(name) ((__typeof__(name) *)libc_fn(LIBC_##name))

/* errno through a fresh lookup, everywhere in this file: a hook that
 * parked may have moved to another thread, and compilers keep errno's
 * address across calls (__errno_location is const). */
__attribute__((noipa)) static int get_errno(void) { return errno; }
__attribute__((noipa)) static void set_errno(int e) { errno = e; }

/* ---- when a hook may park -------------------------------------------------- */

static __thread int handler_depth __attribute__((tls_model("initial-exec")));
static _Atomic(bool) forked;

static void on_fork_child(void) { atomic_store_explicit(&forked, true, memory_order_relaxed); }

/* Resolve everything before main (a first call from a signal handler then
 * never runs dlsym). */
__attribute__((constructor)) static void hooks_init(void) {
    for (int i = 0; i < LIBC_COUNT; i++) libc_fn(i);
    pthread_atfork(NULL, NULL, on_fork_child);
}

static inline bool parkable(void) {
    return handler_depth == 0 && !atomic_load_explicit(&forked, memory_order_relaxed) && gort_self() != 0;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A timeout in ns (-1: none), or -2: not one a deadline can hold (invalid,
 * or centuries: libc's call takes it). */
static int64_t timespec_ns(const struct timespec *ts) {
    if (ts == NULL) return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || ts->tv_sec > INT64_MAX / 1000000000 / 2)
        return -2;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* What a descriptor is, for making one call on it non-blocking: learned
 * (fstat) at its first hooked read or write, forgotten at close, and
 * looked up again before every park, so a number reused behind our back
 * is found out before it could make a call wait wrongly. */
enum {
    KIND_UNKNOWN,
    KIND_SOCKET, /* MSG_DONTWAIT */
    KIND_STREAM, /* the same, a SOCK_STREAM socket (a blocking send sends it all) */
    KIND_NOWAIT, /* a pipe or FIFO: preadv2/pwritev2 with RWF_NOWAIT */
    KIND_POLL,   /* anything else (a terminal, an eventfd, a FIFO of a
                  * kernel without RWF_NOWAIT for it): poll first */
    KIND_FILE,   /* a regular file or directory: libc's call at once */
};
enum { KNOWN_FDS = 1 << 16 };
static _Atomic(unsigned char) kinds[KNOWN_FDS];

static void kind_set(int fd, int kind) {
    if (fd >= 0 && fd < KNOWN_FDS) atomic_store_explicit(&kinds[fd], (unsigned char)kind, memory_order_relaxed);
}

static int kind_of(int fd) {
    int k = fd >= 0 && fd < KNOWN_FDS ? atomic_load_explicit(&kinds[fd], memory_order_relaxed) : KIND_UNKNOWN;
    if (k != KIND_UNKNOWN) return k;
    struct stat st;
    if (fstat(fd, &st) != 0) return KIND_POLL; /* not open: libc's call says so */
    int type = 0;
    socklen_t len = sizeof type;
    k = S_ISSOCK(st.st_mode)
            ? (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM ? KIND_STREAM : KIND_SOCKET)
        : S_ISFIFO(st.st_mode) ? KIND_NOWAIT
        : S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ? KIND_FILE
                                                     : KIND_POLL;
    kind_set(fd, k);
    return k;
}

/* Would a call on fd for events (POLLIN/POLLOUT) not block now? */
static bool ready_now(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    return LIBC(poll)(&p, 1, 0) != 0; /* an error too: libc's call reports it */
}

/* ---- waiting ----------------------------------------------------------------- */

/* One blocking call's wait: fd, direction, and its deadline (0: not yet
 * looked up; -1: none; else CLOCK_MONOTONIC ns). */
typedef struct waiter {
    int fd, events;
    int64_t deadline;
} waiter;

static int64_t socket_deadline(int fd, int events) {
    struct timeval tv;
    socklen_t len = sizeof tv;
    int opt = events == GORT_FD_READ ? SO_RCVTIMEO : SO_SNDTIMEO;
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0)) return -1;
    return now_ns() + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

enum { AWAIT_FAIL = -1, AWAIT_LIBC = 0, AWAIT_RETRY = 1 };

/* The call would block.  AWAIT_RETRY: parked until fd was ready, try
 * again; AWAIT_LIBC: make libc's call as the program did and return its
 * answer (a non-blocking or bad descriptor, or one gort cannot wait on);
 * AWAIT_FAIL: return -1 with errno set (the timeout's EAGAIN; EBADF, the
 * descriptor closed meanwhile). */
static int await(waiter *w) {
    if (w->deadline == 0) {
        kind_set(w->fd, KIND_UNKNOWN); /* what it is now */
        if (kind_of(w->fd) == KIND_FILE) return AWAIT_LIBC;
        int fl = LIBC(fcntl)(w->fd, F_GETFL);
        if (fl < 0 || ((fl & O_NONBLOCK) && gort_fd_user_nonblock(w->fd, -1) != 0))
            return AWAIT_LIBC; /* non-blocking for the program, not only for gort */
        w->deadline = socket_deadline(w->fd, w->events);
    }
    int64_t left = -1;
    if (w->deadline > 0 && (left = w->deadline - now_ns()) <= 0) {
        set_errno(EAGAIN);
        return AWAIT_FAIL;
    }
    int r = gort_fd_wait(w->fd, w->events, left);
    if (r == 0) return AWAIT_RETRY;
    if (r == -ETIMEDOUT || r == -EBADF) {
        set_errno(r == -EBADF ? EBADF : EAGAIN);
        return AWAIT_FAIL;
    }
    return AWAIT_LIBC; /* -ENOMEM and the like: block as without hooks */
}

/* ---- reads and writes -------------------------------------------------------- */

/* One call in flight: what it is, and how to make it. */
typedef struct op op;
struct op {
    int fd, events, flags;
    void *buf;
    size_t n;
    const struct iovec *iov;
    int iovcnt;
    struct msghdr *msg;
    struct sockaddr *sa;
    socklen_t *salen;
    bool all;    /* a blocking write, or MSG_WAITALL: until n bytes are done */
    size_t done; /* for all: bytes done so far */
    /* The call, not blocking, from done on: its result, or -1 with errno
     * (EAGAIN: it would block). */
    ssize_t (*attempt)(op *);
    /* libc's call, as the program made it (from done on). */
    ssize_t (*libc)(op *);
};

static ssize_t run(op *o) {
    if (!parkable()) return o->libc(o);
    int saved = get_errno();
    waiter w = {o->fd, o->events, 0};
    for (;;) {
        ssize_t r = o->attempt(o);
        if (r > 0 && o->all) {
            o->done += (size_t)r;
            if (o->done < o->n) continue;
            r = (ssize_t)o->done;
        } else if (r == 0 && o->all) {
            r = (ssize_t)o->done; /* end of stream */
        }
        if (r >= 0) {
            set_errno(saved);
            return r;
        }
        if (get_errno() != EAGAIN && get_errno() != EWOULDBLOCK) break;
        int a = await(&w);
        if (a == AWAIT_RETRY) continue;
        if (a == AWAIT_LIBC && o->done == 0) return o->libc(o);
        if (a == AWAIT_LIBC) { /* non-blocking after all: a partial count */
            set_errno(saved);
            return (ssize_t)o->done;
        }
        break;
    }
    if (o->done > 0) { /* what was done counts: the error comes next time */
        set_errno(saved);
        return (ssize_t)o->done;
    }
    return -1;
}

static char *at(const op *o) { return (char *)o->buf + o->done; }

/* The iovec from byte done on (a copy when done > 0: a write cut short). */
static const struct iovec *iov_from(const op *o, struct iovec **copy, int *cnt) {
    *copy = NULL;
    *cnt = o->iovcnt;
    if (o->done == 0) return o->iov;
    size_t skip = o->done;
    int i = 0;
    while (i < o->iovcnt && skip >= o->iov[i].iov_len) skip -= o->iov[i++].iov_len;
    *cnt = o->iovcnt - i;
    if ((*copy = malloc(sizeof **copy * (size_t)(*cnt > 0 ? *cnt : 1))) == NULL) return NULL;
    memcpy(*copy, o->iov + i, sizeof **copy * (size_t)*cnt);
    if (*cnt > 0) {
        (*copy)[0].iov_base = (char *)(*copy)[0].iov_base + skip;
        (*copy)[0].iov_len -= skip;
    }
    return *copy;
}

/* read, write, readv, writev: their libc calls, from byte done on. */
static ssize_t read_libc(op *o) { return LIBC(read)(o->fd, o->buf, o->n); }
static ssize_t write_libc(op *o) { return LIBC(write)(o->fd, at(o), o->n - o->done); }
static ssize_t readv_libc(op *o) { return LIBC(readv)(o->fd, o->iov, o->iovcnt); }
static ssize_t writev_libc(op *o) {
    struct iovec *copy;
    int cnt;
    const struct iovec *iov = iov_from(o, &copy, &cnt);
    if (iov == NULL) return set_errno(ENOMEM), -1;
    ssize_t r = LIBC(writev)(o->fd, iov, cnt);
    int e = get_errno();
    free(copy);
    set_errno(e);
    return r;
}

/* One of them made non-blocking by itself, by the descriptor's kind. */
static ssize_t rw_attempt(op *o) {
    bool writing = o->events == GORT_FD_WRITE;
    struct iovec one, *copy = NULL;
    const struct iovec *iov = &one;
    int cnt = 1;
    ssize_t r;
    if (o->iov != NULL) {
        if ((iov = iov_from(o, &copy, &cnt)) == NULL) return set_errno(ENOMEM), -1;
    } else {
        one = (struct iovec){at(o), o->n - o->done};
    }
    switch (kind_of(o->fd)) {
    case KIND_SOCKET:
    case KIND_STREAM: {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
        if (o->iov == NULL) /* send and recv: cheaper than their msg forms */
            r = writing ? LIBC(send)(o->fd, one.iov_base, one.iov_len, MSG_DONTWAIT)
                        : LIBC(recv)(o->fd, one.iov_base, one.iov_len, MSG_DONTWAIT);
        else
            r = writing ? LIBC(sendmsg)(o->fd, &m, MSG_DONTWAIT) : LIBC(recvmsg)(o->fd, &m, MSG_DONTWAIT);
        if (r < 0 && get_errno() == ENOTSOCK) { /* the number is another file now */
            kind_set(o->fd, KIND_UNKNOWN);
            set_errno(EAGAIN); /* the park looks again */
        }
        break;
    }
    case KIND_NOWAIT:
        r = writing ? pwritev2(o->fd, iov, cnt, -1, RWF_NOWAIT) : preadv2(o->fd, iov, cnt, -1, RWF_NOWAIT);
        if (r >= 0 || get_errno() != EOPNOTSUPP) break;
        kind_set(o->fd, KIND_POLL);
        /* fall through */
    case KIND_POLL:
        if (!ready_now(o->fd, writing ? POLLOUT : POLLIN)) {
            set_errno(EAGAIN);
            r = -1;
            break;
        }
        /* fall through */
    default:
        r = o->libc(o);
    }
    if (copy != NULL) {
        int e = get_errno();
        free(copy);
        set_errno(e);
    }
    return r;
}

ENTRY ssize_t hook_read(int fd, void *buf, size_t n) {
    op o = {.fd = fd, .events = GORT_FD_READ, .buf = buf, .n = n, .attempt = rw_attempt, .libc = read_libc};
    return run(&o);
}

ENTRY ssize_t hook_write(int fd, const void *buf, size_t n) {
    op o = {.fd = fd, .events = GORT_FD_WRITE, .buf = (void *)buf, .n = n, .all = n > 0,
            .attempt = rw_attempt, .libc = write_libc};
    return run(&o);
}

static size_t iov_total(const struct iovec *iov, int cnt) {
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    return n;
}

ENTRY ssize_t hook_readv(int fd, const struct iovec *iov, int iovcnt) {
    op o = {.fd = fd, .events = GORT_FD_READ, .iov = iov, .iovcnt = iovcnt, .attempt = rw_attempt,
            .libc = readv_libc};
    if (iovcnt < 0 || iovcnt > IOV_MAX || iov == NULL) return LIBC(readv)(fd, iov, iovcnt);
    return run(&o);
}

ENTRY ssize_t hook_writev(int fd, const struct iovec *iov, int iovcnt) {
    if (iovcnt < 0 || iovcnt > IOV_MAX || iov == NULL) return LIBC(writev)(fd, iov, iovcnt);
    size_t n = iov_total(iov, iovcnt);
    op o = {.fd = fd, .events = GORT_FD_WRITE, .iov = iov, .iovcnt = iovcnt, .n = n, .all = n > 0,
            .attempt = rw_attempt, .libc = writev_libc};
    return run(&o);
}

/* ---- sockets ------------------------------------------------------------------ */

/* The socket calls: the program's flags, plus MSG_DONTWAIT to try. */
static ssize_t recvfrom_libc(op *o) { return LIBC(recvfrom)(o->fd, at(o), o->n - o->done, o->flags, o->sa, o->salen); }
static ssize_t recvfrom_attempt(op *o) {
    return LIBC(recvfrom)(o->fd, at(o), o->n - o->done, o->flags | MSG_DONTWAIT, o->sa, o->salen);
}
static ssize_t sendto_libc(op *o) {
    return LIBC(sendto)(o->fd, at(o), o->n - o->done, o->flags, o->sa, o->salen != NULL ? *o->salen : 0);
}
static ssize_t sendto_attempt(op *o) {
    return LIBC(sendto)(o->fd, at(o), o->n - o->done, o->flags | MSG_DONTWAIT, o->sa, o->salen != NULL ? *o->salen : 0);
}
static ssize_t recvmsg_libc(op *o) { return LIBC(recvmsg)(o->fd, o->msg, o->flags); }
static ssize_t recvmsg_attempt(op *o) { return LIBC(recvmsg)(o->fd, o->msg, o->flags | MSG_DONTWAIT); }

/* sendmsg from byte done on: the rest of the iovec, the control data only
 * with the first bytes (it went with them). */
static ssize_t sendmsg_each(op *o, int flags) {
    if (o->done == 0) return LIBC(sendmsg)(o->fd, o->msg, flags);
    op rest = *o;
    rest.iov = o->msg->msg_iov;
    rest.iovcnt = (int)o->msg->msg_iovlen;
    struct iovec *copy;
    int cnt;
    const struct iovec *iov = iov_from(&rest, &copy, &cnt);
    if (iov == NULL) return set_errno(ENOMEM), -1;
    struct msghdr m = *o->msg;
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)cnt;
    m.msg_control = NULL;
    m.msg_controllen = 0;
    ssize_t r = LIBC(sendmsg)(o->fd, &m, flags);
    int e = get_errno();
    free(copy);
    set_errno(e);
    return r;
}
static ssize_t sendmsg_libc(op *o) { return sendmsg_each(o, o->flags); }
static ssize_t sendmsg_attempt(op *o) { return sendmsg_each(o, o->flags | MSG_DONTWAIT); }

/* A stream socket's blocking send sends everything; a datagram's is one. */
static bool is_stream(int fd) { return kind_of(fd) == KIND_STREAM; }

ENTRY ssize_t hook_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa, socklen_t *salen) {
    if (flags & MSG_DONTWAIT) return LIBC(recvfrom)(fd, buf, n, flags, sa, salen);
    op o = {.fd = fd, .events = GORT_FD_READ, .flags = flags, .buf = buf, .n = n, .sa = sa, .salen = salen,
            .attempt = recvfrom_attempt, .libc = recvfrom_libc};
    if ((flags & MSG_WAITALL) && n > 0 && parkable()) o.all = is_stream(fd);
    return run(&o);
}

ENTRY ssize_t hook_recv(int fd, void *buf, size_t n, int flags) { return hook_recvfrom(fd, buf, n, flags, NULL, NULL); }

ENTRY ssize_t hook_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa, socklen_t salen) {
    if (flags & MSG_DONTWAIT) return LIBC(sendto)(fd, buf, n, flags, sa, salen);
    op o = {.fd = fd, .events = GORT_FD_WRITE, .flags = flags, .buf = (void *)buf, .n = n,
            .sa = (struct sockaddr *)sa, .salen = &salen, .attempt = sendto_attempt, .libc = sendto_libc};
    if (n > 0 && parkable()) o.all = is_stream(fd);
    return run(&o);
}

ENTRY ssize_t hook_send(int fd, const void *buf, size_t n, int flags) { return hook_sendto(fd, buf, n, flags, NULL, 0); }

ENTRY ssize_t hook_recvmsg(int fd, struct msghdr *msg, int flags) {
    if ((flags & (MSG_DONTWAIT | MSG_WAITALL)) || msg == NULL) return LIBC(recvmsg)(fd, msg, flags);
    op o = {.fd = fd, .events = GORT_FD_READ, .flags = flags, .msg = msg, .attempt = recvmsg_attempt,
            .libc = recvmsg_libc};
    return run(&o);
}

ENTRY ssize_t hook_sendmsg(int fd, const struct msghdr *msg, int flags) {
    if ((flags & MSG_DONTWAIT) || msg == NULL || msg->msg_iovlen > IOV_MAX) return LIBC(sendmsg)(fd, msg, flags);
    size_t n = iov_total(msg->msg_iov, (int)msg->msg_iovlen);
    op o = {.fd = fd, .events = GORT_FD_WRITE, .flags = flags, .msg = (struct msghdr *)msg, .n = n,
            .attempt = sendmsg_attempt, .libc = sendmsg_libc};
    if (n > 0 && parkable()) o.all = is_stream(fd);
    return run(&o);
}

/* accept: no flag makes one call non-blocking; a poll first does (a
 * connection another process takes in between blocks the thread). */
static ssize_t accept_libc(op *o) { return LIBC(accept4)(o->fd, o->sa, o->salen, o->flags); }
static ssize_t accept_attempt(op *o) {
    if (ready_now(o->fd, POLLIN)) return accept_libc(o);
    set_errno(EAGAIN);
    return -1;
}

ENTRY int hook_accept4(int fd, struct sockaddr *sa, socklen_t *salen, int flags) {
    op o = {.fd = fd, .events = GORT_FD_READ, .flags = flags, .sa = sa, .salen = salen, .attempt = accept_attempt,
            .libc = accept_libc};
    int r = (int)run(&o);
    if (r >= 0) kind_set(r, KIND_UNKNOWN); /* a socket of the listener's type: looked up at first use */
    return r;
}

ENTRY int hook_accept(int fd, struct sockaddr *sa, socklen_t *salen) {
    if (!parkable()) return LIBC(accept)(fd, sa, salen);
    return hook_accept4(fd, sa, salen, 0);
}

/* connect: started non-blocking (the socket is the caller's alone until it
 * is connected), then a wait for writable, within SO_SNDTIMEO. */
ENTRY int hook_connect(int fd, const struct sockaddr *sa, socklen_t len) {
    if (!parkable()) return LIBC(connect)(fd, sa, len);
    int saved = get_errno();
    int fl = LIBC(fcntl)(fd, F_GETFL);
    if (fl < 0) return LIBC(connect)(fd, sa, len);
    /* Non-blocking already: for the program (libc's answer), or only for
     * gort (then blocking as the program sees it: wait below). */
    bool gorts = (fl & O_NONBLOCK) && gort_fd_user_nonblock(fd, -1) == 0;
    if ((fl & O_NONBLOCK) && !gorts) return LIBC(connect)(fd, sa, len);
    if (!gorts && LIBC(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) != 0) return LIBC(connect)(fd, sa, len);
    int r = LIBC(connect)(fd, sa, len);
    int err = r == 0 ? 0 : get_errno();
    if (!gorts) LIBC(fcntl)(fd, F_SETFL, fl);
    if (err == 0) {
        set_errno(saved);
        return 0;
    }
    if (err == EAGAIN) return LIBC(connect)(fd, sa, len); /* a unix socket's full backlog: wait as libc does */
    if (err != EINPROGRESS) {
        set_errno(err);
        return -1;
    }
    int64_t deadline = socket_deadline(fd, GORT_FD_WRITE);
    for (;;) {
        int64_t left = -1;
        if (deadline > 0 && (left = deadline - now_ns()) <= 0) {
            set_errno(EINPROGRESS); /* as the kernel answers a connect past SO_SNDTIMEO */
            return -1;
        }
        int w = gort_fd_wait(fd, GORT_FD_WRITE, left);
        if (w == -ETIMEDOUT) continue;
        if (w != 0) {
            set_errno(-w);
            return -1;
        }
        int so = 0;
        socklen_t sl = sizeof so;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0) return -1;
        if (so == 0) {
            set_errno(saved);
            return 0;
        }
        if (so != EINPROGRESS && so != EALREADY) {
            set_errno(so);
            return -1;
        }
    }
}

/* ---- poll, ppoll, select ------------------------------------------------------- */

/* Park on fd (readable) until check(arg) says something is ready (> 0, or
 * < 0 with errno: return it), or the deadline (-1 none) passes (0); check
 * is the call itself with timeout 0, so the answer is libc's.  -2: cannot
 * park (the caller makes libc's call).  fd closed meanwhile: check says
 * what that means. */
static int wait_ready(int fd, int64_t deadline, int (*check)(void *), void *arg) {
    for (;;) {
        int64_t left = -1;
        if (deadline > 0 && (left = deadline - now_ns()) <= 0) return 0;
        int w = gort_fd_wait(fd, GORT_FD_READ, left);
        if (w != 0 && w != -ETIMEDOUT && w != -EBADF) return -2;
        int r = check(arg); /* after a timeout too: what is ready now counts */
        if (r != 0 || w != 0) return r; /* (readable, yet another waiter took it: again) */
    }
}

/* wait_ready over many descriptors: they wait together in a private epoll
 * instance (add(ep, arg) fills it). */
static int park_until(int64_t deadline, int (*check)(void *), int (*add)(int ep, void *), void *arg) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return -2;
    int r = add(ep, arg);
    if (r == 0) r = wait_ready(ep, deadline, check, arg);
    int e = get_errno();
    gort_fd_close(ep);
    set_errno(e);
    return r;
}

typedef struct poll_args {
    struct pollfd *fds;
    nfds_t n;
} poll_args;

static int poll_check(void *arg) {
    poll_args *a = arg;
    return LIBC(poll)(a->fds, a->n, 0);
}

static int poll_add(int ep, void *arg) {
    poll_args *a = arg;
    for (nfds_t i = 0; i < a->n; i++) {
        if (a->fds[i].fd < 0) continue;
        /* poll's and epoll's event bits are the same numbers on linux */
        struct epoll_event ev = {.events = (uint32_t)(uint16_t)a->fds[i].events, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, a->fds[i].fd, &ev); /* EEXIST: listed twice; anything else: poll says it */
    }
    return 0;
}

/* poll(2) parked: timeout_ns < 0 waits for ever. */
static int poll_parked(struct pollfd *fds, nfds_t n, int64_t timeout_ns, bool *done) {
    int saved = get_errno();
    *done = true;
    int r = LIBC(poll)(fds, n, 0);
    if (r != 0 || timeout_ns == 0) return r;
    poll_args a = {fds, n};
    r = park_until(timeout_ns < 0 ? -1 : now_ns() + timeout_ns, poll_check, poll_add, &a);
    if (r == -2) {
        *done = false;
        return -1;
    }
    if (r >= 0) set_errno(saved);
    return r;
}

ENTRY int hook_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    bool done;
    if (!parkable() || timeout_ms == 0 || n > (nfds_t)INT_MAX) return LIBC(poll)(fds, n, timeout_ms);
    int r = poll_parked(fds, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000, &done);
    return done ? r : LIBC(poll)(fds, n, timeout_ms);
}

ENTRY int hook_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
    bool done;
    int64_t ns = timespec_ns(ts);
    if (!parkable() || mask != NULL || n > (nfds_t)INT_MAX || ns == -2) return LIBC(ppoll)(fds, n, ts, mask);
    int r = poll_parked(fds, n, ns, &done);
    return done ? r : LIBC(ppoll)(fds, n, ts, mask);
}

typedef struct select_args {
    int nfds;
    fd_set *in[3];  /* the program's sets (NULL: none) */
    fd_set out[3];  /* what the last look found */
} select_args;

static int select_check(void *arg) {
    select_args *a = arg;
    fd_set *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = a->in[i] != NULL ? &a->out[i] : NULL;
        if (s[i] != NULL) *s[i] = *a->in[i];
    }
    struct timeval zero = {0, 0};
    return LIBC(select)(a->nfds, s[0], s[1], s[2], &zero);
}

static int select_add(int ep, void *arg) {
    select_args *a = arg;
    static const uint32_t bits[3] = {EPOLLIN, EPOLLOUT, EPOLLPRI};
    for (int fd = 0; fd < a->nfds; fd++) {
        uint32_t events = 0;
        for (int i = 0; i < 3; i++)
            if (a->in[i] != NULL && FD_ISSET(fd, a->in[i])) events |= bits[i];
        if (events == 0) continue;
        struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    return 0;
}

/* select and pselect with their sets, parked until deadline (-1: none).
 * -2: cannot park (the caller makes libc's call). */
static int select_parked(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int64_t deadline) {
    int saved = get_errno();
    select_args *a = malloc(sizeof *a); /* 3 sets: too big for a small goroutine stack */
    if (a == NULL) return -2;
    *a = (select_args){.nfds = nfds, .in = {rd, wr, ex}};
    int r = select_check(a);
    if (r == 0) r = park_until(deadline, select_check, select_add, a);
    if (r >= 0) {
        for (int i = 0; i < 3; i++)
            if (a->in[i] != NULL) *a->in[i] = a->out[i];
        set_errno(saved);
    }
    free(a);
    return r;
}

static bool bad_select(int nfds) { return nfds < 0 || nfds > FD_SETSIZE; }

ENTRY int hook_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
    if (!parkable() || bad_select(nfds) ||
        (tv != NULL && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000 || (tv->tv_sec == 0 && tv->tv_usec == 0))))
        return LIBC(select)(nfds, rd, wr, ex, tv);
    int64_t deadline = tv == NULL ? -1 : now_ns() + (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
    int r = select_parked(nfds, rd, wr, ex, deadline);
    if (r == -2) return LIBC(select)(nfds, rd, wr, ex, tv);
    if (tv != NULL) { /* linux leaves the time not slept in *tv */
        int64_t left = deadline - now_ns();
        if (left < 0) left = 0;
        tv->tv_sec = (time_t)(left / 1000000000);
        tv->tv_usec = (suseconds_t)(left % 1000000000 / 1000);
    }
    return r;
}

/* pselect without a signal mask is select with a timespec it leaves alone. */
ENTRY int hook_pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *mask) {
    int64_t ns = timespec_ns(ts);
    if (!parkable() || mask != NULL || bad_select(nfds) || ns == 0 || ns == -2)
        return LIBC(pselect)(nfds, rd, wr, ex, ts, mask);
    int r = select_parked(nfds, rd, wr, ex, ns < 0 ? -1 : now_ns() + ns);
    return r != -2 ? r : LIBC(pselect)(nfds, rd, wr, ex, ts, mask);
}

/* ---- epoll_wait ------------------------------------------------------------------- */

/* The program's own epoll instance is itself a descriptor, readable while
 * an event is ready: its waits park on it, then look with timeout 0. */
typedef struct epoll_args {
    int ep, max;
    struct epoll_event *evs;
} epoll_args;

static int epoll_check(void *arg) {
    epoll_args *a = arg;
    return LIBC(epoll_wait)(a->ep, a->evs, a->max, 0);
}

static int epoll_parked(int ep, struct epoll_event *evs, int max, int timeout_ms, bool *done) {
    int saved = get_errno();
    epoll_args a = {ep, max, evs};
    *done = true;
    int r = epoll_check(&a); /* its errors too: EBADF, EINVAL, EFAULT */
    if (r != 0) return r;
    r = wait_ready(ep, timeout_ms < 0 ? -1 : now_ns() + (int64_t)timeout_ms * 1000000, epoll_check, &a);
    if (r == -2) {
        *done = false;
        return -1;
    }
    if (r >= 0) set_errno(saved);
    return r;
}

ENTRY int hook_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms) {
    bool done;
    if (!parkable() || timeout_ms == 0) return LIBC(epoll_wait)(ep, evs, max, timeout_ms);
    int r = epoll_parked(ep, evs, max, timeout_ms, &done);
    return done ? r : LIBC(epoll_wait)(ep, evs, max, timeout_ms);
}

ENTRY int hook_epoll_pwait(int ep, struct epoll_event *evs, int max, int timeout_ms, const sigset_t *mask) {
    bool done;
    if (!parkable() || mask != NULL || timeout_ms == 0) return LIBC(epoll_pwait)(ep, evs, max, timeout_ms, mask);
    int r = epoll_parked(ep, evs, max, timeout_ms, &done);
    return done ? r : LIBC(epoll_pwait)(ep, evs, max, timeout_ms, mask);
}

/* ---- sleeping ------------------------------------------------------------------- */

ENTRY int hook_nanosleep(const struct timespec *req, struct timespec *rem) {
    if (!parkable() || req == NULL || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000)
        return LIBC(nanosleep)(req, rem); /* libc's EFAULT, EINVAL */
    int64_t ns = req->tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX : (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
    if (gort_sleep(ns) != 0) return LIBC(nanosleep)(req, rem);
    return 0;
}

/* clock_nanosleep on the clocks a timer can stand for: CLOCK_MONOTONIC (and
 * CLOCK_BOOTTIME, the same while the machine is awake) and CLOCK_REALTIME;
 * with TIMER_ABSTIME, until the clock reads the time (looked at again on
 * waking: a realtime clock set back sleeps on).  Its answer is the error
 * number, errno untouched, as libc's. */
ENTRY int hook_clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    int64_t ns = timespec_ns(req);
    if (!parkable() || ns < 0 || (flags & ~TIMER_ABSTIME) != 0 ||
        (clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME && clock != CLOCK_REALTIME))
        return LIBC(clock_nanosleep)(clock, flags, req, rem);
    if (!(flags & TIMER_ABSTIME)) return gort_sleep(ns) == 0 ? 0 : LIBC(clock_nanosleep)(clock, flags, req, rem);
    for (;;) {
        struct timespec now;
        clock_gettime(clock, &now);
        int64_t left = ns - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
        if (left <= 0) return 0;
        if (gort_sleep(left) != 0) return LIBC(clock_nanosleep)(clock, flags, req, rem);
    }
}

ENTRY int hook_usleep(useconds_t us) {
    if (!parkable() || gort_sleep((int64_t)us * 1000) != 0) return LIBC(usleep)(us);
    return 0;
}

ENTRY unsigned int hook_sleep(unsigned int s) {
    if (!parkable() || gort_sleep((int64_t)s * 1000000000) != 0) return LIBC(sleep)(s);
    return 0;
}

/* ---- close --------------------------------------------------------------------- */

/* Through gort_fd_close everywhere but in a signal handler and a fork's
 * child: goroutines parked on fd wake with EBADF, and gort forgets it. */
ENTRY int hook_close(int fd) {
    if (handler_depth != 0 || atomic_load_explicit(&forked, memory_order_relaxed)) return LIBC(close)(fd);
    kind_set(fd, KIND_UNKNOWN);
    int r = gort_fd_close(fd);
    if (r == 0) return 0;
    set_errno(-r);
    return -1;
}

/* Numbers closed or replaced behind the hooks' backs: stdio's fclose (and
 * so C++'s filebuf, which reads through our read) closes with libc's
 * internal call, and dup2/dup3 close their target.  Their kinds are
 * forgotten first, so a file's cached "regular file" never sends a later
 * socket or pipe of the same number to a blocking libc call. */
HOOK int fclose(FILE *f) {
    if (f != NULL) kind_set(fileno(f), KIND_UNKNOWN);
    return LIBC(fclose)(f);
}

HOOK int dup2(int fd, int to) {
    int r = LIBC(dup2)(fd, to);
    if (r >= 0) kind_set(r, KIND_UNKNOWN);
    return r;
}

HOOK int dup3(int fd, int to, int flags) {
    int r = LIBC(dup3)(fd, to, flags);
    if (r >= 0) kind_set(r, KIND_UNKNOWN);
    return r;
}

/* ---- O_NONBLOCK as the program sees it -------------------------------------------- */

/* On a descriptor gort made non-blocking for itself (gort_fd_open,
 * gort_accept's), O_NONBLOCK as the program set it is kept by gort
 * (gort_fd_user_nonblock): F_SETFL and FIONBIO record it and leave the
 * descriptor non-blocking; F_GETFL reports it.  Elsewhere, libc's. */
static int fcntl_as_program(__typeof__(fcntl) *libc_fcntl, int fd, int cmd, long arg) {
    if (handler_depth != 0 || (cmd != F_SETFL && cmd != F_GETFL)) return libc_fcntl(fd, cmd, arg);
    if (cmd == F_SETFL && gort_fd_user_nonblock(fd, -1) >= 0) {
        gort_fd_user_nonblock(fd, (arg & O_NONBLOCK) != 0);
        arg |= O_NONBLOCK;
    }
    int r = libc_fcntl(fd, cmd, arg);
    if (cmd == F_GETFL && r >= 0 && (r & O_NONBLOCK) && gort_fd_user_nonblock(fd, -1) == 0) r &= ~O_NONBLOCK;
    return r;
}

/* fcntl's third argument is an int, a long or a pointer: passed on as
 * a long (what glibc's own fcntl reads it as). */
#define FCNTL_ARG(cmd, arg)                                                                                          \
    va_list ap;                                                                                                        \
    va_start(ap, cmd);                                                                                                 \
    long arg = va_arg(ap, long);                                                                                       \
    va_end(ap)

HOOK int fcntl(int fd, int cmd, ...) {
    FCNTL_ARG(cmd, arg);
    return fcntl_as_program(LIBC(fcntl), fd, cmd, arg);
}

HOOK int fcntl64(int fd, int cmd, ...) {
    FCNTL_ARG(cmd, arg);
    return fcntl_as_program(LIBC(fcntl64), fd, cmd, arg);
}

HOOK int ioctl(int fd, unsigned long req, ...) {
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == FIONBIO && arg != NULL && handler_depth == 0 && gort_fd_user_nonblock(fd, -1) >= 0) {
        gort_fd_user_nonblock(fd, *(int *)arg != 0);
        int on = 1;
        return LIBC(ioctl)(fd, FIONBIO, &on);
    }
    return LIBC(ioctl)(fd, req, arg);
}

/* ---- name resolution -------------------------------------------------------------- */

ENTRY int hook_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
    if (!parkable()) return LIBC(getaddrinfo)(node, service, hints, res);
    gort_syscall_enter();
    int r = LIBC(getaddrinfo)(node, service, hints, res);
    gort_syscall_exit();
    return r;
}

/* ---- signal handlers -------------------------------------------------------------- */

/* The program's handler per signal, called from handler_entry (installed
 * in its place), which marks the thread as in a handler meanwhile. */
static struct {
    _Atomic(uintptr_t) fn;
    _Atomic(bool) siginfo;
} handlers[NSIG];

static void handler_entry(int sig, siginfo_t *si, void *uc) {
    handler_depth++;
    uintptr_t fn = atomic_load_explicit(&handlers[sig].fn, memory_order_acquire);
    if (atomic_load_explicit(&handlers[sig].siginfo, memory_order_relaxed))
        ((void (*)(int, siginfo_t *, void *))fn)(sig, si, uc);
    else
        ((void (*)(int))fn)(sig);
    handler_depth--;
}

HOOK int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig <= 0 || sig >= NSIG) return LIBC(sigaction)(sig, act, old);
    uintptr_t was_fn = atomic_load(&handlers[sig].fn);
    bool was_info = atomic_load(&handlers[sig].siginfo);
    struct sigaction mine;
    const struct sigaction *use = act;
    if (act != NULL && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN) {
        bool info = act->sa_flags & SA_SIGINFO;
        atomic_store(&handlers[sig].siginfo, info);
        atomic_store(&handlers[sig].fn, info ? (uintptr_t)act->sa_sigaction : (uintptr_t)act->sa_handler);
        mine = *act;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = handler_entry;
        use = &mine;
    }
    int r = LIBC(sigaction)(sig, use, old);
    if (r == 0 && old != NULL && old->sa_sigaction == handler_entry) { /* report the program's own */
        if (was_info) {
            old->sa_sigaction = (void (*)(int, siginfo_t *, void *))was_fn;
        } else {
            old->sa_flags &= ~SA_SIGINFO;
            old->sa_handler = (void (*)(int))was_fn;
        }
    }
    return r;
}

/* glibc's signal() calls its internal sigaction: BSD semantics through ours. */
HOOK sighandler_t signal(int sig, sighandler_t h) {
    struct sigaction act = {.sa_handler = h, .sa_flags = SA_RESTART}, old;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* ---- _FORTIFY_SOURCE's checked forms ------------------------------------------------ */

extern void __chk_fail(void) __attribute__((noreturn));

ENTRY ssize_t hook___read_chk(int fd, void *buf, size_t n, size_t buflen) {
    if (n > buflen) __chk_fail();
    return hook_read(fd, buf, n);
}

ENTRY ssize_t hook___recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
    if (n > buflen) __chk_fail();
    return hook_recv(fd, buf, n, flags);
}

HOOK ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *sa,
                            socklen_t *salen) {
    if (n > buflen) __chk_fail();
    return recvfrom(fd, buf, n, flags, sa, salen);
}

ENTRY int hook___poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
    if (fdslen / sizeof *fds < n) __chk_fail();
    return hook_poll(fds, n, timeout);
}

ENTRY int hook___ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask, size_t fdslen) {
    if (fdslen / sizeof *fds < n) __chk_fail();
    return hook_ppoll(fds, n, ts, mask);
}
