/*
 * sigctx_amd64.c — darwin/amd64 signal context accessors (os.h), per
 * <sys/_types/_ucontext.h> and <i386/_mcontext.h>: uc_mcontext points to
 * the thread state (__ss) the kernel restores on sigreturn.
 */
#if defined(__x86_64__)
#include <sys/ucontext.h>

#include "runtime/os/os.h"

#define SS(c) (((ucontext_t *)(c))->uc_mcontext->__ss)

GORT_RUNTIME_TEXT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)SS(c).__rip; }
GORT_RUNTIME_TEXT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)SS(c).__rsp; }
GORT_RUNTIME_TEXT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { SS(c).__rip = pc; }
GORT_RUNTIME_TEXT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { SS(c).__rsp = sp; }

GORT_RUNTIME_TEXT void gort_sigctx_regs(const gort_sigctx *c, gort_regs *out) {
    const uint64_t v[GORT_NREGS] = {SS(c).__rax, SS(c).__rdx, SS(c).__rcx, SS(c).__rbx, SS(c).__rsi, SS(c).__rdi,
                                    SS(c).__rbp, SS(c).__rsp, SS(c).__r8,  SS(c).__r9,  SS(c).__r10, SS(c).__r11,
                                    SS(c).__r12, SS(c).__r13, SS(c).__r14, SS(c).__r15, SS(c).__rip};
    for (int i = 0; i < GORT_NREGS; i++) out->r[i] = (uintptr_t)v[i];
    out->pc_exact = true;
}
#endif
