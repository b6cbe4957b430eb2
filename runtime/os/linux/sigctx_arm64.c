/*
 * sigctx_arm64.c — linux/arm64 signal context accessors (os.h): the only
 * code that knows where the kernel's ucontext_t keeps the registers.
 */
#if defined(__aarch64__)
#include <signal.h>
#include <ucontext.h>

#include "runtime/os/os.h"

#define MC(c) (&((ucontext_t *)(c))->uc_mcontext)

_Static_assert(SIGURG == 23, "raise_arm64.S raises signal 23 (SIGURG_NR)");

GORT_RUNTIME_TEXT void gort_os_preempt_resume_pc(void); /* raise_arm64.S: a label */

GORT_RUNTIME_TEXT bool gort_os_preempt_resume_point(uintptr_t pc) { return pc == (uintptr_t)gort_os_preempt_resume_pc; }

GORT_RUNTIME_TEXT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)MC(c)->pc; }
GORT_RUNTIME_TEXT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)MC(c)->sp; }
GORT_RUNTIME_TEXT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { MC(c)->pc = pc; }
GORT_RUNTIME_TEXT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { MC(c)->sp = sp; }
GORT_RUNTIME_TEXT uint64_t gort_sigctx_reg(const gort_sigctx *c, int i) { return MC(c)->regs[i]; }
GORT_RUNTIME_TEXT void gort_sigctx_set_reg(gort_sigctx *c, int i, uint64_t v) { MC(c)->regs[i] = v; }

GORT_RUNTIME_TEXT void gort_sigctx_set_nzcv(gort_sigctx *c, uint64_t nzcv) {
    const uint64_t mask = 0xfull << 28;
    MC(c)->pstate = (MC(c)->pstate & ~mask) | (nzcv & mask);
}

/* The trampoline restored q0..q31, FPSR and FPCR before raising the signal
 * with raw system calls, which preserve them; the kernel saved exactly
 * those values in this context and restores them. */
GORT_RUNTIME_TEXT void gort_sigctx_set_fp(gort_sigctx *c, const void *q, uint64_t fpsr, uint64_t fpcr) {}

GORT_RUNTIME_TEXT void gort_sigctx_regs(const gort_sigctx *c, gort_regs *out) {
    for (int i = 0; i <= 30; i++) out->r[i] = (uintptr_t)gort_sigctx_reg(c, i);
    out->r[GORT_REG_SP] = gort_sigctx_sp(c);
    out->r[GORT_REG_PC] = gort_sigctx_pc(c);
    out->pc_exact = true;
}
#endif
