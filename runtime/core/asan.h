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
 *
 * Without -fsanitize=address both are empty.
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
#include <sanitizer/common_interface_defs.h>
#define asan_leave(save, bottom, size) __sanitizer_start_switch_fiber((save), (bottom), (size))
#define asan_arrive(save) __sanitizer_finish_switch_fiber((save), NULL, NULL)
#else
#define asan_leave(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define asan_arrive(save) ((void)(save))
#endif

#endif /* GORT_CORE_ASAN_H */
