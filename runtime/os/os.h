/*
 * os.h — what each operating system gives the core.
 *
 * One hook set per OS, as in Go's os_linux.go / os_darwin.go: every
 * function below is implemented once for linux (runtime/os/linux/) and
 * once for darwin (runtime/os/darwin/); what is the same on both POSIX
 * systems lives in runtime/os/unix/.  Functions return 0 or a negative
 * errno, the rule of the public API.  None of them touches a goroutine:
 * they know threads, memory, clocks and signals.
 *
 * Two small types differ per OS and are defined here, so the core can
 * embed them: the runtime lock (gort_os_lock) and the one-shot
 * sleep/wakeup "note" (gort_note) an idle thread parks on.
 */
#ifndef GORT_OS_H
#define GORT_OS_H

#include "runtime/arch/arch.h" /* gort_regs */
#include "runtime/atomic.h"
#include "runtime/text.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* struct sockaddr, socklen_t */
#include <sys/types.h> /* ssize_t */

#if defined(__APPLE__)
#include <os/lock.h>
#include <pthread.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clocks ---------------------------------------------------------- */
int64_t gort_os_nanotime(void);            /* monotonic, ns */
void gort_os_nanosleep(int64_t ns);        /* whole duration, EINTR retried */
void gort_os_thread_yield(void);           /* sched_yield */

/* ---- CPUs ------------------------------------------------------------ */
/* CPUs this process may use: the affinity mask, capped by a cgroup CPU
 * quota (linux); the active CPUs (darwin).  At least 1. */
int gort_os_ncpu(void);

/* ---- memory ---------------------------------------------------------- */
size_t gort_os_pagesize(void);
/* Reserve n bytes of zeroed, read-write, lazily committed memory; NULL on
 * failure. */
void *gort_os_map(size_t n);
void gort_os_unmap(void *p, size_t n);
/* Make [p, p+n) inaccessible (a guard); 0 or -errno. */
int gort_os_guard(void *p, size_t n);
/* How many memory mappings the process may have (vm.max_map_count on
 * linux; effectively unlimited on darwin). */
long gort_os_max_map_count(void);
/* Give the pages of [p, p+n) (page-aligned) back to the OS, keeping the
 * mapping: they read as zero when next touched (linux: MADV_DONTNEED;
 * darwin: MADV_FREE_REUSABLE, else MADV_FREE, whose pages may keep their
 * old contents until reclaimed).  0 or -errno. */
int gort_os_release(void *p, size_t n);
/* Give memory the C library's allocator holds free back to the OS
 * (linux: glibc's malloc_trim; darwin: malloc_zone_pressure_relief). */
void gort_os_heap_trim(void);

/* ---- threads --------------------------------------------------------- */
/* Start a detached thread running fn(arg); 0 or -errno. */
int gort_os_thread_start(void *(*fn)(void *), void *arg);
/* It, gort_os_poll_break and the note wakeups leave errno as it was: a
 * parked goroutine's action calls them on the thread of the goroutine
 * taking over, whose errno is in place (proc.c switch_arrive). */
/* The kernel's id of the calling thread (gettid / pthread_threadid_np). */
uint64_t gort_os_thread_id(void);
/* A handle another thread can signal the calling thread by: the thread id
 * for tgkill (linux), the pthread_t for pthread_kill (darwin). */
typedef uintptr_t gort_os_thread;
gort_os_thread gort_os_thread_self(void);
/* The calling thread's own stack: its lowest address and size. */
void gort_os_thread_stack(void **lo, size_t *size);

/* ---- foreign calls (os/<os>/blocked.c) ------------------------------- */
/* What another thread may learn of a thread: made by the thread itself
 * (gort_os_probe_open, at its start; -errno if it cannot be, and then
 * the queries below fail), closed by it (gort_os_probe_close).  linux:
 * its /proc/self/task/TID status and syscall files, opened once and moved
 * to high descriptor numbers, so a look never takes a number the program
 * might be about to reuse; darwin: its thread port. */
typedef struct gort_os_probe {
    _Atomic(int) status_fd, syscall_fd;
    gort_os_thread thread;
} gort_os_probe;
int gort_os_probe_open(gort_os_probe *pr);
void gort_os_probe_close(gort_os_probe *pr);
/* The thread now: blocked in the kernel (asleep in a system call, or
 * waiting on I/O) or not (it runs or may run); and waits, how many times
 * it has blocked so far (linux: voluntary context switches; darwin: not
 * known, waits_known false).  0 or -errno.  About 10 us on linux: sysmon
 * asks only about Ps past their slice. */
