// sched.cc — scheduler benchmarks (BENCHMARKS.md rows spawn, chained_spawn,
// yield_many), each reporting the figure named there as a counter.
//   spawn          one goroutine spawns 1,000,000 goroutines that each
//                  signal a waitgroup; wait for all       -> ns/goroutine
//   chained_spawn  each goroutine spawns the next, 1,000,000 deep; the
//                  last signals                           -> ns/spawn
//   yield_many     200 goroutines each yield 10,000 times -> ns/yield

#include "benchmarks/bench_main.h"

namespace {

gort_waitgroup g_wg;

double PerItem(int64_t ns, int64_t items) { return (double)ns / (double)items; }

void Done(void*) { gort_waitgroup_done(&g_wg); }

void BM_Spawn(benchmark::State& state) {
  const long n = gort_bench::Size(1000000);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_waitgroup_add(&g_wg, n);
    for (long i = 0; i < n; i++) gort_go(Done, nullptr);
    gort_waitgroup_wait(&g_wg);
  });
  state.counters["ns/goroutine"] = PerItem(ns, state.iterations() * n);
}
BENCHMARK(BM_Spawn)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void Chain(void* arg) {
  long left = (long)(intptr_t)arg;
  if (left == 0)
    gort_waitgroup_done(&g_wg);
  else
    gort_go(Chain, (void*)(intptr_t)(left - 1));
}

void BM_ChainedSpawn(benchmark::State& state) {
  const long n = gort_bench::Size(1000000);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_waitgroup_add(&g_wg, 1);
    gort_go(Chain, (void*)(intptr_t)(n - 1));
    gort_waitgroup_wait(&g_wg);
  });
  state.counters["ns/spawn"] = PerItem(ns, state.iterations() * n);
}
BENCHMARK(BM_ChainedSpawn)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

long g_yields;

void Yielder(void*) {
  for (long i = 0; i < g_yields; i++) gort_yield();
  gort_waitgroup_done(&g_wg);
}

void BM_YieldMany(benchmark::State& state) {
  const long goroutines = 200;
  g_yields = gort_bench::Size(10000);
  int64_t ns = gort_bench::TimedRuns(state, [&] {
    gort_waitgroup_add(&g_wg, goroutines);
    for (long i = 0; i < goroutines; i++) gort_go(Yielder, nullptr);
    gort_waitgroup_wait(&g_wg);
  });
  state.counters["ns/yield"] = PerItem(ns, state.iterations() * goroutines * g_yields);
}
BENCHMARK(BM_YieldMany)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
