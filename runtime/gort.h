/*
 * gort.h — Go's goroutine runtime for C11.  The one public header.
 *
 * Cheap goroutines multiplexed over a few OS threads by a work-stealing
 * G/M/P scheduler, with Go's semantics.  Every public name starts with
 * gort_ / GORT_; everything else in the library is internal.
 *
 * The one error rule
 *   A function that can fail returns int: 0 (or a non-negative result) on
 *   success, a negative errno value on failure (-EINVAL, -ENOMEM, -EAGAIN,
 *   -EPERM, ...).  A constructor returns a pointer, or NULL with errno set.
 *   Bad arguments never abort; the runtime aborts only on corruption it
 *   cannot survive (a stack overflow, a broken invariant), after printing
 *   one line "gort: ..." that names the goroutine and the cause.
 *
 * Times are int64_t nanoseconds on the monotonic clock.
 *
 * Every blocking call works from a goroutine (it parks the goroutine, never
 * the OS thread) and from a plain thread that is not a goroutine (it blocks
 * that thread).  Everything initialises lazily; gort_init is optional.
 *
 * Thread-locals and errno: a goroutine may resume on another OS thread
 * after any call that can park.  errno is saved and restored per goroutine,
 * but a compiler may cache the *address* of a thread-local (errno included)
 * across a call within one function.  Read thread-locals after a parking
 * call through a non-inlined function, or not at all.
 */
#ifndef GORT_H
#define GORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct sockaddr, socklen_t */
#include <sys/types.h>  /* ssize_t */

#if defined(__GNUC__) || defined(__clang__)
#define GORT_API __attribute__((visibility("default")))
#else
#define GORT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Runtime                                                                */
/* ===================================================================== */

typedef struct gort_config {
    int maxprocs;       /* Ps (threads running goroutines); <= 0: default   */
    size_t stack_size;  /* default goroutine stack, bytes; 0: default       */
} gort_config;

/* Start the runtime with cfg (NULL: defaults from the environment:
 * GORT_MAXPROCS, GORT_STACK_SIZE, GORT_DEBUG).  Optional: every entry point
 * initialises lazily.  -EINVAL for a bad config, -EBUSY if the runtime is
 * already running with another config. */
GORT_API int gort_init(const gort_config *cfg);

/* Run fn(arg) as a goroutine and return 0 when it returns.  Callable from a
 * plain thread (blocks it) or from a goroutine (parks it). */
GORT_API int gort_main(void (*fn)(void *), void *arg);

/* n <= 0 queries; otherwise sets the number of Ps (at once, any time; at
 * most GORT_MAXPROCS_LIMIT).  Returns the previous value, or -EINVAL. */
#define GORT_MAXPROCS_LIMIT 256
GORT_API int gort_maxprocs(int n);

/* Monotonic clock, nanoseconds. */
GORT_API int64_t gort_now(void);

/* ===================================================================== */
/* Goroutines                                                             */
/* ===================================================================== */

typedef struct gort_go_attr {
    size_t stack_size;  /* 0: the runtime default (64 KiB)                 */
    const char *name;   /* shown by gort_dump; must outlive the goroutine  */
} gort_go_attr;

#define GORT_STACK_MIN ((size_t)16 << 10)   /* smallest stack_size accepted */
#define GORT_STACK_MAX ((size_t)1 << 30)    /* largest stack_size accepted  */

/* Start fn(arg) in a new goroutine.  0, -EINVAL (fn NULL, bad attr),
 * -ENOMEM or -EAGAIN (out of memory or address space). */
GORT_API int gort_go(void (*fn)(void *), void *arg);
GORT_API int gort_go_with(void (*fn)(void *), void *arg, const gort_go_attr *attr);

/* Let other goroutines run; on a plain thread, sched_yield(). */
GORT_API void gort_yield(void);

/* Park the goroutine (or block the thread) for at least ns nanoseconds.
 * 0 (ns <= 0: a goroutine yields). */
