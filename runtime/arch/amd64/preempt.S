/*
 * preempt.S — the amd64 async-preemption trampoline (SysV; ELF and Mach-O).
 * Contract: ../arch.h.  Entered from a signal context that
 * gort_arch_preempt_inject (preempt.c) edited as if the interrupted
 * instruction had called us:
 *
 *   interrupted rsp ->  caller's data
 *                       128-byte red zone, untouched
 *   entry rsp ------->  return address = the interrupted rip
 *                       rflags                            pushfq
 *                       rax rbx rcx rdx rsi rdi rbp       7 pushes
 *                       r8 ... r15                        8 pushes
 *   rbp ------------->  (the GPR block ends here)
 *                       padding down to 64 bytes
 *   rsp at the call ->  XSAVE area: x87, SSE, AVX, AVX-512 ... every state
 *                       component the OS enabled (gort_amd64_xsave_size
 *                       bytes), or an FXSAVE area (512) without XSAVE
 *
 * The offsets are frame.h's PF_*.  Everything the interrupted code could
 * have live comes back exactly; the final "ret $PF_RED_ZONE" pops the
 * return address and the red zone gap, so rsp too is what it was.
 */
#include "runtime/arch/asm.h"
#include "runtime/arch/amd64/frame.h"

#if defined(__APPLE__)
#define CALL_C(name) call GORT_SYM(name)
#else
#define CALL_C(name) call name@PLT
#endif

GORT_TEXT

GORT_FUNC(gort_async_preempt)
    .cfi_startproc
    .cfi_def_cfa_offset PF_CFA                  /* the interrupted rsp */
    .cfi_offset rip, -PF_CFA                    /* its pc: our return address */
    pushfq                                      /* flags, DF included */
    .cfi_adjust_cfa_offset 8
    cld                                         /* the C ABI wants DF clear */
    pushq   %rax
    .cfi_adjust_cfa_offset 8
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %rcx
    .cfi_adjust_cfa_offset 8
    pushq   %rdx
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %r8
    .cfi_adjust_cfa_offset 8
    pushq   %r9
    .cfi_adjust_cfa_offset 8
    pushq   %r10
    .cfi_adjust_cfa_offset 8
    pushq   %r11
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    movq    %rsp, %rbp                          /* rbp: the GPR block (callee-saved) */
    .cfi_def_cfa_register rbp
    andq    $-PF_ALIGN, %rsp                    /* XSAVE needs 64-byte alignment */
    movq    GORT_SYM(gort_amd64_xsave_size)@GOTPCREL(%rip), %rax
    movl    (%rax), %eax
    testl   %eax, %eax
    jz      2f                                  /* no XSAVE: FXSAVE */
    subq    %rax, %rsp
    xorl    %ecx, %ecx                          /* XRSTOR faults unless the header */
    movq    %rcx, PF_XSAVE_HDR + 0(%rsp)        /* starts as zero: XSAVE writes */
    movq    %rcx, PF_XSAVE_HDR + 8(%rsp)        /* only XSTATE_BV */
    movq    %rcx, PF_XSAVE_HDR + 16(%rsp)
    movq    %rcx, PF_XSAVE_HDR + 24(%rsp)
    movq    %rcx, PF_XSAVE_HDR + 32(%rsp)
    movq    %rcx, PF_XSAVE_HDR + 40(%rsp)
    movq    %rcx, PF_XSAVE_HDR + 48(%rsp)
    movq    %rcx, PF_XSAVE_HDR + 56(%rsp)
    movl    $-1, %eax                           /* save every enabled component */
    movl    $-1, %edx
    xsave64 (%rsp)
    movq    %rbp, %rdi                          /* the GPR block: errno's address may move */
    CALL_C(gort_async_preempt_park)             /* park; back when rescheduled */
    xorl    %ecx, %ecx                          /* restore only what this thread */
    xgetbv                                      /* has enabled (darwin enables */
    andl    %eax, PF_XSTATE_BV(%rsp)            /* AVX-512 per thread): XSTATE_BV */
    andl    %edx, PF_XSTATE_BV + 4(%rsp)        /* &= XCR0 */
    movl    $-1, %eax
    movl    $-1, %edx
    xrstor64 (%rsp)
    jmp     3f
2:  subq    $PF_FXSAVE_SIZE, %rsp
    fxsave64 (%rsp)                             /* x87, MXCSR, xmm0-15 */
    movq    %rbp, %rdi
    CALL_C(gort_async_preempt_park)
    fxrstor64 (%rsp)
3:  movq    %rbp, %rsp                          /* back to the GPR block */
    .cfi_def_cfa rsp, PF_CFA + PF_GPR_BYTES
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rbp
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rbx
    popq    %rax
    .cfi_def_cfa_offset PF_CFA + 8
    popfq                                       /* flags last: nothing changes them after */
    .cfi_def_cfa_offset PF_CFA
    ret     $PF_RED_ZONE                        /* to the interrupted instruction,
                                                   dropping the red zone skip too */
    .cfi_endproc
GORT_END(gort_async_preempt)

GORT_NOEXECSTACK
