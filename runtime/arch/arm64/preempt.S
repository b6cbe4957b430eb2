/*
 * preempt.S — the arm64 async-preemption trampoline (AAPCS64; ELF and
 * Mach-O).  Contract: ../arch.h; frame layout: frame.h (PF_*).
 *
 * Entered from a signal context that gort_arch_preempt_inject edited as if
 * the interrupted instruction had called us: x30 holds the interrupted pc,
 * and the interrupted x30 sits in the 16 bytes just above sp.
 *
 * Saving is ordinary.  Returning is not: every general register may be live
 * at the interrupted pc (x16/x17 as temporaries, x18 too on linux), so no
 * register is left to jump through.  The trampoline therefore restores the
 * FP state itself, then raises SIGURG at its own thread; the handler
 * (gort_arch_preempt_resume) loads x0-x30, sp, pc and NZCV from this frame
 * into the signal context, and the kernel's sigreturn restores them all at
 * once.
 */
#include "runtime/arch/asm.h"
#include "runtime/arch/arm64/frame.h"

#define CALL_C(name) bl GORT_SYM(name)

GORT_TEXT

GORT_FUNC(gort_async_preempt)
    .cfi_startproc
    .cfi_def_cfa sp, PF_PUSHED + PF_RED_ZONE    /* the caller's sp, before the inject */
    sub     sp, sp, #PF_SIZE
    .cfi_adjust_cfa_offset PF_SIZE
    stp     x0, x1, [sp, #0]                    /* every general register */
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #PF_PC]                   /* x30 = the interrupted pc */
    mrs     x0, nzcv                            /* condition flags */
    str     x0, [sp, #PF_NZCV]
    mrs     x0, fpsr                            /* FP status and control */
    mrs     x1, fpcr
    stp     x0, x1, [sp, #PF_FPSR]
    add     x0, sp, #PF_Q                       /* all 32 vector registers */
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    add     x29, sp, #PF_X29                    /* frame record {x29, pc} */
    .cfi_def_cfa x29, PF_SIZE - PF_X29 + PF_PUSHED + PF_RED_ZONE
    .cfi_offset x29, -(PF_SIZE - PF_X29 + PF_PUSHED + PF_RED_ZONE)
    .cfi_offset x30, -(PF_SIZE - PF_PC + PF_PUSHED + PF_RED_ZONE)
    mov     x0, sp                              /* the frame: errno's address may move */
    CALL_C(gort_async_preempt_park)             /* park; back when rescheduled */
    mov     x0, sp
    CALL_C(gort_async_preempt_resuming)         /* the handler will find the frame */
    ldp     x0, x1, [sp, #PF_FPSR]              /* FP state back now */
    msr     fpsr, x0
    msr     fpcr, x1
    add     x0, sp, #PF_Q
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    /* The OS layer raises SIGURG at this thread (os.h); the handler
     * resumes the interrupted code from the signal, so this never returns. */
    CALL_C(gort_os_preempt_raise_self)
1:  b       1b
    .cfi_endproc
GORT_END(gort_async_preempt)

GORT_NOEXECSTACK
