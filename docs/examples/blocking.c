/* blocking.c — unmodified blocking code (plain read and write on pipes)
 * in 100 goroutines on one P; built with //runtime:gort_hooks, each read
 * parks its goroutine, so the writer goroutine runs while they wait. */
#define _DEFAULT_SOURCE /* usleep */
#include "runtime/gort.h"
#include <stdio.h>
#include <unistd.h>

enum { N = 100 };
static int pipes[N][2];
static gort_waitgroup done = GORT_WAITGROUP_INIT;

static void reader(void *arg) {
    int *p = arg;
    char c = 0;
    if (read(p[0], &c, 1) != 1 || c != 'x') printf("reader: bad read\n");
    gort_waitgroup_done(&done);
}

static void root(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) gort_go(reader, pipes[i]);
    usleep(10 * 1000); /* parks too: every reader waits by now */
    for (int i = 0; i < N; i++) (void)!write(pipes[i][1], "x", 1);
    gort_waitgroup_wait(&done);
}

int main(void) {
    gort_config cfg = {.maxprocs = 1};
    for (int i = 0; i < N; i++)
        if (pipe(pipes[i]) != 0) return 1;
    gort_init(&cfg);
    gort_main(root, NULL);
    printf("%d blocking reads done on one P\n", N);
    return 0;
}
