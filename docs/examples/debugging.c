/* debugging.c — gort_dump lists every goroutine; read it back from a pipe. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "runtime/gort.h"

static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void wait_for_close(void *arg) {
    gort_chan_recv(arg, NULL);
    gort_waitgroup_done(&wg);
}

static void root(void *arg) {
    gort_chan *quit = gort_chan_make(0, 0);
    gort_go_attr a = {.name = "reader"}, b = {.name = "writer"}; /* names: string literals */
    int p[2], *ok = arg;
    char out[16384] = {0};
    if (quit == NULL || pipe(p) != 0) return;
    gort_waitgroup_add(&wg, 2);
    gort_go_with(wait_for_close, quit, &a);
    gort_go_with(wait_for_close, quit, &b);
    gort_sleep(10 * 1000 * 1000); /* let them park (the dump shows any state) */
    gort_dump(p[1]); /* a few KiB with the traces: a pipe holds far more */
    close(p[1]);
    ssize_t n = read(p[0], out, sizeof out - 1); /* a plain pipe: not gort's, not registered */
    close(p[0]);
    fputs(out, stderr); /* e.g. goroutine 2 "reader" [waiting: chan receive, 10 ms]: and its trace */
    *ok = n > 0 && strstr(out, "\"main\" [running") && strstr(out, "\"reader\" [") &&
          strstr(out, "\"writer\" [");
    printf("the dump lists main, reader and writer\n");
    gort_chan_close(quit); /* wakes both */
    gort_waitgroup_wait(&wg);
    gort_chan_free(quit);
}

int main(void) {
    int ok = 0;
    return gort_main(root, &ok) == 0 && ok ? 0 : 1;
}
