/*
 * text.h — where the runtime's code lives, so a signal can tell it apart.
 *
 * Asynchronous preemption may stop a goroutine only in user code: never
 * inside the runtime, whose code keeps the M and P it runs on in registers
 * between instructions (runtime/HACKING.md, hazard 4).  The SIGURG handler decides by
 * the interrupted pc alone, so every runtime function — C and assembly —
 * is placed in one section, gort_text, whose bounds the OS layer finds at
 * start-up (runtime/os/<os>/text.c).  Inlined copies and compiler clones
 * of a function stay in its section.
 *
 * Rule: every function defined under runtime/ starts with GORT_RUNTIME_TEXT.
 * //tests:text_section_test fails the build of any object that puts a
 * function anywhere else.
 */
#ifndef GORT_TEXT_H
#define GORT_TEXT_H

#if defined(__APPLE__)
#define GORT_RUNTIME_TEXT __attribute__((section("__TEXT,__gort_text,regular,pure_instructions")))
#else
#define GORT_RUNTIME_TEXT __attribute__((section("gort_text")))
#endif

#endif /* GORT_TEXT_H */
