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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/atomic.h" /* GORT_NORETURN */
#include "runtime/text.h"    /* GORT_RUNTIME_TEXT */

#ifdef __cplusplus
extern "C" {
#endif

/* One pause in a spin-wait loop (x86 pause, arm64 yield): the other
 * hardware thread runs, and the loop does not flood the memory system. */
GORT_RUNTIME_TEXT static inline void gort_cpu_relax(void) {
#if defined(__x86_64__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

typedef struct gort_ctx {
    void *sp; /* saved stack pointer; the switch frame sits at sp */
} gort_ctx;

void gort_ctx_swap(gort_ctx *save, const gort_ctx *load);
void gort_ctx_init(gort_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);
void gort_ctx_call_on(void *sp, void (*fn)(void *), void *arg);

/*
 * Registers for an unwinder to start from (the goroutine dump), indexed by
 * DWARF register number: amd64 rax..r15 = 0..15 (rsp 7, rbp 6) and the
 * return address column 16 = rip; arm64 x0..x30 = 0..30, sp 31, pc 32.
 * pc_exact: pc is the interrupted instruction (a signal), not a return
 * address (a suspended context), so unwinders look it up as is.
 *
 *   gort_ctx_regs(c, out)   the registers of suspended context *c: pc, sp
 *                           and the callee-saved ones its frame holds; the
 *                           rest 0.
 */
#if defined(__x86_64__)
enum { GORT_REG_FP = 6, GORT_REG_SP = 7, GORT_REG_PC = 16, GORT_NREGS = 17 };
#elif defined(__aarch64__)
enum { GORT_REG_FP = 29, GORT_REG_SP = 31, GORT_REG_PC = 32, GORT_NREGS = 33 };
#endif
typedef struct gort_regs {
    uintptr_t r[GORT_NREGS];
    bool pc_exact;
} gort_regs;
void gort_ctx_regs(const gort_ctx *c, gort_regs *out);

/*
 * Asynchronous preemption (runtime/arch/<cpu>/preempt.S and preempt.c).
 * The core's SIGURG handler decides that the interrupted goroutine may stop
 * here; the arch layer makes it stop, through the signal context c (read
 * and written with the OS's gort_sigctx_* accessors):
 *
 *   gort_arch_preempt_init()     once at start-up (amd64: size the XSAVE area).
 *   gort_arch_preempt_room()     bytes below the interrupted sp the injected
 *                                call needs, red zone included; the core
 *                                checks the goroutine's stack has them.
 *   gort_arch_preempt_inject(c)  edit c so that, when the handler returns,
 *                                the goroutine calls gort_async_preempt as
 *                                if the interrupted instruction had (Go's
 *                                pushCall).
 *   gort_async_preempt           the trampoline: saves every general, vector
 *                                and flag register, calls the core's
 *                                gort_async_preempt_park(), and when the
 *                                goroutine runs again (on any M) restores
 *                                them all and continues at the interrupted
 *                                pc.  amd64 returns with a plain ret.  arm64
 *                                has no register free for the final jump
 *                                (x16-x18 may all be live in C), so it
 *                                restores the FP state, calls the core's
 *                                gort_async_preempt_resuming(frame), and
 *                                raises SIGURG at itself; the handler then
 *                                calls gort_arch_preempt_resume.
 *   gort_arch_preempt_resume(c, frame)
 *                                arm64: if c is that request, load every
 *                                saved register into c (the kernel's
 *                                sigreturn then restores them all at once)
 *                                and return true.  amd64: false.
 */
typedef struct gort_sigctx gort_sigctx;
void gort_arch_preempt_init(void);
size_t gort_arch_preempt_room(void);
/* Does the instruction before pc, code the caller knows is mapped, call
 * something (so pc may be a return address)?  For scanning the stack of a
 * thread blocked in a foreign call (traceback.c). */
bool gort_arch_follows_call(uintptr_t pc);
void gort_arch_preempt_inject(gort_sigctx *c);
bool gort_arch_preempt_resume(gort_sigctx *c, void *frame);
void gort_async_preempt(void);
/* Implemented by the core, called by the trampoline on the goroutine with
 * its saved general registers (amd64: the GPR block; arm64: the frame). */
void gort_async_preempt_park(void *frame);
/* In the trampoline's saved general registers, replace every one equal to
 * from with to (errno's address, when the goroutine resumes on another
 * thread: preempt.c). */
void gort_arch_preempt_relocate(void *frame, uintptr_t from, uintptr_t to);
void gort_async_preempt_resuming(void *frame);

#ifdef __cplusplus
}
#endif
#endif /* GORT_ARCH_H */
