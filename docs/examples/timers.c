/* timers.c — gort_sleep, a ticker, and a one-shot timer as a select timeout. */
#include <stdio.h>
#include "runtime/gort.h"

#define MS (1000 * 1000LL)

static void root(void *arg) {
    int *ok = arg;
    int64_t start = gort_now(), t;
    gort_sleep(5 * MS); /* parks this goroutine only */
    *ok = gort_now() - start >= 5 * MS;

    start = gort_now();
    gort_timer *tick = gort_timer_start(10 * MS, 10 * MS); /* after 10 ms, then every 10 ms */
    for (int i = 1; i <= 3; i++) {
        gort_chan_recv(gort_timer_chan(tick), &t); /* t: the fire time, on gort_now()'s clock */
        *ok &= t - start >= i * 10 * MS;
    }
    gort_timer_stop(tick); /* stops it and frees it, channel included */
    printf("3 ticks\n");

    gort_chan *never = gort_chan_make(sizeof(int), 0);
    gort_timer *timeout = gort_timer_start(20 * MS, 0); /* fires once */
    gort_case cases[] = {{never, GORT_RECV, NULL, 0}, {gort_timer_chan(timeout), GORT_RECV, &t, 0}};
    int i = gort_select(cases, 2, -1);
    *ok &= i == 1 && cases[1].result == 0;
    printf("select: case %d (the timer) won\n", i);
    gort_timer_stop(timeout);
    gort_chan_free(never);
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
