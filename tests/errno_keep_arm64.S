/*
 * errno_keep_arm64.S — for hooks_test: errno_keep_amd64.S, with x19.
 *
 * int *gort_test_read_keeping_errno(int fd, void *buf, size_t n)
 *   x19 = __errno_location(); read(fd, buf, n); return x19.
 */
    .text
    .globl  gort_test_read_keeping_errno
    .type   gort_test_read_keeping_errno, %function
gort_test_read_keeping_errno:
    stp     x29, x30, [sp, -48]!
    mov     x29, sp
    stp     x19, x20, [sp, 16]
    stp     x0, x1, [sp, 32]
    mov     x20, x2
    bl      __errno_location
    mov     x19, x0
    ldp     x0, x1, [sp, 32]
    mov     x2, x20
    bl      read
    mov     x0, x19
    ldp     x19, x20, [sp, 16]
    ldp     x29, x30, [sp], 48
    ret
    .size   gort_test_read_keeping_errno, . - gort_test_read_keeping_errno
    .section .note.GNU-stack, "", %progbits
