/*
 * sigctx_amd64.c — linux/amd64 signal context accessors (os.h): the only
 * code that knows where glibc's ucontext_t keeps the registers.
 */
#if defined(__x86_64__)
#include <ucontext.h>

#include "runtime/os/os.h"

#define UC(c) ((ucontext_t *)(c))
#define GREG(c, r) (UC(c)->uc_mcontext.gregs[r])

GORT_RUNTIME_TEXT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)GREG(c, REG_RIP); }
GORT_RUNTIME_TEXT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)GREG(c, REG_RSP); }
GORT_RUNTIME_TEXT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { GREG(c, REG_RIP) = (greg_t)pc; }
GORT_RUNTIME_TEXT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { GREG(c, REG_RSP) = (greg_t)sp; }

GORT_RUNTIME_TEXT void gort_sigctx_regs(const gort_sigctx *c, gort_regs *out) {
    /* glibc's gregs index for each DWARF register number */
    static const int greg[GORT_NREGS] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
                                         REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                         REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
    for (int i = 0; i < GORT_NREGS; i++) out->r[i] = (uintptr_t)UC(c)->uc_mcontext.gregs[greg[i]];
    out->pc_exact = true;
}
#endif
