/*
 * frame.h — the amd64 switch frame, shared by context.S and context.c.
 *
 * gort_ctx_swap pushes this frame on the running stack and stores %rsp in
 * the context; resuming pops it and returns through RIP.  SysV amd64
 * callee-saved state: rbx, rbp, r12-r15, and the control bits of MXCSR and
 * the x87 control word.
 *
 *   sp+0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes unused
 *   sp+8   r15
 *   sp+16  r14
 *   sp+24  r13     new context: the argument of entry
 *   sp+32  r12     new context: entry
 *   sp+40  rbx
 *   sp+48  rbp     new context: 0 (ends frame-pointer backtraces)
 *   sp+56  return address   new context: gort_ctx_entry
 *   sp+64  (caller's frame)
 */
#ifndef GORT_AMD64_FRAME_H
#define GORT_AMD64_FRAME_H

#define FRAME_FPCTL 0
#define FRAME_X87CW 4
#define FRAME_R15 8
#define FRAME_R14 16
#define FRAME_R13 24
#define FRAME_R12 32
#define FRAME_RBX 40
#define FRAME_RBP 48
#define FRAME_RET 56
#define FRAME_SIZE 64 /* includes the return address */

#define MXCSR_DEFAULT 0x1F80 /* all exceptions masked, round to nearest */
#define X87CW_DEFAULT 0x037F /* all exceptions masked, 64-bit precision */

/*
 * The async-preemption frame, shared by preempt.S and preempt.c, from the
 * interrupted rsp down.  gort_arch_preempt_inject skips the red zone and
 * pushes the interrupted rip as a return address; the trampoline pushes
 * the flags and the 15 general registers (the GPR block, which rbp then
 * points to), aligns rsp down to 64 and puts the XSAVE area below (or an
 * FXSAVE area without XSAVE):
 *
 *   rsp0                    the interrupted rsp
 *   rsp0 - PF_RED_ZONE      the red zone, untouched
 *   rsp0 - PF_CFA           return address = the interrupted rip (the
 *                           trampoline's entry rsp: its CFA is rsp + PF_CFA)
 *   entry - PF_GPR_BYTES    rflags, rax rbx rcx rdx rsi rdi rbp r8 ... r15
 *                           (rbp points at r15, the last push)
 *   ... PF_ALIGN ...        padding
 *   rsp at the call         XSAVE area (gort_amd64_xsave_size bytes, its
 *                           header at +PF_XSAVE_HDR: XSTATE_BV first), or
 *                           PF_FXSAVE_SIZE bytes of FXSAVE
 */
#define PF_RED_ZONE 128                  /* SysV, linux and darwin alike */
#define PF_RET 8                         /* the pushed return address   */
#define PF_CFA (PF_RED_ZONE + PF_RET)    /* 136                         */
#define PF_NGPRS 16                      /* rflags and 15 registers     */
#define PF_GPR_BYTES (PF_NGPRS * 8)
#define PF_ALIGN 64                      /* XSAVE's alignment           */
#define PF_FXSAVE_SIZE 512
#define PF_XSAVE_HDR 512                 /* the XSAVE header: 64 bytes,  */
#define PF_XSAVE_HDR_SIZE 64             /* which must start as zero    */
#define PF_XSTATE_BV PF_XSAVE_HDR        /* its first 8 bytes           */

#endif
