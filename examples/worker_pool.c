/* worker_pool.c — the README example: 16 workers, at most 4 at a time. */
#include <stdio.h>
#include "runtime/gort.h"

static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static gort_sema slots = GORT_SEMA_INIT(4); /* at most 4 workers at once */

static void worker(void *arg) {
    gort_sema_acquire(&slots);
    gort_sleep(10 * 1000 * 1000); /* 10 ms: parks the goroutine, not the thread */
    printf("worker %ld ran as goroutine %llu\n", (long)arg, (unsigned long long)gort_self());
    gort_sema_release(&slots);
    gort_waitgroup_done(&wg);
}

static void root(void *arg) {
    for (long i = 0; i < 16; i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(worker, (void *)i);
    }
    gort_waitgroup_wait(&wg);
}

int main(void) { return gort_main(root, NULL); }