typedef struct gort_os_thread_state {
    bool blocked;
    bool waits_known;
    uint64_t waits;
} gort_os_thread_state;
int gort_os_thread_state_get(const gort_os_probe *pr, gort_os_thread_state *out);
/* The user sp and pc of the system call the thread is blocked in; -EAGAIN
 * if it is not in one, -ENOSYS where the OS cannot tell (darwin). */
int gort_os_thread_syscall_at(const gort_os_probe *pr, uintptr_t *sp, uintptr_t *pc);
/* Copy n bytes at src of this process's memory to dst without faulting
 * (linux: process_vm_readv): the bytes copied, or -errno (-EFAULT where
 * src is not mapped; -ENOSYS on darwin). */
long gort_os_read_memory(void *dst, uintptr_t src, size_t n);
/* A preemption signal that reaches thread t only once it runs, so it never
 * interrupts a system call t is blocked in (linux: a timer on t's CPU
 * clock, made by t itself with gort_os_runsignal_init; arming it again
 * before it fires sends one signal; darwin: sent at once, valid false).
 * 0 or -errno.  Async-signal-safe, as are the state and syscall reads
 * above (a fatal report's dump calls them from a handler). */
typedef struct gort_os_runsignal {
    _Atomic(uintptr_t) timer;
    _Atomic(bool) valid;
} gort_os_runsignal;
int gort_os_runsignal_init(gort_os_runsignal *rs);
void gort_os_runsignal_free(gort_os_runsignal *rs);
int gort_os_signal_preempt_running(gort_os_thread t, const gort_os_runsignal *rs);

/* ---- the runtime lock ------------------------------------------------ */
/* A mutex for the runtime's short critical sections; zero is unlocked.
 * Unlocked by the thread that locked it (the core guarantees this: a lock
 * taken on a goroutine is released by the same M, on the goroutine or on
 * that M's g0). */
#if defined(__APPLE__)
typedef struct gort_os_lock { os_unfair_lock l; } gort_os_lock;
#else
typedef struct gort_os_lock { _Atomic(uint32_t) key; /* 0 free, 1 held, 2 held+waiters */ } gort_os_lock;
#endif
void gort_os_lock_acquire(gort_os_lock *l);
void gort_os_lock_release(gort_os_lock *l);

/* ---- notes: one-shot sleep and wakeup (Go's note) -------------------- */
/* A note is clear or set.  sleep waits until it is set; wakeup sets it
 * (once: a second wakeup before the clear is a bug the caller avoids);
 * wakeup before sleep makes the sleep return at once.  clear resets it
 * for reuse, when no one sleeps on it. */
#if defined(__APPLE__)
typedef struct gort_note {
    _Atomic(uint32_t) key;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} gort_note;
#else
typedef struct gort_note { _Atomic(uint32_t) key; } gort_note;
#endif
void gort_note_init(gort_note *n);
void gort_note_destroy(gort_note *n);
void gort_note_clear(gort_note *n);
void gort_note_sleep(gort_note *n);
/* Sleep at most ns; true if the note was set. */
bool gort_note_sleep_for(gort_note *n, int64_t ns);
void gort_note_wakeup(gort_note *n);
/* linux: a futex store and wake, async-signal-safe; darwin: a pthread
 * condition variable, not. */
#if defined(__linux__)
#define GORT_OS_NOTE_WAKEUP_SIGNAL_SAFE 1
#else
#define GORT_OS_NOTE_WAKEUP_SIGNAL_SAFE 0
#endif
/* The calling thread's own note, made on first use and destroyed when the
 * thread exits: what a plain (non-M) thread blocks on.  NULL if out of
 * memory. */
gort_note *gort_os_thread_note(void);
/* How many live threads have such a note: the plain threads that have
 * blocked in the runtime and not exited since. */
int gort_os_thread_notes(void);

/* ---- signals --------------------------------------------------------- */
/* The interrupted thread's registers in a signal handler: a ucontext_t,
 * read and written only through the gort_sigctx_* accessors below. */
typedef struct gort_sigctx gort_sigctx;

