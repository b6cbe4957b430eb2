/*
 * context.c — builds the first switch frame of a new arm64 context.
 * Layout: frame.h.
 */
#include <stdint.h>
#include <string.h>

#include "runtime/arch/arch.h"
#include "runtime/arch/arm64/frame.h"

_Static_assert(offsetof(gort_ctx, sp) == 0, "context.S loads the sp at offset 0");
_Static_assert(FRAME_SIZE % 16 == 0, "sp must stay 16-byte aligned");
_Static_assert(FRAME_X30 == FRAME_X29 + 8, "x29/x30 are stored as a pair");
_Static_assert(FRAME_X29 == FRAME_X19 + 80, "x19..x30 are stored in order (gort_ctx_regs)");

GORT_RUNTIME_TEXT void gort_ctx_entry(void); /* context.S */

GORT_RUNTIME_TEXT static void put64(unsigned char *sp, int off, uint64_t v) { memcpy(sp + off, &v, sizeof v); }

GORT_RUNTIME_TEXT void gort_ctx_init(gort_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    unsigned char *sp = (unsigned char *)(top - FRAME_SIZE);
    memset(sp, 0, FRAME_SIZE);
    put64(sp, FRAME_X19, (uint64_t)(uintptr_t)entry);
    put64(sp, FRAME_X19 + 8, (uint64_t)(uintptr_t)arg);
    put64(sp, FRAME_X30, (uint64_t)(uintptr_t)&gort_ctx_entry);
    put64(sp, FRAME_FPCR, FPCR_DEFAULT);
    c->sp = sp;
}

/* The frame gort_ctx_swap stored, read back: it returns through x30 with
 * sp just above the frame. */
GORT_RUNTIME_TEXT void gort_ctx_regs(const gort_ctx *c, gort_regs *out) {
    const unsigned char *sp = c->sp;
    memset(out, 0, sizeof *out);
    for (int i = 19; i <= 30; i++) {
        uint64_t v;
        memcpy(&v, sp + FRAME_X19 + 8 * (i - 19), sizeof v);
        out->r[i] = (uintptr_t)v;
    }
    out->r[GORT_REG_PC] = out->r[30];
    out->r[GORT_REG_SP] = (uintptr_t)sp + FRAME_SIZE;
}
