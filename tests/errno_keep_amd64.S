/*
 * errno_keep_amd64.S — for hooks_test: a caller that keeps errno's address
 * in a callee-saved register across a hooked call, as a compiler may
 * (__errno_location is const).
 *
 * int *gort_test_read_keeping_errno(int fd, void *buf, size_t n)
 *   rbx = __errno_location(); read(fd, buf, n); return rbx.
 */
    .text
    .globl  gort_test_read_keeping_errno
    .type   gort_test_read_keeping_errno, @function
gort_test_read_keeping_errno:
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    subq    $8, %rsp        /* rsp 16-aligned at the calls */
    movq    %rdi, %r12
    movq    %rsi, %r13
    movq    %rdx, %r14
    call    *__errno_location@GOTPCREL(%rip)
    movq    %rax, %rbx
    movq    %r12, %rdi
    movq    %r13, %rsi
    movq    %r14, %rdx
    call    *read@GOTPCREL(%rip)
    movq    %rbx, %rax
    addq    $8, %rsp
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    ret
    .size   gort_test_read_keeping_errno, . - gort_test_read_keeping_errno
    .section .note.GNU-stack, "", @progbits
