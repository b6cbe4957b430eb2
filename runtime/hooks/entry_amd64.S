/*
 * entry_amd64.S — the entry of each hook that may park (entries.h).
 *
 * A hook can return on another thread than it was called on (its
 * goroutine parked and resumed elsewhere).  The caller may keep errno's
 * address (__errno_location is declared const, so compilers reuse it
 * across calls) in a callee-saved register; it would then read the first
 * thread's errno.  So the entry saves the callee-saved registers itself,
 * runs the C body, and if the thread changed, sets every saved register
 * equal to the first thread's errno address to the current thread's
 * before restoring them: the same rule as async preemption's
 * (arch/amd64/preempt.c).  An address the caller spilled to its stack is
 * not found (runtime/HACKING.md hazard 5).
 *
 * NAME:   r11 = hook_NAME; jump to hook_entry.
 * Frame of hook_entry, from rbp (after push rbp; mov rsp, rbp):
 */
#define SAVED_RBP 0     /* the caller's rbp, pushed first */
#define SAVED_RBX -8
#define SAVED_R12 -16
#define SAVED_R13 -24
#define SAVED_R14 -32
#define SAVED_R15 -40
#define ERRNO_AT -48    /* __errno_location() when called */
#define BODY -56        /* hook_NAME */
#define ARG0 -64        /* rdi, rsi, rdx, rcx, r8, r9 while errno's address is taken */
#define RESULT -112
#define LOCALS 72       /* below the five pushes: 9 slots, rsp 16-aligned at calls */

#include "runtime/hooks/entries.h"

    .text

#define ENTRY(name)                                                     \
    .globl name; .type name, @function; .p2align 4; name:              \
    lea hook_##name(%rip), %r11; jmp hook_entry;                        \
    .size name, . - name;
HOOK_ENTRIES(ENTRY)

/* Set the saved register at off(%rbp) to rax if it is rcx. */
#define MOVE_IF_ERRNO(off) \
    cmp %rcx, off(%rbp); jne 1f; mov %rax, off(%rbp); 1:

    .type hook_entry, @function
    .p2align 4
hook_entry:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $LOCALS, %rsp
    mov %r11, BODY(%rbp)
    mov %rdi, ARG0(%rbp)
    mov %rsi, ARG0-8(%rbp)
    mov %rdx, ARG0-16(%rbp)
    mov %rcx, ARG0-24(%rbp)
    mov %r8, ARG0-32(%rbp)
    mov %r9, ARG0-40(%rbp)
    call *__errno_location@GOTPCREL(%rip)
    mov %rax, ERRNO_AT(%rbp)
    mov ARG0(%rbp), %rdi
    mov ARG0-8(%rbp), %rsi
    mov ARG0-16(%rbp), %rdx
    mov ARG0-24(%rbp), %rcx
    mov ARG0-32(%rbp), %r8
    mov ARG0-40(%rbp), %r9
    call *BODY(%rbp)
    mov %rax, RESULT(%rbp)
    call *__errno_location@GOTPCREL(%rip)   /* rax: errno's address now */
    mov ERRNO_AT(%rbp), %rcx                 /* rcx: when called */
    cmp %rax, %rcx
    je 2f
    MOVE_IF_ERRNO(SAVED_RBP)
    MOVE_IF_ERRNO(SAVED_RBX)
    MOVE_IF_ERRNO(SAVED_R12)
    MOVE_IF_ERRNO(SAVED_R13)
    MOVE_IF_ERRNO(SAVED_R14)
    MOVE_IF_ERRNO(SAVED_R15)
2:
    mov RESULT(%rbp), %rax
    mov SAVED_RBX(%rbp), %rbx
    mov SAVED_R12(%rbp), %r12
    mov SAVED_R13(%rbp), %r13
    mov SAVED_R14(%rbp), %r14
    mov SAVED_R15(%rbp), %r15
    leave
    ret
    .size hook_entry, . - hook_entry

    .section .note.GNU-stack, "", @progbits
