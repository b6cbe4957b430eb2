/* blocking.c — unmodified blocking code in goroutines, with gort's libc
 * hooks switched on from outside the program (docs/blocking.md):
 *   make -C examples/make              builds it three ways:
 *     blocking         pkg-config --libs gort-hooks (shared libgort)
 *     blocking-static  libgort-hooks.a and libgort.a
 *     blocking-plain   no hooks: run it as LD_PRELOAD=libgort-hooks.so ./blocking-plain
 * 200 goroutines on one P each block in a plain read() of a pipe; the
 * main goroutine then writes a byte to each.  With the hooks each read
 * parks its goroutine, and the process needs only a few threads; without
 * them each read holds a thread.  Exit 0 when at most 16 threads were
 * needed over a second, 1 otherwise. */
#define _DEFAULT_SOURCE /* usleep */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { READERS = 200 };
static int pipes[READERS][2];
static gort_waitgroup done = GORT_WAITGROUP_INIT;

static int os_threads(void) {
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
    if (f != NULL) fclose(f);
    return n;
}

static void reader(void *arg) {
    long i = (long)arg;
    char c;
    if (read(pipes[i][0], &c, 1) != 1) abort(); /* a plain, blocking read */
    gort_waitgroup_done(&done);
}

static void root(void *arg) {
    int *most = arg;
    for (long i = 0; i < READERS; i++) gort_go(reader, (void *)i);
    /* Every reader is blocked (or parked) within a few ms; without the
     * hooks, sysmon then lends Ps one look at a time, and each new one
     * starts a thread for the next blocked reader: look for up to 1 s. */
    for (int i = 0; i < 100 && *most <= 16; i++) {
        usleep(10 * 1000);
        int n = os_threads();
        if (n > *most) *most = n;
    }
    for (int i = 0; i < READERS; i++)
        if (write(pipes[i][1], "x", 1) != 1) abort();
    gort_waitgroup_wait(&done);
}

int main(void) {
    gort_config cfg = {.maxprocs = 1};
    int most = 0;
    for (int i = 0; i < READERS; i++)
        if (pipe(pipes[i]) != 0) return 2;
    if (gort_init(&cfg) != 0) return 2;
    gort_waitgroup_add(&done, READERS);
    gort_main(root, &most);
    printf("%d goroutines blocked in read(2) needed %d threads\n", READERS, most);
    return most <= 16 ? 0 : 1;
}
