/*
 * entry_arm64.S — the entry of each hook that may park (entries.h); why:
 * entry_amd64.S.  Callee-saved here: x19-x28 and the frame pointer x29.
 *
 * NAME:   x16 = hook_NAME; branch to hook_entry.
 * Frame of hook_entry, from sp (x29 = sp):
 */
#define SAVED_FP 0      /* x29, x30 */
#define SAVED_X19 16    /* x19 .. x28, in pairs, to 88 */
#define ARGS 96         /* x0 .. x7 while errno's address is taken, to 152 */
#define RESULT ARGS
#define BODY 160        /* hook_NAME */
#define ERRNO_AT 168    /* __errno_location() when called */
#define FRAME 176

#include "runtime/hooks/entries.h"

    .text

#define ENTRY(name)                                                     \
    .globl name; .type name, %function; .p2align 4; name:              \
    adrp x16, hook_##name; add x16, x16, :lo12:hook_##name; b hook_entry; \
    .size name, . - name;
HOOK_ENTRIES(ENTRY)

/* Set the saved register at [sp, off] to x0 if it is x1. */
#define MOVE_IF_ERRNO(off) \
    ldr x2, [sp, off]; cmp x2, x1; b.ne 1f; str x0, [sp, off]; 1:

    .type hook_entry, %function
    .p2align 4
hook_entry:
    stp x29, x30, [sp, -FRAME]!
    mov x29, sp
    stp x19, x20, [sp, SAVED_X19]
    stp x21, x22, [sp, SAVED_X19 + 16]
    stp x23, x24, [sp, SAVED_X19 + 32]
    stp x25, x26, [sp, SAVED_X19 + 48]
    stp x27, x28, [sp, SAVED_X19 + 64]
    stp x0, x1, [sp, ARGS]
    stp x2, x3, [sp, ARGS + 16]
    stp x4, x5, [sp, ARGS + 32]
    stp x6, x7, [sp, ARGS + 48]
    str x16, [sp, BODY]
    bl __errno_location
    str x0, [sp, ERRNO_AT]
    ldp x0, x1, [sp, ARGS]
    ldp x2, x3, [sp, ARGS + 16]
    ldp x4, x5, [sp, ARGS + 32]
    ldp x6, x7, [sp, ARGS + 48]
    ldr x16, [sp, BODY]
    blr x16
    str x0, [sp, RESULT]
    bl __errno_location          /* x0: errno's address now */
    ldr x1, [sp, ERRNO_AT]       /* x1: when called */
    cmp x0, x1
    b.eq 2f
    MOVE_IF_ERRNO(SAVED_FP)
    MOVE_IF_ERRNO(SAVED_X19)
    MOVE_IF_ERRNO(SAVED_X19 + 8)
    MOVE_IF_ERRNO(SAVED_X19 + 16)
    MOVE_IF_ERRNO(SAVED_X19 + 24)
    MOVE_IF_ERRNO(SAVED_X19 + 32)
    MOVE_IF_ERRNO(SAVED_X19 + 40)
    MOVE_IF_ERRNO(SAVED_X19 + 48)
    MOVE_IF_ERRNO(SAVED_X19 + 56)
    MOVE_IF_ERRNO(SAVED_X19 + 64)
    MOVE_IF_ERRNO(SAVED_X19 + 72)
2:
    ldr x0, [sp, RESULT]
    ldp x19, x20, [sp, SAVED_X19]
    ldp x21, x22, [sp, SAVED_X19 + 16]
    ldp x23, x24, [sp, SAVED_X19 + 32]
    ldp x25, x26, [sp, SAVED_X19 + 48]
    ldp x27, x28, [sp, SAVED_X19 + 64]
    ldp x29, x30, [sp], FRAME
    ret
    .size hook_entry, . - hook_entry

    .section .note.GNU-stack, "", %progbits
