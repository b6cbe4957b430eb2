/* goroutines.c — ten goroutines square their numbers; a waitgroup joins them. */
#include <stdio.h>
#include "runtime/gort.h"

enum { N = 10 };
struct job { long in, out; };
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void square(void *arg) {
    struct job *j = arg;
    j->out = gort_self() != 0 ? j->in * j->in : -1; /* gort_self() >= 1 in a goroutine */
    gort_waitgroup_done(&wg);
}

static void root(void *arg) {
    struct job jobs[N]; /* on root's stack: it outlives the workers (wg below) */
    gort_go_attr attr = {.stack_size = 256 << 10, .name = "square"};
    long sum = 0;
    for (long i = 0; i < N; i++) {
        jobs[i] = (struct job){.in = i};
        gort_waitgroup_add(&wg, 1);
        if (gort_go_with(square, &jobs[i], &attr) != 0) return; /* -EINVAL/-ENOMEM/-EAGAIN */
    }
    gort_waitgroup_wait(&wg);
    for (int i = 0; i < N; i++) sum += jobs[i].out;
    printf("sum of squares 0..%d = %ld\n", N - 1, sum);
    *(int *)arg = sum == 285;
}

int main(void) {
    int ok = 0;
    if (gort_self() != 0) return 1; /* main() runs on a plain thread, not a goroutine */
    if (gort_main(root, &ok) != 0 || !ok) return 1;
    return 0;
}
