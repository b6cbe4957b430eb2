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

GORT_NOPREEMPT void gort_ctx_entry(void); /* context.S */

GORT_NOPREEMPT void gort_ctx_init(gort_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
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
