/* channels.c — a producer, a consumer in a select loop, and close. */
#include <errno.h>
#include <stdio.h>
#include "runtime/gort.h"

static void produce(void *arg) {
    gort_chan *c = arg;
    for (int i = 1; i <= 5; i++) gort_chan_send(c, &i); /* unbuffered: waits for the receiver */
    gort_chan_close(c);
}

static void root(void *arg) {
    gort_chan *c = gort_chan_make(sizeof(int), 0), *quiet = gort_chan_make(0, 0);
    int v, sum = 0, *ok = arg;
    if (c == NULL || quiet == NULL) return;
    gort_go(produce, c);
    for (;;) {
        gort_case cases[] = {{c, GORT_RECV, &v, 0}, {quiet, GORT_RECV, NULL, 0}};
        int i = gort_select(cases, 2, 1000 * 1000 * 1000); /* wait at most 1 s */
        if (i != 0 || cases[0].result == -EPIPE) break;      /* timeout, or closed and drained */
        printf("got %d\n", v);
        sum += v;
    }
    /* After close: receives return -EPIPE with the element zeroed; sends -EPIPE. */
    v = 42;
    *ok = sum == 15 && gort_chan_recv(c, &v) == -EPIPE && v == 0 && gort_chan_send(c, &v) == -EPIPE &&
          gort_chan_recv_timeout(quiet, NULL, 0) == -EAGAIN; /* nothing ready, no wait */
    printf("sum %d, then closed\n", sum);
    gort_chan_free(c); /* nobody uses them any more */
    gort_chan_free(quiet);
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
