/* hello.c — a program built outside Bazel, against an installed gort:
 *   PKG_CONFIG_PATH=DIR/lib/pkgconfig make -C examples/make
 * Ten goroutines send their squares over a channel; main sums them. */
#include <gort.h>
#include <stdio.h>

static gort_chan *results;

static void square(void *arg) {
    long n = (long)arg, sq = n * n;
    gort_chan_send(results, &sq);
}

static void root(void *arg) {
    long sum = 0, v;
    for (long i = 1; i <= 10; i++) gort_go(square, (void *)i);
    for (int i = 0; i < 10; i++) {
        gort_chan_recv(results, &v);
        sum += v;
    }
    printf("sum of squares 1..10 = %ld\n", sum); /* 385 */
    *(long *)arg = sum;
}

int main(void) {
    long sum = 0;
    results = gort_chan_make(sizeof(long), 0);
    gort_main(root, &sum);
    gort_chan_free(results);
    return sum == 385 ? 0 : 1;
}
