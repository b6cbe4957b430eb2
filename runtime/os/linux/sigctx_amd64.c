/*
 * sigctx_amd64.c — linux/amd64 signal context accessors (os.h): the only
 * code that knows where glibc's ucontext_t keeps the registers.
 */
#if defined(__x86_64__)
#include <ucontext.h>

#include "runtime/os/os.h"

#define UC(c) ((ucontext_t *)(c))

GORT_NOPREEMPT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)UC(c)->uc_mcontext.gregs[REG_RIP]; }
GORT_NOPREEMPT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)UC(c)->uc_mcontext.gregs[REG_RSP]; }
GORT_NOPREEMPT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { UC(c)->uc_mcontext.gregs[REG_RIP] = (greg_t)pc; }
GORT_NOPREEMPT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { UC(c)->uc_mcontext.gregs[REG_RSP] = (greg_t)sp; }
#endif