/* Install the runtime's handlers, all SA_ONSTACK, remembering what was
 * installed before so they can chain to it: SIGSEGV and SIGBUS (a fault
 * first goes to the core's gort_sig_fault(); if that returns, the previous
 * handler or the default action gets it), SIGURG (preemption, below) and
 * SIGQUIT (only if the program left it at the default). */
int gort_os_signals_install(void);
/* Give the calling thread (an M) an alternate signal stack of size bytes,
 * so the handlers can report a stack overflow.  0 or -errno. */
int gort_os_sigaltstack_alloc(size_t size);
/* A new M's signal mask: the one the thread that started the runtime had
 * (saved by gort_os_signals_install), with the runtime's own signals
 * deliverable, so nothing of the creating thread's mask (a goroutine may
 * have changed it) leaks into the new one.  mstart sets it first thing. */
void gort_os_thread_signals_default(void);
/* The calling thread (an M about to exit) gives its signal stack back. */
void gort_os_sigaltstack_free(void);

/* Signals the program asked to receive on channels (core/sigqueue.c).
 * Catch sig: every delivery calls fn(sig) in the handler, on whatever
 * thread it lands (fn must be async-signal-safe).  0; -EINVAL if sig
 * cannot be caught. */
int gort_os_signal_catch(int sig, void (*fn)(int sig));
/* Give sig back the disposition it had before it was first caught. */
void gort_os_signal_uncatch(int sig);
/* Run child() in the child of every later fork(), in its one thread. */
int gort_os_atfork(void (*child)(void));
/* The largest signal number + 1 (NSIG). */
int gort_os_signal_count(void);
/* A wakeup a signal handler can post: init once (0 or -errno); post is
 * async-signal-safe and never blocks; wait blocks until a post (several
 * posts before a wait may wake it once). */
int gort_os_sigwake_init(void);
void gort_os_sigwake_post(void);
void gort_os_sigwake_wait(void);

/* Implemented by the core, called by the OS signal handler on the faulting
 * thread: returns only if the fault is not a goroutine stack overflow. */
void gort_sig_fault(int sig, void *addr, gort_sigctx *ctx);

/* Preemption requests travel as SIGURG, as in Go: rarely used by programs,
 * ignored by default, and gdb passes it silently.  The handler runs on the
 * M's sigaltstack.  It first asks the core's gort_sig_preempt_claim
 * (sender: gort_os_signal_sender's answer) whether the signal is the
 * runtime's; if not, the handler the program installed gets it (or it is
 * ignored, SIGURG's default).  Then, either way, gort_sig_preempt(ctx)
 * may stop the goroutine. */
bool gort_sig_preempt_claim(int sender);
void gort_sig_preempt(gort_sigctx *ctx);
/* Send the preemption signal to thread t; 0 or -errno (os/<os>/blocked.c). */
int gort_os_signal_preempt(gort_os_thread t);
/* Who sent the signal described by info (a siginfo_t): GORT_SIG_OURS, the
 * runtime for certain (gort_os_signal_preempt_running's timer, linux);
 * GORT_SIG_SELF, this process to one of its threads (as
 * gort_os_signal_preempt sends: the runtime's, or the program's own);
 * GORT_SIG_OTHER, anyone else.  darwin cannot tell: always SELF. */
enum { GORT_SIG_OTHER, GORT_SIG_SELF, GORT_SIG_OURS };
int gort_os_signal_sender(const void *info);
/* Make sure the runtime's SIGURG handler is the installed one: a handler
 * the program installed after gort_init replaces it, so before sending a
 * preemption signal the core calls this, which puts the runtime's back
 * and chains the program's behind it. */
void gort_os_signal_preempt_reclaim(void);
/* The arm64 trampoline's raise (arch.h): block every signal but SIGURG
 * and the synchronous faults in the calling thread, so no other handler
 * can run first, keeping the old mask in *saved; the handler then puts
 * *saved into the context it resumes (gort_sigctx_set_sigmask). */
typedef struct gort_os_sigset { uint64_t words[16]; } gort_os_sigset; /* >= sizeof(sigset_t) */
void gort_os_signal_preempt_only(gort_os_sigset *saved);
void gort_sigctx_set_sigmask(gort_sigctx *c, const gort_os_sigset *mask);
/* SIGQUIT: if the program has no handler of its own, the runtime's calls
 * the core's gort_sig_quit (print every goroutine, exit 2), as Go does;
 * ctx is the interrupted thread's context. */
