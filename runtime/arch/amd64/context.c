/*
 * context.c — builds the first switch frame of a new amd64 context.
 * Layout: frame.h.
 */
#include <stdint.h>
#include <string.h>

#include "runtime/arch/amd64/frame.h"
#include "runtime/arch/arch.h"

_Static_assert(offsetof(gort_ctx, sp) == 0, "context.S loads the sp at offset 0");
_Static_assert(FRAME_SIZE % 16 == 0, "frame keeps the stack 16-byte aligned");

GORT_RUNTIME_TEXT void gort_ctx_entry(void); /* context.S */

GORT_RUNTIME_TEXT void gort_ctx_init(gort_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    unsigned char *sp = (unsigned char *)(top - FRAME_SIZE);
    uint32_t mxcsr = MXCSR_DEFAULT;
    uint16_t x87cw = X87CW_DEFAULT;
    uint64_t word;

    memset(sp, 0, FRAME_SIZE);
    memcpy(sp + FRAME_FPCTL, &mxcsr, sizeof mxcsr);
    memcpy(sp + FRAME_X87CW, &x87cw, sizeof x87cw);
    word = (uint64_t)(uintptr_t)arg;
    memcpy(sp + FRAME_R13, &word, sizeof word);
    word = (uint64_t)(uintptr_t)entry;
    memcpy(sp + FRAME_R12, &word, sizeof word);
    word = (uint64_t)(uintptr_t)&gort_ctx_entry;
    memcpy(sp + FRAME_RET, &word, sizeof word);
    c->sp = sp;
}

GORT_RUNTIME_TEXT static uintptr_t get64(const unsigned char *sp, int off) {
    uint64_t v;
    memcpy(&v, sp + off, sizeof v);
    return (uintptr_t)v;
}

/* The frame gort_ctx_swap pushed, read back: rip is its return address
 * and rsp where that return leaves the stack. */
GORT_RUNTIME_TEXT void gort_ctx_regs(const gort_ctx *c, gort_regs *out) {
    const unsigned char *sp = c->sp;
    memset(out, 0, sizeof *out);
    out->r[3] = get64(sp, FRAME_RBX);
    out->r[6] = get64(sp, FRAME_RBP);
    out->r[12] = get64(sp, FRAME_R12);
    out->r[13] = get64(sp, FRAME_R13);
    out->r[14] = get64(sp, FRAME_R14);
    out->r[15] = get64(sp, FRAME_R15);
    out->r[GORT_REG_PC] = get64(sp, FRAME_RET);
    out->r[GORT_REG_SP] = (uintptr_t)sp + FRAME_SIZE;
}
