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

#endif