GORT_NORETURN void gort_sig_quit(gort_sigctx *ctx);

/* ---- signal contexts (os x arch: runtime/os/<os>/sigctx_<cpu>.c) ------ */
/* The interrupted thread's registers, as the kernel saved them for a
 * signal handler (a ucontext_t); the handler may change them, and the
 * kernel resumes the thread with the changed values.  Only these
 * accessors know the layout (Go's signal_linux_amd64.go and friends). */
uintptr_t gort_sigctx_pc(const gort_sigctx *c);
uintptr_t gort_sigctx_sp(const gort_sigctx *c);
void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc);
void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp);
/* Every general register, pc and sp, for an unwinder (arch.h gort_regs,
 * pc_exact set). */
void gort_sigctx_regs(const gort_sigctx *c, gort_regs *out);
#if defined(__aarch64__)
/* x0..x30 (x30 is the link register), and the condition flags NZCV (the
 * top four bits of pstate/cpsr; the rest of pstate is kept). */
uint64_t gort_sigctx_reg(const gort_sigctx *c, int i);
void gort_sigctx_set_reg(gort_sigctx *c, int i, uint64_t v);
void gort_sigctx_set_nzcv(gort_sigctx *c, uint64_t nzcv);
/* The trampoline's last step (arch.h): send SIGURG to the calling thread
 * and wait for its handler, which resumes the interrupted code; never
 * returns.  linux (raise_arm64.S): raw system calls, which keep every
 * vector register.  darwin: pthread_kill, which may not, so there the
 * handler writes the NEON state back (gort_sigctx_set_fp). */
void gort_os_preempt_raise_self(void);
/* Is pc where that signal is handled?  linux: only the instruction after
 * the tgkill, where the FP state is back already; darwin: any. */
bool gort_os_preempt_resume_point(uintptr_t pc);
/* q0..q31 (512 bytes), FPSR and FPCR.  darwin: written into the context.
 * linux: nothing to do — the arm64 trampoline restores them itself before
 * it raises the signal with raw system calls, which keep them. */
void gort_sigctx_set_fp(gort_sigctx *c, const void *q, uint64_t fpsr, uint64_t fpcr);
#endif

/* ---- code: where a goroutine may be stopped -------------------------- */
/* Record, once at start-up, where the runtime's own code (the gort_text
 * section, text.h) and the program's code lie. */
void gort_os_text_init(void);
/* True if pc is in the program's own code: the main executable, or (linux)
 * a library loaded before gort_init that is not a system one (libc, the
 * dynamic loader, the vdso, libgcc, libstdc++, libm, sanitizer runtimes);
 * and never in gort_text.  Async-signal-safe. */
bool gort_os_pc_is_user(uintptr_t pc);
/* True if pc is in gort_text, the runtime's own code.  Async-signal-safe. */
bool gort_os_pc_is_runtime(uintptr_t pc);

/* ---- stack traces (os/<os>/unwind.c) ----------------------------------- */
/* Once at start-up, before any signal handler may unwind. */
void gort_os_traceback_init(void);
/* Unwind the stack [lo, hi) from registers r, storing up to max return
 * addresses (r's pc first) in pcs; returns how many.  Async-signal-safe:
 * the SIGURG handler unwinds its own interrupted goroutine.  linux:
 * libunwind (DWARF CFI); darwin: the frame-pointer chain, which both
 * darwin ABIs keep. */
int gort_os_unwind(const gort_regs *r, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int max);
/* Names for pcs, valid between gort_os_symbols_begin() and _end():
 * gort_os_symbolize writes "function+0xoff at file:line" (as much as is
 * known; "0x..." at worst) for pc into buf.  return_address: pc is a
 * return address, so its call is the instruction before it.  Not
 * async-signal-safe (linux: libdw, which allocates); begin returns false
 * if no symbolizer could start, and symbolize then writes the bare pc. */
bool gort_os_symbols_begin(void);
void gort_os_symbolize(uintptr_t pc, bool return_address, char *buf, size_t n);
void gort_os_symbols_end(void);

/* ---- the poller: epoll (linux), kqueue (darwin) ------------------------ */
/* One process-wide instance, made by gort_os_poll_init (0 or -errno).
 * Descriptors are watched edge-triggered for both reading and writing,
 * each under a caller-chosen 64-bit key. */
