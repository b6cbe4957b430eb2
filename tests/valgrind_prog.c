/*
 * valgrind_prog.c — a small gort program that //tests:valgrind_test runs
 * under memcheck.  It exercises what switches stacks or builds frames by
 * hand: goroutines on default, small and large stacks (new and reused),
 * unbuffered and buffered channels, select with a timeout, timers and a
 * ticker, mutex and waitgroup, a few thousand context switches, async
 * preemption of a spinning goroutine, and gort_dump (stack traces of
 * every goroutine) to /dev/null.  It checks its own results and exits 0.
 *
 *   valgrind_prog           the program
 *   valgrind_prog --bug     the same, plus a planted invalid read and a
 *                           leak: the test checks that memcheck sees them
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/gort.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "valgrind_prog:%d: CHECK(%s)\n", __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* ---- goroutines on stacks of several sizes ---------------------------- */

static gort_waitgroup spawn_wg = GORT_WAITGROUP_INIT;
static _Atomic long spawn_sum;

/* Touches `depth` KiB of its stack, so memcheck sees the stack used. */
static long use_stack(int depth) {
    volatile char buf[1024];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i + depth);
    long s = buf[depth % sizeof buf];
    if (depth > 1) s += use_stack(depth - 1);
    return s;
}

static void spawned(void *arg) {
    int depth = (int)(intptr_t)arg;
    (void)use_stack(depth);
    atomic_fetch_add(&spawn_sum, depth);
    gort_yield();
    gort_waitgroup_done(&spawn_wg);
}

static void test_spawn(void) {
    static const struct {
        size_t stack;
        int depth; /* KiB touched: well inside the stack */
    } kinds[] = {{0, 8}, {16 << 10, 8}, {256 << 10, 100}, {1 << 20, 400}};
    long want = 0;
    for (int round = 0; round < 3; round++) { /* rounds 2 and 3 reuse cached Gs */
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            for (int i = 0; i < 50; i++) {
                gort_go_attr attr = {kinds[k].stack, "spawned"};
                gort_waitgroup_add(&spawn_wg, 1);
                CHECK(gort_go_with(spawned, (void *)(intptr_t)kinds[k].depth, &attr) == 0);
                want += kinds[k].depth;
            }
        }
        gort_waitgroup_wait(&spawn_wg);
    }
    CHECK(atomic_load(&spawn_sum) == want);
}

/* ---- channels ------------------------------------------------------------ */

enum { PINGS = 2000, ITEMS = 5000, PRODUCERS = 2 };

struct pingpong {
    gort_chan *ping, *pong;
    gort_waitgroup done;
};

static void ponger(void *arg) {
    struct pingpong *pp = arg;
    int64_t v;
    while (gort_chan_recv(pp->ping, &v) == 0) {
        v++;
        gort_chan_send(pp->pong, &v);
    }
    gort_waitgroup_done(&pp->done);
}

static void test_unbuffered(void) {
    struct pingpong pp = {gort_chan_make(sizeof(int64_t), 0), gort_chan_make(sizeof(int64_t), 0),
                          GORT_WAITGROUP_INIT};
    CHECK(pp.ping != NULL && pp.pong != NULL);
    gort_waitgroup_add(&pp.done, 1);
    CHECK(gort_go(ponger, &pp) == 0);
    int64_t v = 0;
    for (int i = 0; i < PINGS; i++) { /* 4 switches per round trip */
        CHECK(gort_chan_send(pp.ping, &v) == 0);
        CHECK(gort_chan_recv(pp.pong, &v) == 0);
    }
    CHECK(v == PINGS);
    gort_chan_close(pp.ping);
    gort_waitgroup_wait(&pp.done);
    gort_chan_free(pp.ping);
    gort_chan_free(pp.pong);
}

struct buffered {
    gort_chan *c;
    gort_waitgroup producers;
};

static void producer(void *arg) {
    struct buffered *b = arg;
    for (int32_t i = 1; i <= ITEMS; i++) CHECK(gort_chan_send(b->c, &i) == 0);
    gort_waitgroup_done(&b->producers);
}

static void closer(void *arg) {
    struct buffered *b = arg;
    gort_waitgroup_wait(&b->producers);
    gort_chan_close(b->c);
}

