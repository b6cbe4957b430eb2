/*
 * arch.h — what each CPU architecture gives the core: a context switch.
 *
 * A context is a stack pointer.  Everything else a suspended goroutine (or
 * an M's scheduler loop, g0) needs lives on its own stack, in the frame the
 * switch pushed: the callee-saved registers of the ABI, the FP control
 * state, and the return address.  Caller-saved registers need no saving: a
 * switch is an ordinary function call as far as the compiler knows.
 *
 *   gort_ctx_swap(save, load)  save the running context in *save and resume
 *                              *load; returns when someone resumes *save.
 *                              (Go's gosave + gogo; the core builds mcall
 *                              from it by swapping to the M's g0 context.)
 *   gort_ctx_jump(load)        resume *load, abandoning the running one
 *                              (Go's gogo); used when a goroutine exits.
 *   gort_ctx_init(c, lo, size, entry, arg)
 *                              make *c resume as a call entry(arg) on the
 *                              stack [lo, lo+size); entry must not return.
 *   gort_ctx_call_on(sp, fn, arg)
 *                              call fn(arg) with the stack pointer at sp
 *                              (rounded down to 16), return on the old
 *                              stack (Go's systemstack, minus the g
 *                              switch, which the core does).
 *
 * Each implementation lives in runtime/arch/<cpu>/: context.S (the switch,
 * ELF and Mach-O) and context.c (gort_ctx_init), with the frame layout in
 * frame.h shared by both and checked with _Static_assert.
 */
#ifndef GORT_ARCH_H
#define GORT_ARCH_H

#include <stddef.h>

#include "runtime/atomic.h" /* GORT_NORETURN */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_ctx {
    void *sp; /* saved stack pointer; the switch frame sits at sp */
} gort_ctx;

void gort_ctx_swap(gort_ctx *save, const gort_ctx *load);
GORT_NORETURN void gort_ctx_jump(const gort_ctx *load);
void gort_ctx_init(gort_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);
void gort_ctx_call_on(void *sp, void (*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* GORT_ARCH_H */