GORT_API int gort_sleep(int64_t ns);

/* The current goroutine's id (>= 1); 0 on a plain thread. */
GORT_API uint64_t gort_self(void);

/* ===================================================================== */
/* Channels                                                               */
/* ===================================================================== */
/* Go's channels: FIFO per channel; an unbuffered send completes only when
 * a receiver takes the value; close wakes every waiter; receivers drain a
 * closed buffered channel before they see -EPIPE (with elem zeroed).
 * timeout_ns: < 0 waits forever, 0 does not wait (-EAGAIN; -EPERM from a
 * signal handler that interrupted the runtime holding a lock, see
 * gort_signal_notify), > 0 waits at most that long (-ETIMEDOUT). */

typedef struct gort_chan gort_chan;

/* elem_size 0 is allowed (elements carry no data).  NULL with errno
 * EINVAL (elem_size * cap overflows) or ENOMEM. */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);
/* Free c: 0.  No goroutine or thread may still use it.  One still
 * blocked on c is seen: c is then not freed, -EBUSY.  A select or timed
 * operation that has completed but not returned yet (the select's other
 * channels included) is waited for, then c is freed.  -EINVAL if c is
 * NULL. */
GORT_API int gort_chan_free(gort_chan *c);
/* 0; -EPIPE if c is closed; -EINVAL if c is NULL, or elem is NULL and
 * elem_size > 0. */
GORT_API int gort_chan_send(gort_chan *c, const void *elem);
/* 0 with a value in *elem; -EPIPE when c is closed and drained (*elem
 * zeroed); -EINVAL if c is NULL.  elem NULL discards the value. */
GORT_API int gort_chan_recv(gort_chan *c, void *elem);
GORT_API int gort_chan_send_timeout(gort_chan *c, const void *elem, int64_t timeout_ns);
GORT_API int gort_chan_recv_timeout(gort_chan *c, void *elem, int64_t timeout_ns);
/* 0; -EPIPE if already closed; -EINVAL if c is NULL. */
GORT_API int gort_chan_close(gort_chan *c);
GORT_API size_t gort_chan_len(const gort_chan *c);
GORT_API size_t gort_chan_cap(const gort_chan *c);

/* ===================================================================== */
/* Select                                                                 */
/* ===================================================================== */

enum { GORT_SEND = 1, GORT_RECV = 2 };
typedef struct gort_case {
    gort_chan *chan; /* NULL: never ready                                 */
    int op;          /* GORT_SEND or GORT_RECV                            */
    void *elem;      /* the value to send, or where to receive (NULL: drop) */
    int result;      /* out: 0, or -EPIPE (closed) for the chosen case    */
} gort_case;

/* Wait until one case can proceed, do it, and return its index; among
 * ready cases the choice is uniformly random.  timeout_ns 0 is Go's
 * default: -EAGAIN if nothing is ready; < 0 blocks forever (also with no
 * cases); otherwise -ETIMEDOUT.  -EINVAL (and no case done) for a bad op,
 * a send case with elem NULL and elem_size > 0, or n > 65536. */
GORT_API int gort_select(gort_case *cases, size_t n, int64_t timeout_ns);

/* ===================================================================== */
/* Timers                                                                 */
/* ===================================================================== */

typedef struct gort_timer gort_timer;
/* Fire after after_ns, then every period_ns (0: once).  Each firing sends
 * the fire time (int64_t, gort_now() ns) on the timer's channel, which
 * holds one; a firing that finds it full is dropped, as Go's ticker does.
 * NULL with errno EINVAL (negative times) or ENOMEM. */
GORT_API gort_timer *gort_timer_start(int64_t after_ns, int64_t period_ns);
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
/* Stop t and free it (and its channel); safe while it is firing.
 * 0; -EINVAL if t is NULL; -EBUSY (t left running) while a goroutine or
 * thread is blocked on its channel. */
GORT_API int gort_timer_stop(gort_timer *t);

