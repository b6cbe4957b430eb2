/*
 * tsan.h — telling ThreadSanitizer about goroutines.
 *
 * TSan keeps, per thread, a vector clock (what the thread has seen
 * happen) and a shadow call stack (for its reports).  A goroutine moves
 * between threads, so each G is a TSan *fiber*, with a clock and a call
 * stack of its own, and every switch is announced:
 *
 *   tsan_fiber_start(g)   gort_go_with: the G's fiber, made the first time
 *                         the G is used and kept with it (Gs are never
 *                         freed; making a fiber costs a few hundred us),
 *                         named as the dump names the goroutine.  In a
 *                         report, "created by" is where the G was first
 *                         used, not where this goroutine was started.  A
 *                         fiber counts as a thread: TSan allows 8128 at
 *                         once, so a test keeps fewer goroutines alive.
 *   m->tsan_fiber         g0's fiber: the thread's own (mstart)
 *   tsan_switch(fiber)    immediately before each gort_ctx_swap: to g0 in
 *                         mcall, to the goroutine in run()
 *   tsan_func_exit()      a frame that will never return pops itself from
 *                         the fiber's shadow stack: g_main's and mcall's
 *                         when the goroutine exits (mcall is not inlined
 *                         under TSan, so each is exactly one frame).
 *                         Otherwise the next goroutine on the G starts two
 *                         frames deeper, and after some 30000 goroutines
 *                         on one G the fixed-size shadow stack overflows.
 *
 * A switch synchronizes (flags 0): what the M did on g0 before switching
 * happens before the goroutine's next step, and what the goroutine did
 * happens before g0 runs again.  That is true program order on one
 * thread, so it hides no race: a goroutine's steps on two Ms are ordered
 * only through what the runtime itself does between them (run queues,
 * locks, notes), which TSan sees as C11 atomics.  The same holds for a G
 * reused by the next goroutine: the exit happens before the reuse,
 * through the free lists.
 *
 * gort_systemstack does not switch fibers: fn runs as the goroutine (curg
 * stays set, and the goroutine continues after it), only on g0's stack.
 * Its frames go on the goroutine's shadow stack, balanced; g0's fiber is
 * suspended in run() meanwhile, and its earlier use of that stack memory
 * happens before (the switch to the goroutine), its later use after (the
 * goroutine's mcall back to this g0).
 *
 * gort_fence(order): atomic_thread_fence, which TSan executes but does
 * not model as a happens-before edge (gcc says so: -Wtsan).  The
 * runtime's seq_cst fences order a store before a load (Dekker: the
 * runnable G and the spinning count, a P and sysmon's wait flag) and
 * carry no data from one thread to another, so TSan need not see them; a
 * fence that publishes data needs an edge TSan sees instead.  The one
 * release fence (g_new: a grown allg array) serves only the SIGQUIT
 * report, which reads allg without its lock and then exits.
 *
 * Asynchronous preemption is off under TSan (env.c says why).
 *
 * Without -fsanitize=thread all of these are empty.
 */
#ifndef GORT_CORE_TSAN_H
#define GORT_CORE_TSAN_H

#include <stdatomic.h>

#include "runtime/text.h"

#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif

#if defined(GORT_TSAN)
#include <sanitizer/tsan_interface.h>
#include <stdint.h>
#include <stdio.h>

/* The instrumentation's own entry points (what the compiler emits), called
 * by name: the fence because gcc warns about atomic_thread_fence under
 * -fsanitize=thread (-Wtsan) and the runtime builds with -Werror; TSan's
 * memory orders are C11's. */
void __tsan_atomic_thread_fence(int order);
void __tsan_func_exit(void);

/* g's fiber, made on first use, named: goroutine 7 "worker". */
#define tsan_fiber_start(g) tsan_fiber_start_(&(g)->tsan_fiber, (g)->id, (g)->name)
GORT_RUNTIME_TEXT static inline void tsan_fiber_start_(void **fiber, uint64_t id, const char *name) {
    char buf[64];
    if (*fiber == NULL) *fiber = __tsan_create_fiber(0);
    snprintf(buf, sizeof buf, "goroutine %llu \"%s\"", (unsigned long long)id, name != NULL ? name : "");
    __tsan_set_fiber_name(*fiber, buf); /* copied */
}
/* g's record is freed (proc.c gort_gfree_trim): its fiber goes too. */
#define tsan_fiber_destroy(g) ((g)->tsan_fiber != NULL ? __tsan_destroy_fiber((g)->tsan_fiber) : (void)0)
#define tsan_fiber_current() __tsan_get_current_fiber()
#define tsan_switch(fiber) __tsan_switch_to_fiber((fiber), 0)
#define tsan_func_exit() __tsan_func_exit()
#define GORT_TSAN_NOINLINE __attribute__((noinline))
#define GORT_TSAN_ON 1
#define GORT_NO_TSAN __attribute__((no_sanitize_thread)) /* reads racing on purpose */
#define gort_fence(order) __tsan_atomic_thread_fence((int)(order))
#else
#define tsan_fiber_start(g) ((void)(g))
#define tsan_fiber_destroy(g) ((void)(g))
#define tsan_fiber_current() ((void *)0)
#define tsan_switch(fiber) ((void)(fiber))
#define tsan_func_exit() ((void)0)
#define GORT_TSAN_NOINLINE
#define GORT_TSAN_ON 0
#define GORT_NO_TSAN
#define gort_fence(order) atomic_thread_fence(order)
#endif

#endif /* GORT_CORE_TSAN_H */
