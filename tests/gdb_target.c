/* gdb_target.c — the program //tests:gdb_test debugs: goroutines stopped in
 * known functions (parked on a channel, asleep, spinning on another M),
 * and one spawned but not yet run, then the main goroutine calls
 * gdb_target_ready, where gdb stops it. */
#include <stdatomic.h>
#include <stdio.h>

#include "runtime/gort.h"

static atomic_int started, stop;

__attribute__((noinline)) void gdb_target_receiver(void *c) {
    int v;
    started++;
    gort_chan_recv(c, &v);
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep the frame */
}

__attribute__((noinline)) void gdb_target_sleeper(void *arg) {
    started++;
    gort_sleep(3600 * 1000000000LL);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void gdb_target_spin(void *arg) {
    started++;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    }
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void gdb_target_queued(void *arg) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) void gdb_target_ready(void) { __asm__ volatile("" ::: "memory"); }

static void root(void *arg) {
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    gort_go_attr r = {0, "receiver"}, s = {0, "sleeper"}, p = {0, "spinner"}, q = {0, "queued"};
    gort_go_with(gdb_target_receiver, c, &r);
    gort_go_with(gdb_target_sleeper, NULL, &s);
    gort_go_with(gdb_target_spin, NULL, &p);
    while (started < 3) gort_sleep(1000000);
    gort_sleep(20 * 1000000); /* let them park */
    gort_go_with(gdb_target_queued, NULL, &q); /* our P's runnext: not run before we park */
    gdb_target_ready();
    stop = 1;
    printf("gdb_target: done\n");
}

int main(void) {
    gort_config cfg = {.maxprocs = 2};
    gort_init(&cfg);
    return gort_main(root, NULL);
}
