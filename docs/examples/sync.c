/* sync.c — a mutex-guarded counter, a once, and a waitgroup. */
#include <errno.h>
#include <stdio.h>
#include "runtime/gort.h"

enum { WORKERS = 4, ROUNDS = 10000 };
static gort_mutex mu = GORT_MUTEX_INIT;
static gort_once once = GORT_ONCE_INIT;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static long counter, inits;

static void init(void *arg) { inits++; }

static void work(void *arg) {
    gort_once_do(&once, init, NULL); /* runs init once; every caller waits for it */
    for (int i = 0; i < ROUNDS; i++) {
        gort_mutex_lock(&mu);
        counter++;
        if (i % 100 == 0) gort_yield(); /* holding a gort_mutex across a park is fine */
        gort_mutex_unlock(&mu);
    }
    gort_waitgroup_done(&wg);
}

static void root(void *arg) {
    gort_waitgroup_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++) gort_go(work, NULL);
    gort_waitgroup_wait(&wg);
    printf("counter %ld, init ran %ld time(s)\n", counter, inits);
    *(int *)arg = counter == WORKERS * ROUNDS && inits == 1 &&
                  gort_mutex_unlock(&mu) == -EPERM &&   /* not locked */
                  gort_waitgroup_done(&wg) == -EINVAL;  /* counter would go negative */
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
