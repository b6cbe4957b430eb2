/*
 * context.S — arm64 context switch (AAPCS64; ELF and Mach-O).
 * Frame layout: frame.h.  Contract: ../arch.h.
 * Only x9 and x10 (caller-saved temporaries) are used as scratch.
 */
#include "runtime/arch/asm.h"
#include "runtime/arch/arm64/frame.h"

GORT_TEXT

/* void gort_ctx_swap(gort_ctx *save, const gort_ctx *load): save in x0, load in x1 */
GORT_FUNC(gort_ctx_swap)
    .cfi_startproc
    sub     sp, sp, #FRAME_SIZE                 /* room for the frame */
    stp     x19, x20, [sp, #FRAME_X19]          /* callee-saved GPRs */
    stp     x21, x22, [sp, #FRAME_X21]
    stp     x23, x24, [sp, #FRAME_X23]
    stp     x25, x26, [sp, #FRAME_X25]
    stp     x27, x28, [sp, #FRAME_X27]
    stp     x29, x30, [sp, #FRAME_X29]          /* frame pointer, return address */
    stp     d8, d9, [sp, #FRAME_D8]             /* callee-saved FP/SIMD halves */
    stp     d10, d11, [sp, #FRAME_D10]
    stp     d12, d13, [sp, #FRAME_D12]
    stp     d14, d15, [sp, #FRAME_D14]
    mrs     x9, fpcr                            /* FP control register */
    str     x9, [sp, #FRAME_FPCR]
    mov     x9, sp
    str     x9, [x0]                            /* save->sp = sp */
    ldr     x9, [x1]                            /* sp = load->sp */
    mov     sp, x9
    ldr     x9, [sp, #FRAME_FPCR]               /* restore the other side */
    mrs     x10, fpcr
    cmp     x9, x10
    b.eq    2f                                  /* skip the (slow) write if equal */
    msr     fpcr, x9
2:  ldp     d8, d9, [sp, #FRAME_D8]
    ldp     d10, d11, [sp, #FRAME_D10]
    ldp     d12, d13, [sp, #FRAME_D12]
    ldp     d14, d15, [sp, #FRAME_D14]
    ldp     x19, x20, [sp, #FRAME_X19]
    ldp     x21, x22, [sp, #FRAME_X21]
    ldp     x23, x24, [sp, #FRAME_X23]
    ldp     x25, x26, [sp, #FRAME_X25]
    ldp     x27, x28, [sp, #FRAME_X27]
    ldp     x29, x30, [sp, #FRAME_X29]
    add     sp, sp, #FRAME_SIZE                 /* pop the frame */
    ret                                         /* to x30: the caller of swap, or entry */
    .cfi_endproc
GORT_END(gort_ctx_swap)

/* void gort_ctx_call_on(void *sp, void (*fn)(void *), void *arg):
 * sp in x0, fn in x1, arg in x2. */
GORT_FUNC(gort_ctx_call_on)
    .cfi_startproc
    stp     x29, x30, [sp, #-16]!               /* frame record on the old stack */
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov     x29, sp                             /* x29 remembers the old stack */
    .cfi_def_cfa_register x29
    and     x9, x0, #~15                        /* AAPCS64: sp 16-aligned */
    mov     sp, x9                              /* switch stacks */
    mov     x0, x2                              /* fn(arg) */
    blr     x1
    mov     sp, x29                             /* back on the old stack */
    ldp     x29, x30, [sp], #16
    .cfi_def_cfa sp, 0
    ret
    .cfi_endproc
GORT_END(gort_ctx_call_on)

/*
 * First frame of every new context: the switch "returns" here with the
 * entry function in x19 and its argument in x20, sp 16-byte aligned.
 * The return address is marked undefined so debuggers end the backtrace.
 */
GORT_FUNC(gort_ctx_entry)
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20                             /* entry(arg) */
    blr     x19
    brk     #0                                  /* entry must not return */
    .cfi_endproc
GORT_END(gort_ctx_entry)

GORT_NOEXECSTACK
