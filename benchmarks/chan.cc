// chan.cc — channel and sync benchmarks (BENCHMARKS.md rows pingpong,
// buffered, select, mutex), each reporting the figure named there.
//   pingpong  two goroutines, two unbuffered channels, 1,000,000 round
//             trips                                        -> ns/roundtrip
//   buffered  one producer, one consumer, capacity 128, 10,000,000 ints,
//             then close                                   -> ns/message
//   select    4 producers each on its own unbuffered channel, one consumer
//             selecting over the 4, 4,000,000 messages     -> ns/message
//   mutex     4 goroutines, one gort_mutex, 10,000,000 increments in all
//                                                          -> ns/increment
// The same shapes in Go are benchmarks/go/main.go.

#include "benchmarks/bench_main.h"

namespace {

double PerItem(int64_t ns, int64_t items) { return (double)ns / (double)items; }

void BM_PingPong(benchmark::State& state) {
  const long n = gort_bench::Size(1000000);
  gort_chan *ping = gort_chan_make(sizeof(long), 0), *pong = gort_chan_make(sizeof(long), 0);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 1);
    struct Arg {
      gort_chan *ping, *pong;
      long n;
      gort_waitgroup* wg;
    } a = {ping, pong, n, &wg};
    gort_go(
        [](void* p) {
          auto* a = static_cast<Arg*>(p);
          long v;
          for (long i = 0; i < a->n; i++) {
            gort_chan_recv(a->ping, &v);
            gort_chan_send(a->pong, &v);
          }
          gort_waitgroup_done(a->wg);
        },
        &a);
    for (long i = 0; i < n; i++) {
      long v = i;
      gort_chan_send(ping, &v);
      gort_chan_recv(pong, &v);
    }
    gort_waitgroup_wait(&wg);
  });
  state.counters["ns/roundtrip"] = PerItem(ns, state.iterations() * n);
  gort_chan_free(ping);
  gort_chan_free(pong);
}
BENCHMARK(BM_PingPong)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Buffered(benchmark::State& state) {
  const long n = gort_bench::Size(10000000);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_chan* c = gort_chan_make(sizeof(long), 128);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct Arg {
      gort_chan* c;
      long n;
      gort_waitgroup* wg;
    } a = {c, n, &wg};
    gort_waitgroup_add(&wg, 1);
    gort_go(
        [](void* p) {
          auto* a = static_cast<Arg*>(p);
          for (long i = 0; i < a->n; i++) gort_chan_send(a->c, &i);
          gort_chan_close(a->c);
          gort_waitgroup_done(a->wg);
        },
        &a);
    long v, sum = 0;
    while (gort_chan_recv(c, &v) == 0) sum += v;
    benchmark::DoNotOptimize(sum);
    gort_waitgroup_wait(&wg);  // a (on this stack) and c outlive the producer
    gort_chan_free(c);
  });
  state.counters["ns/message"] = PerItem(ns, state.iterations() * n);
}
BENCHMARK(BM_Buffered)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Select(benchmark::State& state) {
  const long n = gort_bench::Size(4000000), per = n / 4;
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_chan* cs[4];
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    struct Arg {
      gort_chan* c;
      long n;
      gort_waitgroup* wg;
    } args[4];
    for (int i = 0; i < 4; i++) {
      cs[i] = gort_chan_make(sizeof(long), 0);
      args[i] = {cs[i], per, &wg};
      gort_waitgroup_add(&wg, 1);
      gort_go(
          [](void* p) {
            auto* a = static_cast<Arg*>(p);
            for (long i = 0; i < a->n; i++) gort_chan_send(a->c, &i);
            gort_waitgroup_done(a->wg);
          },
          &args[i]);
    }
    long v, sum = 0;
    gort_case cases[4];
    for (int i = 0; i < 4; i++) cases[i] = {cs[i], GORT_RECV, &v, 0};
    for (long i = 0; i < 4 * per; i++) {
      gort_select(cases, 4, -1);
      sum += v;
    }
    benchmark::DoNotOptimize(sum);
    gort_waitgroup_wait(&wg);  // args (on this stack) and cs outlive the producers
    for (auto* c : cs) gort_chan_free(c);
  });
  state.counters["ns/message"] = PerItem(ns, state.iterations() * n);
}
BENCHMARK(BM_Select)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Mutex(benchmark::State& state) {
  const long n = gort_bench::Size(10000000);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    static gort_mutex mu = GORT_MUTEX_INIT;
    static long counter;
    static long each;
    each = n / 4;
    counter = 0;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 4);
    for (int g = 0; g < 4; g++)
      gort_go(
          [](void* p) {
            for (long i = 0; i < each; i++) {
              gort_mutex_lock(&mu);
              counter++;
              gort_mutex_unlock(&mu);
            }
            gort_waitgroup_done(static_cast<gort_waitgroup*>(p));
          },
          &wg);
    gort_waitgroup_wait(&wg);
    if (counter != 4 * each) std::abort();
  });
  state.counters["ns/increment"] = PerItem(ns, state.iterations() * n);
}
BENCHMARK(BM_Mutex)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
