/*
 * regs_arm64.S — for preempt_test: fill every general and vector register
 * with known values, spin, then report what each register holds.
 *
 * void gort_test_regs_spin_x9(const uint64_t in[95], uint64_t iters, uint64_t out[95])
 * void gort_test_regs_spin_x10(...)
 *   in/out: x0..x30 (31 words; x16-x18 included), q0..q31 (2 words each).
 *   arm64 cannot count in memory, so one register is the loop counter: x9
 *   in the first function, x10 in the second; together they check all 31.
 */
#if defined(__aarch64__)
.macro REGS_SPIN name, ctr
    .text
    .globl  \name
    .type   \name, %function
    .p2align 4
\name:
    stp     x29, x30, [sp, #-96]!       /* callee-saved registers we fill */
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    sub     sp, sp, #784                /* [0] out, [8] iters, [16..] spill */
    str     x2, [sp, #0]
    str     x1, [sp, #8]
    add     x9, x0, #248                /* vector registers first */
    ldp     q0, q1, [x9, #0]
    ldp     q2, q3, [x9, #32]
    ldp     q4, q5, [x9, #64]
    ldp     q6, q7, [x9, #96]
    ldp     q8, q9, [x9, #128]
    ldp     q10, q11, [x9, #160]
    ldp     q12, q13, [x9, #192]
    ldp     q14, q15, [x9, #224]
    ldp     q16, q17, [x9, #256]
    ldp     q18, q19, [x9, #288]
    ldp     q20, q21, [x9, #320]
    ldp     q22, q23, [x9, #352]
    ldp     q24, q25, [x9, #384]
    ldp     q26, q27, [x9, #416]
    ldp     q28, q29, [x9, #448]
    ldp     q30, q31, [x9, #480]
    ldp     x1, x2, [x0, #8]            /* then the GPRs, x0 last */
    ldp     x3, x4, [x0, #24]
    ldp     x5, x6, [x0, #40]
    ldp     x7, x8, [x0, #56]
    ldp     x9, x10, [x0, #72]
    ldp     x11, x12, [x0, #88]
    ldp     x13, x14, [x0, #104]
    ldp     x15, x16, [x0, #120]
    ldp     x17, x18, [x0, #136]
    ldp     x19, x20, [x0, #152]
    ldp     x21, x22, [x0, #168]
    ldp     x23, x24, [x0, #184]
    ldp     x25, x26, [x0, #200]
    ldp     x27, x28, [x0, #216]
    ldp     x29, x30, [x0, #232]
    ldr     \ctr, [sp, #8]              /* the counter replaces its value */
    ldr     x0, [x0]
1:  subs    \ctr, \ctr, #1              /* spin: preempted here, many times */
    b.ne    1b
    stp     x0, x1, [sp, #16]           /* spill everything */
    stp     x2, x3, [sp, #32]
    stp     x4, x5, [sp, #48]
    stp     x6, x7, [sp, #64]
    stp     x8, x9, [sp, #80]
    stp     x10, x11, [sp, #96]
    stp     x12, x13, [sp, #112]
    stp     x14, x15, [sp, #128]
    stp     x16, x17, [sp, #144]
    stp     x18, x19, [sp, #160]
    stp     x20, x21, [sp, #176]
    stp     x22, x23, [sp, #192]
    stp     x24, x25, [sp, #208]
    stp     x26, x27, [sp, #224]
    stp     x28, x29, [sp, #240]
    str     x30, [sp, #256]
    stp     q0, q1, [sp, #264 + 8]      /* q spill at sp+272 (16-aligned) */
    stp     q2, q3, [sp, #304]
    stp     q4, q5, [sp, #336]
    stp     q6, q7, [sp, #368]
    stp     q8, q9, [sp, #400]
    stp     q10, q11, [sp, #432]
    stp     q12, q13, [sp, #464]
    stp     q14, q15, [sp, #496]
    stp     q16, q17, [sp, #528]
    stp     q18, q19, [sp, #560]
    stp     q20, q21, [sp, #592]
    stp     q22, q23, [sp, #624]
    stp     q24, q25, [sp, #656]
    stp     q26, q27, [sp, #688]
    stp     q28, q29, [sp, #720]
    stp     q30, q31, [sp, #752]
    ldr     x0, [sp, #0]                /* copy to out: 31 GPR words ... */
    add     x1, sp, #16
    mov     x2, #31
2:  ldr     x3, [x1], #8
    str     x3, [x0], #8
    subs    x2, x2, #1
    b.ne    2b
    add     x1, sp, #272                /* ... and 64 vector words */
    mov     x2, #64
3:  ldr     x3, [x1], #8
    str     x3, [x0], #8
    subs    x2, x2, #1
    b.ne    3b
    add     sp, sp, #784
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret
    .size   \name, . - \name
.endm

REGS_SPIN gort_test_regs_spin_x9, x9
REGS_SPIN gort_test_regs_spin_x10, x10
#endif
    .section .note.GNU-stack, "", %progbits
