/*
 * atomic.h — C11 atomics for the runtime's internal headers.
 *
 * The internal headers are C11 and write atomics as _Atomic(T).  The
 * white-box tests are C++ and include them too: for C++ this maps
 * _Atomic(T) to std::atomic<T> (same size and representation for the
 * lock-free types used here) and brings the C11 free functions into scope.
 */
#ifndef GORT_ATOMIC_H
#define GORT_ATOMIC_H

#ifdef __cplusplus
#include <atomic>
#define _Atomic(T) std::atomic<T>
using std::atomic_compare_exchange_strong;
using std::atomic_fetch_add;
using std::atomic_fetch_sub;
using std::atomic_load;
using std::atomic_load_explicit;
using std::atomic_store;
using std::atomic_store_explicit;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
#define GORT_NORETURN [[noreturn]]
#else
#include <stdatomic.h>
#define GORT_NORETURN _Noreturn
#endif

#endif /* GORT_ATOMIC_H */
