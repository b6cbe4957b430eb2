// memory.cc — the memory row of BENCHMARKS.md: 1,000,000 goroutines parked
// at once on one channel receive; the figure is the growth of the
// process's resident memory divided by the count (bytes per parked
// goroutine), with every goroutine then woken (close) and finished.  On a
// stock linux box (vm.max_map_count 65,530) most stacks are canary-guarded
// rather than guard-paged (runtime/HACKING.md, "Stacks").

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "benchmarks/bench_main.h"

namespace {

long ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

std::atomic<long> arrived{0};

void Park(void* c) {
  int v;
  arrived.fetch_add(1, std::memory_order_relaxed);
  gort_chan_recv(static_cast<gort_chan*>(c), &v);  // parks until the close
}

void BM_Memory(benchmark::State& state) {
  const long n = gort_bench::Size(1000000);
  double per = 0;
  for (auto _ : state) {
    gort_bench::RunMain([&] {
      gort_chan* c = gort_chan_make(sizeof(int), 0);
      arrived = 0;
      long before = ResidentBytes();
      for (long i = 0; i < n; i++)
        if (gort_go(Park, c) != 0) state.SkipWithError("gort_go failed");
      while (arrived.load() < n) gort_sleep(1000000);
      gort_sleep(20000000);  // the last ones reach their park
      per = (double)(ResidentBytes() - before) / (double)n;
      gort_chan_close(c);  // wakes every one of them
      while (gort_chan_len(c) != 0 || [] {
        gort_stats s;
        gort_stats_get(&s);
        return s.goroutines > 1;
      }())
        gort_sleep(1000000);
      gort_chan_free(c);
    });
  }
  state.counters["bytes/goroutine"] = per;
  state.counters["goroutines"] = (double)n;
}
BENCHMARK(BM_Memory)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