/* ===================================================================== */
/* Sync                                                                   */
/* ===================================================================== */
/* Zero-initialisable, no destroy call; goroutines park, threads block.    */

typedef struct gort_mutex { uint32_t state_[2]; } gort_mutex;
#define GORT_MUTEX_INIT {{0, 0}}
/* Spins briefly, then parks.  Fair under contention: a waiter that has
 * waited over 1 ms switches the mutex to hand-off mode (Go's starvation
 * mode).  unlock of an unlocked mutex: -EPERM.  trylock: 0 or -EBUSY. */
GORT_API int gort_mutex_lock(gort_mutex *m);
GORT_API int gort_mutex_trylock(gort_mutex *m);
GORT_API int gort_mutex_unlock(gort_mutex *m);

typedef struct gort_rwmutex { uint32_t state_[6]; } gort_rwmutex;
#define GORT_RWMUTEX_INIT {{0, 0, 0, 0, 0, 0}}
/* Many readers or one writer; a waiting writer blocks new readers.
 * Unlocking what is not locked: -EPERM. */
GORT_API int gort_rwmutex_rlock(gort_rwmutex *rw);
GORT_API int gort_rwmutex_runlock(gort_rwmutex *rw);
GORT_API int gort_rwmutex_lock(gort_rwmutex *rw);
GORT_API int gort_rwmutex_unlock(gort_rwmutex *rw);

typedef struct gort_cond { uint64_t state_[4]; } gort_cond;
#define GORT_COND_INIT {{0, 0, 0, 0}}
/* wait: unlock m, wait for signal/broadcast, lock m again.  m must be
 * locked (-EPERM otherwise). */
GORT_API int gort_cond_wait(gort_cond *c, gort_mutex *m);
GORT_API int gort_cond_signal(gort_cond *c);
GORT_API int gort_cond_broadcast(gort_cond *c);

typedef struct gort_once { uint32_t state_[3]; } gort_once;
#define GORT_ONCE_INIT {{0, 0, 0}}
/* Call fn(arg) the first time only; every caller returns after it ran. */
GORT_API int gort_once_do(gort_once *o, void (*fn)(void *), void *arg);

typedef struct gort_waitgroup { uint64_t state_[2]; } gort_waitgroup;
#define GORT_WAITGROUP_INIT {{0, 0}}
/* Add delta to the counter; -EINVAL if it would go negative (the counter
 * is left unchanged).  When it reaches zero, every waiter wakes. */
GORT_API int gort_waitgroup_add(gort_waitgroup *wg, int64_t delta);
GORT_API int gort_waitgroup_done(gort_waitgroup *wg);
/* Wait until the counter is zero. */
GORT_API int gort_waitgroup_wait(gort_waitgroup *wg);

typedef struct gort_sema { uint32_t count_; uint32_t pad_; } gort_sema;
#define GORT_SEMA_INIT(n) {(uint32_t)(n), 0}
/* Counting semaphore: acquire waits while the count is zero. */
GORT_API int gort_sema_acquire(gort_sema *s);
GORT_API int gort_sema_release(gort_sema *s);

/* ===================================================================== */
/* Blocking I/O and system calls                                          */
/* ===================================================================== */

/* Descriptors that park the calling goroutine, never its thread, while
 * they are not ready (the netpoller: epoll on linux, kqueue on darwin);
 * a plain thread blocks in poll(2).  Each descriptor is put in
 * non-blocking mode and registered once, by gort_fd_open or on first use
 * (gort_accept registers the descriptors it returns).  Close registered
 * descriptors with gort_fd_close, not close().  Regular files cannot be
 * polled: their reads and writes block the thread, with its P handed to
 * another thread meanwhile (gort_syscall_enter/exit).
 *
 * timeout_ns: < 0 waits as long as it takes; 0 does not wait (-EAGAIN if
 * the descriptor is not ready); > 0 gives up with -ETIMEDOUT.  Errors are
 * negative errno values; a write to a closed connection is -EPIPE, never
 * SIGPIPE.  One reader and one writer at a time per descriptor: others
 * queue behind them. */
