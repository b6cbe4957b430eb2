/*
 * preempt.c — amd64 async preemption: size the XSAVE area and inject the
 * call to the trampoline (preempt.S).  Contract: ../arch.h.  The injected
 * return address is a push memcheck does not see: the inject announces it
 * (runtime/valgrind.h), and the trampoline's "ret $PF_RED_ZONE" pops it
 * as usual.  The frame: frame.h (PF_*).
 */
#include <cpuid.h>
#include <stdint.h>

#include "runtime/arch/amd64/frame.h"
#include "runtime/arch/arch.h"
#include "runtime/os/os.h"
#include "runtime/valgrind.h"

_Static_assert(PF_CFA == PF_RED_ZONE + PF_RET, "the entry rsp is the return address below the red zone");
_Static_assert(PF_NGPRS == 1 + 15, "preempt.S pushes rflags and 15 registers (all but rsp)");
_Static_assert(PF_XSAVE_HDR == PF_FXSAVE_SIZE && PF_XSAVE_HDR_SIZE == 64,
               "the XSAVE header follows the 512-byte legacy area (Intel SDM 13.4)");

/* XSAVE area size, a multiple of 64; 0: no XSAVE, use FXSAVE (512). */
__attribute__((visibility("hidden"))) uint32_t gort_amd64_xsave_size;

GORT_RUNTIME_TEXT void gort_arch_preempt_init(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return;
    /* ecx: the size for every component the CPU supports, not only those
     * enabled now (darwin enables AVX-512 per thread, on first use). */
    __cpuid_count(0xd, 0, a, b, c, d);
    gort_amd64_xsave_size = (c + 63) & ~63u;
}

GORT_RUNTIME_TEXT size_t gort_arch_preempt_room(void) {
    size_t area = gort_amd64_xsave_size != 0 ? gort_amd64_xsave_size : PF_FXSAVE_SIZE;
    /* red zone, return address, flags, 15 GPRs, alignment, the area, and
     * the C frames of the park (gort_async_preempt_park -> mcall). */
    return PF_CFA + PF_GPR_BYTES + PF_ALIGN + area + 1024;
}

GORT_RUNTIME_TEXT void gort_arch_preempt_inject(gort_sigctx *c) {
    uintptr_t sp = gort_sigctx_sp(c) - PF_CFA; /* below the red zone, room for the return address */
    vg_stack_grown(sp, gort_sigctx_sp(c)); /* as if pushed: memcheck sees no push */
    *(uint64_t *)sp = gort_sigctx_pc(c); /* the trampoline's return address */
    gort_sigctx_set_sp(c, sp);
    gort_sigctx_set_pc(c, (uintptr_t)gort_async_preempt);
}

GORT_RUNTIME_TEXT bool gort_arch_preempt_resume(gort_sigctx *c, void *frame) { return false; }

/* The call forms compilers emit: e8 rel32; ff 15 disp32 (through the GOT,
 * -fno-plt); ff /2 through a register (ff d0+r, with REX 41 ff d0+r), or
 * through memory at a register with an 8- or 32-bit displacement
 * (ff 50+r d8, ff 90+r d32; ff 54 24 d8 for rsp).  Not instrumented: the
 * scanned word may point at data next to a poisoned global. */
__attribute__((no_sanitize_address)) GORT_RUNTIME_TEXT bool gort_arch_follows_call(uintptr_t pc) {
    const uint8_t *c = (const uint8_t *)pc;
    if (c[-5] == 0xe8) return true;
    if (c[-6] == 0xff && (c[-5] == 0x15 || (c[-5] & 0xf8) == 0x90)) return true;
    if (c[-2] == 0xff && (c[-1] & 0xf8) == 0xd0) return true;
    if (c[-3] == 0xff && (c[-2] & 0xf8) == 0x50) return true;
    if (c[-4] == 0xff && c[-3] == 0x54 && c[-2] == 0x24) return true;
    return false;
}

/* The GPR block: r15 at +0 up to rax at +14 words (rflags above). */
GORT_RUNTIME_TEXT void gort_arch_preempt_relocate(void *frame, uintptr_t from, uintptr_t to) {
    uint64_t *r = frame;
    for (int i = 0; i < PF_NGPRS - 1; i++)
        if (r[i] == from) r[i] = to;
}
