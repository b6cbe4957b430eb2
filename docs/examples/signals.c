/* signals.c — Go's signal.Notify: SIGUSR1 and SIGTERM arrive on a channel. */
#include <signal.h>
#include <stdio.h>
#include "runtime/gort.h"

static void root(void *arg) {
    int *ok = arg, sig = 0;
    gort_chan *sigs = gort_chan_make(sizeof(int), 2); /* buffered: a full channel drops */
    gort_signal_notify(SIGUSR1, sigs);
    gort_signal_notify(SIGTERM, sigs);

    raise(SIGUSR1); /* as if `kill -USR1` */
    gort_chan_recv(sigs, &sig); /* parks until the signal is delivered */
    *ok = sig == SIGUSR1;
    printf("got signal %d\n", sig);

    raise(SIGTERM);
    gort_chan_recv(sigs, &sig);
    *ok &= sig == SIGTERM;
    printf("got signal %d: shutting down\n", sig);

    gort_signal_stop(0, sigs); /* every signal of sigs: SIGTERM is fatal again */
    gort_chan_free(sigs);      /* nothing sends on it once stop returned */
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