GORT_API int gort_fd_open(int fd); /* again for the same file: 0, a no-op */
/* Wake every goroutine parked on fd with -EBADF, then close it. */
GORT_API int gort_fd_close(int fd);
/* Read at most n bytes: the count (0 at end of file), or -errno
 * (-EINVAL if n > SSIZE_MAX; likewise for gort_write). */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n, int64_t timeout_ns);
/* Write all n bytes (n), or fail (-errno; some may have been written). */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n, int64_t timeout_ns);
/* Accept a connection: its descriptor, registered and non-blocking. */
GORT_API int gort_accept(int fd, struct sockaddr *sa, socklen_t *len, int64_t timeout_ns);
/* Connect fd; 0 once connected. */
GORT_API int gort_connect(int fd, const struct sockaddr *sa, socklen_t len, int64_t timeout_ns);
/* Wait until fd is ready for one direction (GORT_FD_READ or
 * GORT_FD_WRITE: a read or write would not block, or the descriptor has
 * an error or hang-up), without reading or writing it and without
 * changing its mode: O_NONBLOCK stays as the program set it, so a
 * descriptor shared with another process or with code that expects it
 * blocking is safe to wait on.  For a library with a non-blocking API
 * (hiredis async, libpq, c-ares): want, wait, call.  0 once ready (a
 * regular file always is); -EAGAIN (timeout 0, not ready); -ETIMEDOUT;
 * -EBADF if fd is not open or gort_fd_close closes it meanwhile; -EINVAL
 * for another events value.  Waiters of a direction queue, as callers of
 * gort_read do.  It is what the libc hooks park in (docs/blocking.md). */
#define GORT_FD_READ 1
#define GORT_FD_WRITE 2
GORT_API int gort_fd_wait(int fd, int events, int64_t timeout_ns);
/* The program's own O_NONBLOCK on fd, kept apart from the one gort sets
 * on a descriptor it registers (gort_fd_open, gort_read, gort_accept's
 * results...): 1 non-blocking, 0 blocking — what it was when gort took
 * the descriptor (0 for gort_accept's), or the mode last given here.
 * mode -1 only asks; 0 or 1 records the program's choice first (the libc
 * hooks' fcntl F_SETFL and ioctl FIONBIO do, and their F_GETFL reports
 * it), the descriptor staying non-blocking for gort.  -ENOENT if gort has
 * not made fd non-blocking (its O_NONBLOCK is the program's own);
 * -EBADF if fd is not open; -EINVAL for another mode. */
GORT_API int gort_fd_user_nonblock(int fd, int mode);

