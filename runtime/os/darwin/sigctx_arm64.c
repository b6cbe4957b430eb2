/*
 * sigctx_arm64.c — darwin/arm64 signal context accessors (os.h), per
 * <mach/arm/_structs.h> and <arm/_mcontext.h>: uc_mcontext points to the
 * thread state (__ss: x0-x28, fp, lr, sp, pc, cpsr) and the NEON state
 * (__ns: v0-v31, fpsr, fpcr), both restored by sigreturn.  gort builds
 * plain arm64 (not arm64e), where these fields are not pointer-signed.
 */
#if defined(__aarch64__)
#include <string.h>
#include <sys/ucontext.h>

#include "runtime/os/os.h"

#if __DARWIN_OPAQUE_ARM_THREAD_STATE64
#error "arm64e (pointer-authenticated thread state) is not supported"
#endif

#define MC(c) (((ucontext_t *)(c))->uc_mcontext)

/* pthread_kill may clobber vector registers: the handler writes the NEON
 * state back (gort_sigctx_set_fp), so it may resume from anywhere. */
GORT_RUNTIME_TEXT void gort_os_preempt_raise_self(void) {
    gort_os_signal_preempt(gort_os_thread_self());
    for (;;) { /* the handler resumes the interrupted code from the signal */
    }
}

GORT_RUNTIME_TEXT bool gort_os_preempt_resume_point(uintptr_t pc) {
    (void)pc;
    return true;
}

GORT_RUNTIME_TEXT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)MC(c)->__ss.__pc; }
GORT_RUNTIME_TEXT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)MC(c)->__ss.__sp; }
GORT_RUNTIME_TEXT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { MC(c)->__ss.__pc = pc; }
GORT_RUNTIME_TEXT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { MC(c)->__ss.__sp = sp; }

GORT_RUNTIME_TEXT uint64_t gort_sigctx_reg(const gort_sigctx *c, int i) {
    if (i < 29) return MC(c)->__ss.__x[i];
    return i == 29 ? MC(c)->__ss.__fp : MC(c)->__ss.__lr;
}

GORT_RUNTIME_TEXT void gort_sigctx_set_reg(gort_sigctx *c, int i, uint64_t v) {
    if (i < 29)
        MC(c)->__ss.__x[i] = v;
    else if (i == 29)
        MC(c)->__ss.__fp = v;
    else
        MC(c)->__ss.__lr = v;
}

GORT_RUNTIME_TEXT void gort_sigctx_set_nzcv(gort_sigctx *c, uint64_t nzcv) {
    const uint32_t mask = 0xfu << 28;
    MC(c)->__ss.__cpsr = (MC(c)->__ss.__cpsr & ~mask) | ((uint32_t)nzcv & mask);
}

/* The trampoline raised the signal through pthread_kill, a C call that may
 * clobber the vector registers: the NEON state goes back here. */
GORT_RUNTIME_TEXT void gort_sigctx_set_fp(gort_sigctx *c, const void *q, uint64_t fpsr, uint64_t fpcr) {
    memcpy(MC(c)->__ns.__v, q, sizeof MC(c)->__ns.__v);
    MC(c)->__ns.__fpsr = (uint32_t)fpsr;
    MC(c)->__ns.__fpcr = (uint32_t)fpcr;
}

GORT_RUNTIME_TEXT void gort_sigctx_regs(const gort_sigctx *c, gort_regs *out) {
    for (int i = 0; i <= 30; i++) out->r[i] = (uintptr_t)gort_sigctx_reg(c, i);
    out->r[GORT_REG_SP] = gort_sigctx_sp(c);
    out->r[GORT_REG_PC] = gort_sigctx_pc(c);
    out->pc_exact = true;
}
#endif
