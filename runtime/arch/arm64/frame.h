/*
 * frame.h — the arm64 switch frame, shared by context.S and context.c.
 *
 * gort_ctx_swap stores this frame below the running sp and saves sp in the
 * context; resuming loads it and returns through x30.  AAPCS64
 * callee-saved state: x19-x28, the frame pointer x29, the link register
 * x30, the low halves d8-d15 of v8-v15, and FPCR (rounding and
 * flush-to-zero modes, kept per goroutine as MXCSR is on amd64).
 * x18 is never touched: it is the platform register on darwin.
 *
 *   sp+0    x19  x20      new context: x19 = entry, x20 = its argument
 *   sp+16   x21  x22
 *   sp+32   x23  x24
 *   sp+48   x25  x26
 *   sp+64   x27  x28
 *   sp+80   x29  x30      new context: x29 = 0, x30 = gort_ctx_entry
 *   sp+96   d8   d9
 *   sp+112  d10  d11
 *   sp+128  d12  d13
 *   sp+144  d14  d15
 *   sp+160  FPCR (8 bytes), 8 bytes unused
 *   sp+176  (caller's frame)
 */
#ifndef GORT_ARM64_FRAME_H
#define GORT_ARM64_FRAME_H

#define FRAME_X19 0
#define FRAME_X21 16
#define FRAME_X23 32
#define FRAME_X25 48
#define FRAME_X27 64
#define FRAME_X29 80
#define FRAME_X30 88
#define FRAME_D8 96
#define FRAME_D10 112
#define FRAME_D12 128
#define FRAME_D14 144
#define FRAME_FPCR 160
#define FRAME_SIZE 176

#define FPCR_DEFAULT 0 /* round to nearest, no flush-to-zero, no traps */

/*
 * The async-preemption frame, shared by preempt.S and preempt.c.
 * gort_arch_preempt_inject moves sp below the red zone (darwin: 128 bytes;
 * linux: none) and pushes 16 bytes holding the interrupted x30; the
 * trampoline stores everything else below that:
 *
 *   sp+0    x0 ... x29        (x29 at PF_X29, the interrupted pc right
 *   sp+240  interrupted pc     after it: a frame record unwinders follow)
 *   sp+248  NZCV
 *   sp+256  FPSR  FPCR
 *   sp+272  q0 ... q31
 *   sp+784  interrupted x30, 8 bytes unused   (pushed by the inject)
 */
#define PF_X29 232
#define PF_PC 240
#define PF_NZCV 248
#define PF_FPSR 256
#define PF_FPCR 264
#define PF_Q 272
#define PF_SIZE 784
#define PF_PUSHED 16
#if defined(__APPLE__)
#define PF_RED_ZONE 128
#else
#define PF_RED_ZONE 0
#endif

#endif
