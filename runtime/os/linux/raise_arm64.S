/*
 * raise_arm64.S — linux/arm64: the async-preemption trampoline's last step
 * (os.h gort_os_preempt_raise_self).  tgkill(getpid(), gettid(), SIGURG)
 * by raw system calls: unlike a libc call they leave every vector register
 * as the trampoline restored it, and touch only x0-x2, x8 and x9 (already
 * saved in the trampoline's frame).  The signal arrives as the tgkill
 * returns, at gort_os_preempt_resume_pc, where the thread waits until the
 * handler resumes the interrupted code from the frame.
 */
#if defined(__aarch64__)
#include <asm/unistd.h> /* __NR_getpid, __NR_gettid, __NR_tgkill */

#include "runtime/arch/asm.h"

#define SIGURG_NR 23 /* <signal.h>'s SIGURG: checked in sigctx_arm64.c */

GORT_TEXT

GORT_FUNC(gort_os_preempt_raise_self)
    .cfi_startproc
    mov     x8, #__NR_getpid
    svc     #0
    mov     x9, x0                              /* the process */
    mov     x8, #__NR_gettid
    svc     #0
    mov     x1, x0                              /* this thread */
    mov     x0, x9
    mov     x2, #SIGURG_NR
    mov     x8, #__NR_tgkill
    svc     #0
GORT_LABEL(gort_os_preempt_resume_pc)           /* the signal lands here ... */
    b       GORT_SYM(gort_os_preempt_resume_pc) /* ... and the handler leaves */
    .cfi_endproc
GORT_END(gort_os_preempt_raise_self)

GORT_NOEXECSTACK
#endif
