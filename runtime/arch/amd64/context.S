/*
 * context.S — amd64 context switch (SysV ABI; ELF and Mach-O).
 * Frame layout: frame.h.  Contract: ../arch.h.
 */
#include "runtime/arch/asm.h"
#include "runtime/arch/amd64/frame.h"

GORT_TEXT

/* void gort_ctx_swap(gort_ctx *save, const gort_ctx *load): save in rdi, load in rsi */
GORT_FUNC(gort_ctx_swap)
    .cfi_startproc
    pushq   %rbp                        /* callee-saved GPRs, in frame order */
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp                    /* slot for the FP control state */
    stmxcsr FRAME_FPCTL(%rsp)           /* SSE control/status */
    fnstcw  FRAME_X87CW(%rsp)           /* x87 control word */
    movq    %rsp, (%rdi)                /* save->sp = rsp */
    movq    (%rsi), %rsp                /* rsp = load->sp: now on the other stack */
    ldmxcsr FRAME_FPCTL(%rsp)           /* restore its FP control state */
    fldcw   FRAME_X87CW(%rsp)
    addq    $8, %rsp
    popq    %r15                        /* and its callee-saved GPRs */
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret                                 /* to where it called swap (or entry) */
    .cfi_endproc
GORT_END(gort_ctx_swap)

/* void gort_ctx_call_on(void *sp, void (*fn)(void *), void *arg):
 * sp in rdi, fn in rsi, arg in rdx. */
GORT_FUNC(gort_ctx_call_on)
    .cfi_startproc
    pushq   %rbp                        /* keep the old stack in rbp */
    .cfi_def_cfa_offset 16
    .cfi_offset rbp, -16
    movq    %rsp, %rbp
    .cfi_def_cfa_register rbp
    andq    $-16, %rdi                  /* ABI: rsp 16-aligned at the call */
    movq    %rdi, %rsp                  /* switch stacks */
    movq    %rdx, %rdi                  /* fn(arg) */
    callq   *%rsi
    movq    %rbp, %rsp                  /* back on the old stack */
    popq    %rbp
    .cfi_def_cfa rsp, 8
    ret
    .cfi_endproc
GORT_END(gort_ctx_call_on)

/*
 * First frame of every new context: the switch "returns" here with the
 * entry function in r12 and its argument in r13, rsp 16-byte aligned.
 * rip is marked undefined so debuggers end the backtrace here.
 */
GORT_FUNC(gort_ctx_entry)
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi                  /* entry(arg) */
    callq   *%r12
    ud2                                 /* entry must not return */
    .cfi_endproc
GORT_END(gort_ctx_entry)

GORT_NOEXECSTACK