/* Foreign code.  C code that blocks in the kernel without telling gort
 * (a DNS lookup, a database client, usleep, a read of a pipe not
 * registered) never stalls the other goroutines: once the goroutine has
 * run 1 ms while other work waits for its P (its 10 ms slice otherwise)
 * and its thread is blocked in the kernel, sysmon puts one more P to
 * work for as long as the call lasts, so the
 * blocked P's run queue and timers are taken up elsewhere.  No signal of
 * gort's is ever sent to a thread blocked in the kernel, so such calls
 * never fail with EINTR because of gort.  GORT_DEBUG=blockwarn=MS prints a
 * line when a goroutine has been blocked in a foreign call for MS ms, and
 * the dump shows it as [foreign call on M, N ms] (docs/goroutines.md).
 *
 * The explicit, faster path: around a call that may block the thread,
 *     gort_syscall_enter();  n = read(fd, buf, len);  gort_syscall_exit();
 * If the call lasts longer than sysmon's check (20 us to 10 ms), its P is
 * handed to another thread, so the other goroutines keep running; exit
 * takes a P back, or waits for one.  Between the two, call nothing of
 * gort's (a call that parks ends the section first, as exit would).
 * No-ops on a plain thread.
 *
 * Unmodified blocking libraries (linux): link //runtime:gort_hooks, or
 * `pkg-config --libs gort-hooks`, or run with LD_PRELOAD=libgort-hooks.so.
 * These define libc's read, write, readv, writev, recv, recvfrom, recvmsg,
 * send, sendto, sendmsg, accept, accept4, connect, poll, ppoll, select,
 * pselect, epoll_wait, epoll_pwait, nanosleep, clock_nanosleep, usleep,
 * sleep and close (and getaddrinfo, sigaction, signal,
 * fcntl, ioctl and the _FORTIFY_SOURCE forms): from a goroutine, a call that would
 * block parks it in gort_fd_wait, then completes, with libc's result and
 * errno.  The descriptor's O_NONBLOCK is never changed (a call is made
 * non-blocking by MSG_DONTWAIT or a poll first); SO_RCVTIMEO/SO_SNDTIMEO
 * are the park's timeout.  On a plain thread, on a descriptor the program
 * made non-blocking, on regular files, in signal handlers and in a fork's
 * child they are libc's.  What still blocks a thread: docs/blocking.md. */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* Wire the calling goroutine to its current OS thread: until the unlock it
 * runs only there, and that thread runs nothing else (for thread-local
 * state of C libraries, or thread identity).  Calls nest; -EPERM from a
 * plain thread, and from unlock when not locked.  A goroutine that exits
 * still locked takes its thread with it, as in Go: the thread ends (what
 * the goroutine changed in it, its thread-locals and signal mask, reaches
 * no other goroutine) and a fresh one takes its place. */
GORT_API int gort_lock_os_thread(void);
GORT_API int gort_unlock_os_thread(void);

/* ===================================================================== */
/* Introspection                                                          */
/* ===================================================================== */

typedef struct gort_stats {
    uint64_t goroutines;  /* alive now                                     */
    uint64_t threads;     /* Ms (OS threads) of the runtime alive now      */
    uint64_t procs;       /* Ps in use (gort_maxprocs)                     */
    uint64_t spawned;     /* goroutines started since init                 */
    uint64_t switches;    /* goroutine switches                            */
    uint64_t steals;      /* successful steals from another P's run queue  */
    uint64_t preemptions; /* goroutines preempted                          */
    uint64_t parks;       /* goroutines parked                             */
} gort_stats;
GORT_API void gort_stats_get(gort_stats *out); /* out NULL: nothing */

/* Write every goroutine (id, name, state, wait reason, time in that state)
 * to fd. */
GORT_API void gort_dump(int fd);

/* ===================================================================== */
/* Signals                                                                */
/* ===================================================================== */

/* Go's os/signal.Notify: from now on each signo the process receives is
 * sent, as an int value, on c (elem_size sizeof(int); buffer it).  The
 * send never waits: a full c drops the signal, and deliveries that arrive
 * before the last was sent merge into one, as in Go.  A channel may be
 * registered for several signals, and a signal for several channels
 * (each gets it); registering the same pair twice changes nothing.  The
 * handler the program had for signo before is set back when no channel
 * wants it any more.  While any signal is registered, the runtime never
 * reports a deadlock (a signal may still come).  0; -EINVAL for a bad
 * signo, one the runtime owns (SIGURG, SIGSEGV, SIGBUS) or no process can
 * catch (SIGKILL, SIGSTOP), c NULL, or an element that is not an int;
 * -ENOMEM.
 *
 * gort calls made from inside a signal handler are not supported (the
 * handler may have interrupted the runtime holding a lock): use this.  (A
 * channel try, timeout 0, that finds the runtime on its thread holding a
 * lock is -EPERM; nothing else is detected.) */
GORT_API int gort_signal_notify(int signo, gort_chan *c);
/* Stop sending signo (0: every signal) to c; once it returns nothing
 * sends on c for those signals any more.  0; -ENOENT if c was not
 * registered for it; -EINVAL for a bad signo or c NULL. */
GORT_API int gort_signal_stop(int signo, gort_chan *c);

#ifdef __cplusplus
}
#endif
#endif /* GORT_H */
