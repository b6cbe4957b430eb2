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

/* Park the goroutine (or block the thread) for at least ns nanoseconds. */
GORT_API void gort_sleep(int64_t ns);

/* The current goroutine's id (>= 1); 0 on a plain thread. */
GORT_API uint64_t gort_self(void);

/* ===================================================================== */
/* Sync                                                                   */
/* ===================================================================== */
/* Zero-initialisable, no destroy call; goroutines park, threads block.    */

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
/* Introspection                                                          */
/* ===================================================================== */

typedef struct gort_stats {
    uint64_t goroutines;  /* alive now                                     */
    uint64_t threads;     /* Ms (OS threads) created by the runtime        */
    uint64_t procs;       /* Ps in use (gort_maxprocs)                     */
    uint64_t spawned;     /* goroutines started since init                 */
    uint64_t switches;    /* goroutine switches                            */
    uint64_t steals;      /* successful steals from another P's run queue  */
    uint64_t preemptions; /* goroutines preempted                          */
    uint64_t parks;       /* goroutines parked                             */
} gort_stats;
GORT_API void gort_stats_get(gort_stats *out);

/* Write every goroutine (id, name, state, wait reason, time in that state)
 * to fd. */
GORT_API void gort_dump(int fd);

#ifdef __cplusplus
}
#endif
#endif /* GORT_H */
