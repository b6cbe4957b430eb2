/*
 * valgrind.h — telling valgrind about goroutine stacks and hand-built frames.
 *
 * Memcheck follows the stack pointer: when it moves down, the new part of
 * the stack becomes addressable (undefined), when it moves up, not
 * addressable.  A move into another registered stack is a switch and
 * changes nothing.  Valgrind registers the stack of every thread itself
 * when the thread is created (g0 needs nothing from us: registering it
 * again makes two overlapping stacks, and moves within it look like
 * switches).  Goroutine stacks are ours: a switch to an unregistered
 * stack more than --max-stackframe (2 MB) away is guessed to be a switch
 * ("client switching stacks?"), a closer one is taken for a huge frame,
 * and everything in between — other goroutines' stacks — is marked
 * undefined or inaccessible.  Goroutine stacks and thread stacks are
 * neighbouring mappings, so both happen.  Hence:
 *
 *   vg_stack_register(lo, size)   a goroutine stack, when it is mapped or
 *                                 carved (stack.c); returns the id the G
 *                                 keeps
 *   vg_stack_deregister(id)       before that stack is unmapped (stack.c)
 *   vg_stack_grown(new, old)      sp goes from old down to new where memcheck
 *                                 cannot see it: the signal handler's edit
 *                                 of an interrupted goroutine's sp
 *                                 (arch/<cpu>/preempt.c) and
 *                                 gort_systemstack's call below g0's saved sp
 *                                 (proc.c); makes [new, old) stack as a push
 *                                 would, shifted by memcheck's red zone
 *
 * Valgrind keeps one "current stack" for the process, not one per thread:
 * after another thread or a signal handler ran on another registered
 * stack, a thread's first sp change that is not a push or pop (a leave,
 * an alloca) is taken for a stack switch and not tracked.  So nothing
 * else is registered: with the M's sigaltstack registered too (for
 * complete reports from the handlers), every signal left such a change
 * untracked, and memcheck reported thousands of errors.  The remaining
 * cases are valgrind's; //tests:valgrind_test runs clean.
 *
 * vg_running(): under valgrind, which runs the threads one at a time (so
 * a thread waiting for its turn looks blocked in the kernel: preempt.c
 * then does not look for foreign calls).
 *
 * Each macro is one client request: a few register rotations that do
 * nothing unless the program runs under valgrind (safe in a signal
 * handler; a spawn pays one only when it carves or maps a new stack, not
 * when it reuses a free G's).  Where <valgrind/valgrind.h> is not
 * installed (the zig darwin build) they are empty; the aarch64 cross gcc
 * sees the amd64 package's headers in /usr/include, which are the same
 * for every arch.  Installing valgrind after a build needs a `bazel
 * clean` for the header to be seen.
 */
#ifndef GORT_VALGRIND_H
#define GORT_VALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#define GORT_VALGRIND 1
#endif
#endif

/* How far below sp memcheck keeps the stack addressable: the ABI's red
 * zone on amd64, none on arm64 (valgrind's VG_STACK_REDZONE_SZB). */
#if defined(__x86_64__)
#define GORT_VG_REDZONE 128
#else
#define GORT_VG_REDZONE 0
#endif

#if defined(GORT_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
/* The lowest and the highest byte of the stack, both included. */
#define vg_running() (RUNNING_ON_VALGRIND != 0)
#define vg_stack_register(lo, size) VALGRIND_STACK_REGISTER((char *)(lo), (char *)(lo) + (size) - 1)
#define vg_stack_deregister(id) VALGRIND_STACK_DEREGISTER(id)
/* What memcheck does when it sees sp move down from old_sp to new_sp. */
#define vg_stack_grown(new_sp, old_sp)                                                     \
    ((void)VALGRIND_MAKE_MEM_UNDEFINED((char *)(new_sp) - GORT_VG_REDZONE,                 \
                                       (size_t)((char *)(old_sp) - (char *)(new_sp))))
#else
#define vg_running() false
#define vg_stack_register(lo, size) ((void)(lo), (void)(size), 0u)
#define vg_stack_deregister(id) ((void)(id))
#define vg_stack_grown(new_sp, old_sp) ((void)(new_sp), (void)(old_sp))
#endif

#endif /* GORT_VALGRIND_H */
