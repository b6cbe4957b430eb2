// preempt.cc — the preempt row of BENCHMARKS.md: every P runs a goroutine
// in a tight loop with no calls; another goroutine sleeps 1 ms 2,000 times.
// The figure is the worst oversleep (how much later than asked a sleep
// returned), with the median and 99th percentile beside it.  Only
// preemption lets the sleeper back on a P at all; gort's sysmon also
// preempts a P whose timers are late, so the figure is near its wake-up
// granularity rather than a 10 ms time slice.  Go: benchmarks/go/main.go.

#include <algorithm>
#include <atomic>
#include <vector>

#include "benchmarks/bench_main.h"

namespace {

std::atomic<bool> stop{false};

void Spin(void* done) {
  while (!stop.load(std::memory_order_relaxed)) {
  }
  gort_waitgroup_done(static_cast<gort_waitgroup*>(done));
}

void BM_Preempt(benchmark::State& state) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer turns asynchronous preemption off (runtime/core/env.c):
  // the spinners would keep every P, and the sleeper would never run.
  state.SkipWithError("no asynchronous preemption under ThreadSanitizer");
  return;
#endif
  const long sleeps = gort_bench::Size(2000000) / 1000;  // 2,000; 2 under --smoke
  std::vector<int64_t> late;
  for (auto _ : state) {
    gort_bench::RunMain([&] {
      gort_waitgroup wg = GORT_WAITGROUP_INIT;
      stop = false;
      for (int i = 0; i < gort_maxprocs(0); i++) {
        gort_waitgroup_add(&wg, 1);
        gort_go(Spin, &wg);
      }
      gort_yield();  // the spinners take every P
      for (long i = 0; i < sleeps; i++) {
        int64_t t0 = gort_now();
        gort_sleep(1000000);
        late.push_back(gort_now() - t0 - 1000000);
      }
      stop = true;
      gort_waitgroup_wait(&wg);
    });
  }
  std::sort(late.begin(), late.end());
  auto ms = [&](double q) { return (double)late[(size_t)(q * (double)(late.size() - 1))] / 1e6; };
  state.counters["worst_ms"] = ms(1.0);
  state.counters["p99_ms"] = ms(0.99);
  state.counters["median_ms"] = ms(0.5);
}
BENCHMARK(BM_Preempt)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