int gort_os_poll_init(void);
/* Watch fd; -EPERM if fd cannot be polled (a regular file). */
int gort_os_poll_add(int fd, uint64_t key);
void gort_os_poll_del(int fd);
enum { GORT_POLL_READ = 1, GORT_POLL_WRITE = 2 };
/* Wait at most ns (< 0: no limit; 0: do not block) and call
 * ready(key, modes, arg) for each descriptor that became ready (modes: a
 * GORT_POLL_* mask; an error or hang-up counts as both).  EINTR and
 * gort_os_poll_break end the wait early; returns the number of events. */
int gort_os_poll_wait(int64_t ns, void (*ready)(uint64_t key, int modes, void *arg), void *arg);
/* Wake a thread blocked in gort_os_poll_wait (from any thread). */
void gort_os_poll_break(void);
/* A plain thread (no M, so no part in the poller) waiting on one
 * descriptor, and what lets another thread end that wait: a wake handle
 * (linux: an eventfd, darwin: a pipe; both close-on-exec, non-blocking).
 * The waiter opens it, the closer signals it (once is enough; any thread,
 * never after the waiter closed it: the caller orders the two), the
 * waiter closes it. */
typedef struct gort_os_wake { int rfd, wfd; } gort_os_wake;
int gort_os_wake_open(gort_os_wake *w);         /* 0 or -errno */
void gort_os_wake_signal(const gort_os_wake *w);
void gort_os_wake_close(gort_os_wake *w);
/* Wait at most ns (< 0: no limit) until fd is ready for modes (GORT_POLL_*
 * mask; an error or hang-up counts as ready) or w (NULL: none) is
 * signalled.  1: fd is ready; 0: it is not (the time passed, w was
 * signalled, or EINTR: look again); -EBADF: fd is not open; else -errno.
 * poll(2). */
int gort_os_poll_fd(int fd, int modes, const gort_os_wake *w, int64_t ns);
/* What fd is (fstat, fcntl): its file's identity, whether the poller can
 * wait for it (not a regular file or a directory), and whether O_NONBLOCK
 * is set.  0 or -errno. */
typedef struct gort_os_fd_info {
    uint64_t dev, ino;
    bool pollable, nonblocking;
} gort_os_fd_info;
int gort_os_fd_stat(int fd, gort_os_fd_info *out);
/* Set O_NONBLOCK; 0 or -errno (the OS layer's gort_os_fd_prepare). */
int gort_os_set_nonblock(int fd);
/* Make a pollable fd the runtime's: non-blocking, and its writes answer
 * EPIPE instead of raising SIGPIPE where the OS has a per-socket switch
 * for it (darwin's SO_NOSIGPIPE).  0 or -errno. */
int gort_os_fd_prepare(int fd);
/* The operations netpoll makes (Go's internal/poll calls, one per OS
 * difference).  Each returns its result (a count, a descriptor, 0) or
 * -errno, and leaves errno alone. */
ssize_t gort_os_read(int fd, void *buf, size_t n);
/* write(2) that never raises SIGPIPE (-EPIPE instead), on sockets and
 * pipes alike: linux sends with MSG_NOSIGNAL; a pipe (or darwin) blocks
 * SIGPIPE in this thread around the write and takes back the one it
 * raised, if any (gort_os_sigpipe_drop). */
ssize_t gort_os_write(int fd, const void *buf, size_t n);
/* accept(2) of a connection, made close-on-exec. */
int gort_os_accept(int fd, struct sockaddr *sa, socklen_t *len);
int gort_os_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* A connect in progress, once fd polled writable: 0 connected;
 * -EINPROGRESS not yet (a stale edge, or the kernel still at it); else
 * why it failed (SO_ERROR). */
int gort_os_connect_result(int fd);
int gort_os_close(int fd);
/* write(2) with SIGPIPE blocked around it (os/unix), for the two above. */
ssize_t gort_os_write_nosigpipe(int fd, const void *buf, size_t n);
/* Take back a SIGPIPE that the calling thread's write raised while the
 * signal was blocked (linux sigtimedwait, darwin sigwait). */
void gort_os_sigpipe_drop(void);

/* ---- low-level output ------------------------------------------------- */
/* write(2) all of buf to fd, retrying EINTR; async-signal-safe. */
void gort_os_write_all(int fd, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* GORT_OS_H */