static void test_buffered(void) {
    struct buffered b = {gort_chan_make(sizeof(int32_t), 16), GORT_WAITGROUP_INIT};
    CHECK(b.c != NULL);
    gort_waitgroup_add(&b.producers, PRODUCERS);
    for (int i = 0; i < PRODUCERS; i++) CHECK(gort_go(producer, &b) == 0);
    CHECK(gort_go(closer, &b) == 0);
    int64_t sum = 0;
    int32_t v;
    int n = 0;
    while (gort_chan_recv(b.c, &v) == 0) sum += v, n++;
    CHECK(n == PRODUCERS * ITEMS);
    CHECK(sum == (int64_t)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
    CHECK(gort_chan_recv(b.c, &v) == -EPIPE && v == 0);
    gort_chan_free(b.c);
}

/* ---- select, timers ------------------------------------------------------ */

static void send_later(void *arg) {
    gort_sleep(2 * 1000 * 1000);
    int32_t v = 42;
    gort_chan_send(arg, &v);
}

static void test_select_timers(void) {
    gort_chan *never = gort_chan_make(sizeof(int32_t), 0);
    gort_chan *soon = gort_chan_make(sizeof(int32_t), 1);
    int32_t got = 0;

    gort_case cases[2] = {{never, GORT_RECV, &got, 0}, {soon, GORT_RECV, &got, 0}};
    CHECK(gort_select(cases, 2, 1000 * 1000) == -ETIMEDOUT); /* 1 ms */
    CHECK(gort_select(cases, 2, 0) == -EAGAIN);

    CHECK(gort_go(send_later, soon) == 0);
    CHECK(gort_select(cases, 2, 5LL * 1000 * 1000 * 1000) == 1);
    CHECK(got == 42 && cases[1].result == 0);
    CHECK(gort_chan_recv_timeout(never, &got, 1000 * 1000) == -ETIMEDOUT);

    int64_t t0 = gort_now(), fired = 0;
    gort_timer *once = gort_timer_start(1000 * 1000, 0);
    CHECK(once != NULL);
    CHECK(gort_chan_recv(gort_timer_chan(once), &fired) == 0 && fired >= t0);
    CHECK(gort_timer_stop(once) == 0);

    gort_timer *tick = gort_timer_start(500 * 1000, 500 * 1000);
    CHECK(tick != NULL);
    for (int i = 0; i < 3; i++) CHECK(gort_chan_recv(gort_timer_chan(tick), &fired) == 0);
    CHECK(gort_timer_stop(tick) == 0);

    gort_timer *unfired = gort_timer_start(3600LL * 1000 * 1000 * 1000, 0);
    CHECK(unfired != NULL && gort_timer_stop(unfired) == 0);

    gort_sleep(100 * 1000);
    gort_chan_free(never);
    gort_chan_free(soon);
}

/* ---- mutex, waitgroup ---------------------------------------------------- */

enum { WORKERS = 8, INCREMENTS = 300 };
static gort_mutex mu = GORT_MUTEX_INIT;
static long counter;
static gort_waitgroup workers = GORT_WAITGROUP_INIT;

static void incrementer(void *arg) {
    (void)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        gort_mutex_lock(&mu);
        long c = counter;
        if (i % 16 == 0) gort_yield(); /* let others pile up on the mutex */
        counter = c + 1;
        gort_mutex_unlock(&mu);
    }
    gort_waitgroup_done(&workers);
}

static void test_mutex(void) {
    gort_waitgroup_add(&workers, WORKERS);
    for (int i = 0; i < WORKERS; i++) CHECK(gort_go(incrementer, NULL) == 0);
    gort_waitgroup_wait(&workers);
    CHECK(counter == WORKERS * INCREMENTS);
}

/* ---- async preemption ---------------------------------------------------- */

static _Atomic int stop_spinning;
static gort_waitgroup spinner_wg = GORT_WAITGROUP_INIT;

/* A loop with no preemption point: only a SIGURG can take its P away.  It
 * gives up after 30 s (GORT_DEBUG=asyncpreemptoff=1), and the check on the
 * preemption count then fails instead of the program hanging. */
static void spinner(void *arg) {
    (void)arg;
    int64_t deadline = gort_now() + 30LL * 1000 * 1000 * 1000;
    unsigned long n = 0;
    while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed))
        if (++n % 4096 == 0 && gort_now() > deadline) break;
    gort_waitgroup_done(&spinner_wg);
}

static void test_preempt(void) {
    int old = gort_maxprocs(1);
    gort_stats before, after;
    gort_stats_get(&before);
    gort_waitgroup_add(&spinner_wg, 1);
    CHECK(gort_go(spinner, NULL) == 0);
    gort_yield(); /* the spinner runs; we come back only if it is preempted */
    gort_sleep(20 * 1000 * 1000);
    atomic_store(&stop_spinning, 1);
    gort_waitgroup_wait(&spinner_wg);
    gort_stats_get(&after);
    CHECK(after.preemptions > before.preemptions);
    gort_maxprocs(old);
}

/* ---- dump ---------------------------------------------------------------- */

static gort_chan *dump_block;

static void parked(void *arg) {
    (void)arg;
    int32_t v;
    gort_chan_recv(dump_block, &v);
}

static void test_dump(void) {
    dump_block = gort_chan_make(sizeof(int32_t), 0);
    for (int i = 0; i < 4; i++) CHECK(gort_go(parked, NULL) == 0);
    gort_sleep(1000 * 1000);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    gort_dump(fd); /* unwinds the parked goroutines and this one */
    close(fd);
    gort_chan_close(dump_block);
    gort_sleep(1000 * 1000);
}

/* ---- the planted bug ------------------------------------------------------ */

static void planted_bug(void *arg) {
    (void)arg;
    char *volatile p = malloc(16);
    volatile char c = p[16]; /* one past the block: "Invalid read of size 1" */
    (void)c;
    p = NULL; /* and the block is lost for good: "definitely lost" */
}

static void root(void *arg) {
    int bug = *(int *)arg;
    test_spawn();
    test_unbuffered();
    test_buffered();
    test_select_timers();
    test_mutex();
    test_preempt();
    test_dump();
    if (bug) {
        gort_go_attr attr = {0, "planted bug"};
        CHECK(gort_go_with(planted_bug, NULL, &attr) == 0);
        gort_sleep(1000 * 1000);
    }
}

int main(int argc, char **argv) {
    int bug = argc > 1 && strcmp(argv[1], "--bug") == 0;
    int err = gort_main(root, &bug);
    gort_stats s;
    gort_stats_get(&s);
    if (err != 0 || failures != 0) {
        fprintf(stderr, "valgrind_prog: FAILED (%d checks, gort_main %d)\n", failures, err);
        return 1;
    }
    printf("valgrind_prog: ok (%llu goroutines spawned, %llu switches, %llu preemptions)\n",
           (unsigned long long)s.spawned, (unsigned long long)s.switches, (unsigned long long)s.preemptions);
    return 0;
}
