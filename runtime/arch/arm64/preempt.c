/*
 * preempt.c — arm64 async preemption: inject the call to the trampoline
 * and, when it asks, load its saved registers into the signal context.
 * Contract: ../arch.h; frame layout: frame.h (PF_*).  The injected push is
 * announced to memcheck (runtime/valgrind.h); the resume's sp, set by
 * sigreturn, is not, so the frame stays addressable below sp (it can only
 * hide an error there).  Untested under valgrind: the arm64 tests run
 * under qemu, where //tests:valgrind_test skips.
 */
#include <stdint.h>
#include <string.h>

#include "runtime/arch/arch.h"
#include "runtime/arch/arm64/frame.h"
#include "runtime/os/os.h"
#include "runtime/valgrind.h"

_Static_assert(PF_SIZE % 16 == 0 && PF_PUSHED % 16 == 0, "sp must stay 16-byte aligned");
_Static_assert(PF_PC == PF_X29 + 8, "{x29, pc} form a frame record");

enum { RED_ZONE = PF_RED_ZONE };


GORT_RUNTIME_TEXT void gort_arch_preempt_init(void) {}

GORT_RUNTIME_TEXT size_t gort_arch_preempt_room(void) {
    /* red zone, the pushed x30, the frame, and the C frames of the park. */
    return RED_ZONE + PF_PUSHED + PF_SIZE + 1024;
}

GORT_RUNTIME_TEXT void gort_arch_preempt_inject(gort_sigctx *c) {
    uintptr_t sp = gort_sigctx_sp(c) - RED_ZONE - PF_PUSHED;
    uint64_t pushed[2] = {gort_sigctx_reg(c, 30), 0};
    vg_stack_grown(sp, gort_sigctx_sp(c)); /* as if pushed: memcheck sees no push */
    memcpy((void *)sp, pushed, sizeof pushed);
    gort_sigctx_set_reg(c, 30, gort_sigctx_pc(c)); /* "called" from the pc */
    gort_sigctx_set_sp(c, sp);
    gort_sigctx_set_pc(c, (uintptr_t)gort_async_preempt);
}

GORT_RUNTIME_TEXT bool gort_arch_preempt_resume(gort_sigctx *c, void *frame) {
    if (!gort_os_preempt_resume_point(gort_sigctx_pc(c))) return false;
    const unsigned char *f = frame;
    uint64_t v[31], pc, nzcv, fpsr, fpcr;
    memcpy(v, f, 30 * 8);
    memcpy(&v[30], f + PF_SIZE, 8); /* the interrupted x30, pushed by the inject */
    memcpy(&pc, f + PF_PC, 8);
    memcpy(&nzcv, f + PF_NZCV, 8);
    memcpy(&fpsr, f + PF_FPSR, 8);
    memcpy(&fpcr, f + PF_FPCR, 8);
    for (int i = 0; i < 31; i++) gort_sigctx_set_reg(c, i, v[i]);
    gort_sigctx_set_sp(c, (uintptr_t)f + PF_SIZE + PF_PUSHED + RED_ZONE);
    gort_sigctx_set_pc(c, pc);
    gort_sigctx_set_nzcv(c, nzcv);
    gort_sigctx_set_fp(c, f + PF_Q, fpsr, fpcr);
    return true;
}

/* BL imm26 (100101 in the top bits) or BLR Xn.  Not instrumented: the
 * scanned word may point at data next to a poisoned global. */
__attribute__((no_sanitize_address)) GORT_RUNTIME_TEXT bool gort_arch_follows_call(uintptr_t pc) {
    uint32_t insn = *(const uint32_t *)(pc - 4);
    return (insn & 0xfc000000u) == 0x94000000u || (insn & 0xfffffc1fu) == 0xd63f0000u;
}

/* x0 ... x28 at the frame's start (x29 is the frame record's, the pc and
 * the interrupted x30 are not data). */
GORT_RUNTIME_TEXT void gort_arch_preempt_relocate(void *frame, uintptr_t from, uintptr_t to) {
    uint64_t *x = frame;
    for (int i = 0; i <= 28; i++)
        if (x[i] == from) x[i] = to;
}
