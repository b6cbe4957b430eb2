/*
 * asm.h — symbol and section boilerplate shared by the .S files, so each
 * one reads the same for ELF (linux) and Mach-O (darwin).
 *
 *   GORT_TEXT          enter the runtime's text section, gort_text (text.h:
 *                      async preemption never stops a goroutine there)
 *   GORT_FUNC(name)    start a global, library-private function
 *   GORT_END(name)     end it (ELF size; nothing on Mach-O)
 *   GORT_LABEL(name)   a global, library-private label inside a function
 *                      (no alignment padding before it)
 *   GORT_NOEXECSTACK   mark the object as not needing an executable stack
 */
#ifndef GORT_ASM_H
#define GORT_ASM_H

/* Statement separator inside one macro line: Apple's arm64 assembler reads
 * ';' as a comment and separates statements with '%%'. */
#if defined(__APPLE__) && defined(__aarch64__)
#define GORT_SEP %%
#else
#define GORT_SEP ;
#endif

#if defined(__APPLE__)
#define GORT_SYM(name) _##name
#define GORT_TEXT .section __TEXT,__gort_text,regular,pure_instructions
#define GORT_FUNC(name) \
    .globl GORT_SYM(name) GORT_SEP .private_extern GORT_SYM(name) GORT_SEP .p2align 4 GORT_SEP GORT_SYM(name):
#define GORT_END(name)
#define GORT_LABEL(name) .globl GORT_SYM(name) GORT_SEP .private_extern GORT_SYM(name) GORT_SEP GORT_SYM(name):
#define GORT_NOEXECSTACK
#else
#define GORT_SYM(name) name
#define GORT_TEXT .section gort_text, "ax", %progbits
#define GORT_FUNC(name) \
    .globl name GORT_SEP .hidden name GORT_SEP .type name, %function GORT_SEP .p2align 4 GORT_SEP name:
#define GORT_END(name) .size name, . - name
#define GORT_LABEL(name) .globl name GORT_SEP .hidden name GORT_SEP name:
#define GORT_NOEXECSTACK .section .note.GNU-stack, "", %progbits
#endif

#endif /* GORT_ASM_H */
