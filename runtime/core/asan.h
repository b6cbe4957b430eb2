/*
 * asan.h — telling AddressSanitizer about goroutine stack switches.
 *
 * ASan keeps per-thread knowledge of "the current stack" (for its fake
 * stacks and for __asan_handle_no_return); a switch it does not know of
 * makes it report errors that are not there.  Every switch between a
 * goroutine and g0 is bracketed, as the sanitizer interface asks:
 *
 *   asan_leave(&save, bottom, size)   just before the switch, naming the
 *                                     stack about to run (save: NULL when
 *                                     the current stack is dying)
 *   asan_arrive(save)                 first thing after it, on that stack
 *   asan_unpoison(lo, size)           a stack about to be used by a new
 *                                     goroutine (proc.c g_start)
 *
 * A goroutine that exits leaves its last frames (g_main's, mcall's) on its
 * stack with their redzones poisoned, and gcc's prologues write only a
 * frame's redzones' shadow, not its variables': the next goroutine on the
 * reused stack would find stale poison under its ordinary locals (false
 * stack-buffer-overflow and unknown-crash reports, and ASan's CHECK on a
 * frame it cannot describe).  So g_start unpoisons the whole usable stack
 * before the first frame goes on it, as a new thread's stack is clean.
 * Fake frames (detect_stack_use_after_return) belong to the fiber, not the
 * stack: the exit's switch passes NULL as the save, and ASan frees them.
 *
 * GORT_NO_ASAN marks a function that reads another goroutine's stack
 * (traceback.c's scan of a blocked thread's): its redzones are poisoned.
 *
 * Without -fsanitize=address all three are empty.
 */
#ifndef GORT_CORE_ASAN_H
#define GORT_CORE_ASAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define asan_leave(save, bottom, size) __sanitizer_start_switch_fiber((save), (bottom), (size))
#define asan_arrive(save) __sanitizer_finish_switch_fiber((save), NULL, NULL)
#define asan_unpoison(lo, size) __asan_unpoison_memory_region((lo), (size))
#define GORT_NO_ASAN __attribute__((no_sanitize_address))
#else
#define asan_leave(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define asan_arrive(save) ((void)(save))
#define asan_unpoison(lo, size) ((void)(lo), (void)(size))
#define GORT_NO_ASAN
#endif

#endif /* GORT_CORE_ASAN_H */
