/*
 * regs_amd64.S — for preempt_test: fill every general and vector register
 * with known values, spin, then report what each register holds.
 *
 * void gort_test_regs_spin(const uint64_t in[47], uint64_t iters, uint64_t out[47])
 *   in/out: rax rbx rcx rdx rsi rdi rbp r8..r15 (15 words), xmm0..xmm15
 *   (2 words each).  The loop counter lives in memory, so no register is
 *   spared; rsp is the only one not checked.
 */
#if defined(__x86_64__)
    .text
    .globl  gort_test_regs_spin
    .type   gort_test_regs_spin, @function
gort_test_regs_spin:
    pushq   %rbx                        /* callee-saved registers we fill */
    pushq   %rbp
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $(16 + 47 * 8 + 8), %rsp    /* [0] out, [8] counter, [16..] spill */
    movq    %rdx, 0(%rsp)
    movq    %rsi, 8(%rsp)
    movdqu  120(%rdi), %xmm0            /* vector registers first */
    movdqu  136(%rdi), %xmm1
    movdqu  152(%rdi), %xmm2
    movdqu  168(%rdi), %xmm3
    movdqu  184(%rdi), %xmm4
    movdqu  200(%rdi), %xmm5
    movdqu  216(%rdi), %xmm6
    movdqu  232(%rdi), %xmm7
    movdqu  248(%rdi), %xmm8
    movdqu  264(%rdi), %xmm9
    movdqu  280(%rdi), %xmm10
    movdqu  296(%rdi), %xmm11
    movdqu  312(%rdi), %xmm12
    movdqu  328(%rdi), %xmm13
    movdqu  344(%rdi), %xmm14
    movdqu  360(%rdi), %xmm15
    movq    0(%rdi), %rax               /* then the GPRs, rdi last */
    movq    8(%rdi), %rbx
    movq    16(%rdi), %rcx
    movq    24(%rdi), %rdx
    movq    32(%rdi), %rsi
    movq    48(%rdi), %rbp
    movq    56(%rdi), %r8
    movq    64(%rdi), %r9
    movq    72(%rdi), %r10
    movq    80(%rdi), %r11
    movq    88(%rdi), %r12
    movq    96(%rdi), %r13
    movq    104(%rdi), %r14
    movq    112(%rdi), %r15
    movq    40(%rdi), %rdi
1:  decq    8(%rsp)                     /* spin: preempted here, many times */
    jnz     1b
    movq    %rax, 16(%rsp)              /* spill everything */
    movq    %rbx, 24(%rsp)
    movq    %rcx, 32(%rsp)
    movq    %rdx, 40(%rsp)
    movq    %rsi, 48(%rsp)
    movq    %rdi, 56(%rsp)
    movq    %rbp, 64(%rsp)
    movq    %r8, 72(%rsp)
    movq    %r9, 80(%rsp)
    movq    %r10, 88(%rsp)
    movq    %r11, 96(%rsp)
    movq    %r12, 104(%rsp)
    movq    %r13, 112(%rsp)
    movq    %r14, 120(%rsp)
    movq    %r15, 128(%rsp)
    movdqu  %xmm0, 136(%rsp)
    movdqu  %xmm1, 152(%rsp)
    movdqu  %xmm2, 168(%rsp)
    movdqu  %xmm3, 184(%rsp)
    movdqu  %xmm4, 200(%rsp)
    movdqu  %xmm5, 216(%rsp)
    movdqu  %xmm6, 232(%rsp)
    movdqu  %xmm7, 248(%rsp)
    movdqu  %xmm8, 264(%rsp)
    movdqu  %xmm9, 280(%rsp)
    movdqu  %xmm10, 296(%rsp)
    movdqu  %xmm11, 312(%rsp)
    movdqu  %xmm12, 328(%rsp)
    movdqu  %xmm13, 344(%rsp)
    movdqu  %xmm14, 360(%rsp)
    movdqu  %xmm15, 376(%rsp)
    movq    0(%rsp), %rdi               /* copy the spill to out */
    leaq    16(%rsp), %rsi
    movl    $47, %ecx
    rep movsq
    addq    $(16 + 47 * 8 + 8), %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbp
    popq    %rbx
    ret
    .size   gort_test_regs_spin, . - gort_test_regs_spin
#endif
    .section .note.GNU-stack, "", %progbits
