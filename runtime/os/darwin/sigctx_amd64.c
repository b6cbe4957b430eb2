/*
 * sigctx_amd64.c — darwin/amd64 signal context accessors (os.h), per
 * <sys/_types/_ucontext.h> and <i386/_mcontext.h>: uc_mcontext points to
 * the thread state (__ss) the kernel restores on sigreturn.
 */
#if defined(__x86_64__)
#include <sys/ucontext.h>

#include "runtime/os/os.h"

#define SS(c) (((ucontext_t *)(c))->uc_mcontext->__ss)

GORT_NOPREEMPT uintptr_t gort_sigctx_pc(const gort_sigctx *c) { return (uintptr_t)SS(c).__rip; }
GORT_NOPREEMPT uintptr_t gort_sigctx_sp(const gort_sigctx *c) { return (uintptr_t)SS(c).__rsp; }
GORT_NOPREEMPT void gort_sigctx_set_pc(gort_sigctx *c, uintptr_t pc) { SS(c).__rip = pc; }
GORT_NOPREEMPT void gort_sigctx_set_sp(gort_sigctx *c, uintptr_t sp) { SS(c).__rsp = sp; }
#endif
