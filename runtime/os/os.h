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

#include "runtime/atomic.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__APPLE__)
#include <os/lock.h>
#include <pthread.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clocks ---------------------------------------------------------- */
int64_t gort_os_nanotime(void);            /* monotonic, ns */
/* The same clock, cheaper and coarser (a few ms): for bookkeeping such as
 * how long a goroutine has been parked, never for timers. */
int64_t gort_os_nanotime_coarse(void);
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

/* ---- threads --------------------------------------------------------- */
/* Start a detached thread running fn(arg); 0 or -errno. */
int gort_os_thread_start(void *(*fn)(void *), void *arg);
/* The kernel's id of the calling thread (gettid / pthread_threadid_np). */
uint64_t gort_os_thread_id(void);

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
/* The calling thread's own note, made on first use and destroyed when the
 * thread exits: what a plain (non-M) thread blocks on.  NULL if out of
 * memory. */
gort_note *gort_os_thread_note(void);

/* ---- signals --------------------------------------------------------- */
/* Install the runtime's handlers for SIGSEGV and SIGBUS (SA_ONSTACK),
 * remembering what was installed before so it can be chained to.  A fault
 * first goes to the core's gort_sig_fault(); if that returns, the previous
 * handler (or the default action) gets it. */
int gort_os_signals_install(void);
/* Give the calling thread (an M; Ms never exit) an alternate signal stack
 * of size bytes, so the handlers can report a stack overflow.  0 or -errno. */
int gort_os_sigaltstack_alloc(size_t size);

/* Implemented by the core, called by the OS signal handler on the faulting
 * thread: returns only if the fault is not a goroutine stack overflow. */
void gort_sig_fault(int sig, void *addr);

/* ---- low-level output ------------------------------------------------- */
/* write(2) all of buf to fd, retrying EINTR; async-signal-safe. */
void gort_os_write_all(int fd, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* GORT_OS_H */
