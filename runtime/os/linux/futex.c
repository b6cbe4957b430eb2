/*
 * futex.c — the runtime lock and notes on linux, both a futex word.
 *
 * Lock: Drepper's three-state mutex ("Futexes Are Tricky"): 0 free, 1 held,
 * 2 held with possible waiters; spin briefly before sleeping, since runtime
 * critical sections are a few dozen instructions.
 * Note: key 0 clear, 1 set; sleepers wait while the key is 0.  Spurious
 * futex wakeups are tolerated by re-checking the key.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/os/os.h"

/* Both leave errno alone (EAGAIN, EINTR, ETIMEDOUT mean "look again" to
 * every caller): a contended lock or a wakeup in a parked goroutine's
 * action runs with the next goroutine's errno in place (os.h). */
GORT_RUNTIME_TEXT static int futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *ts) {
    int saved = errno;
    int r = (int)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0);
    errno = saved;
    return r;
}

GORT_RUNTIME_TEXT static void futex_wake(_Atomic uint32_t *addr, int n) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0); /* cannot fail: errno untouched */
}

GORT_RUNTIME_TEXT void gort_os_lock_acquire(gort_os_lock *l) {
    uint32_t c = 0;
    if (atomic_compare_exchange_strong_explicit(&l->key, &c, 1, memory_order_acquire, memory_order_relaxed))
        return;
    for (int spin = 0; spin < 100; spin++) {
        gort_cpu_relax();
        c = 0;
        if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->key, &c, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    /* Contended: mark waiters and sleep until we take it as 0 -> 2. */
    while (atomic_exchange_explicit(&l->key, 2, memory_order_acquire) != 0) futex_wait(&l->key, 2, NULL);
}

GORT_RUNTIME_TEXT void gort_os_lock_release(gort_os_lock *l) {
    if (atomic_exchange_explicit(&l->key, 0, memory_order_release) == 2) futex_wake(&l->key, 1);
}

GORT_RUNTIME_TEXT void gort_note_init(gort_note *n) { atomic_store_explicit(&n->key, 0, memory_order_relaxed); }
GORT_RUNTIME_TEXT void gort_note_destroy(gort_note *n) { (void)n; }
GORT_RUNTIME_TEXT void gort_note_clear(gort_note *n) { atomic_store_explicit(&n->key, 0, memory_order_relaxed); }

GORT_RUNTIME_TEXT void gort_note_wakeup(gort_note *n) {
    atomic_store_explicit(&n->key, 1, memory_order_release);
    futex_wake(&n->key, 1);
}

GORT_RUNTIME_TEXT void gort_note_sleep(gort_note *n) {
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) futex_wait(&n->key, 0, NULL);
}

GORT_RUNTIME_TEXT bool gort_note_sleep_for(gort_note *n, int64_t ns) {
    int64_t now = gort_os_nanotime();
    int64_t deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns; /* saturate */
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
        int64_t left = deadline - gort_os_nanotime();
        if (left <= 0) return false;
        struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        futex_wait(&n->key, 0, &ts);
    }
    return true;
}
