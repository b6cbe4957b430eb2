// bench_main.h — what gort's benchmark binaries share: a --smoke flag (run
// every case once at a tiny size, used by the *_smoke tests so CI knows
// the benchmarks work on every arch), the wrapper that runs a C++ lambda
// as the main goroutine, and main() itself (Main).
#ifndef GORT_BENCHMARKS_BENCH_MAIN_H
#define GORT_BENCHMARKS_BENCH_MAIN_H

#include <benchmark/benchmark.h>

#include <cstring>
#include <functional>
#include <vector>

#include "runtime/gort.h"

namespace gort_bench {

inline bool& Smoke() {
  static bool smoke = false;
  return smoke;
}

// n normally; a tiny n under --smoke.
inline long Size(long n) { return Smoke() ? (n / 1000 > 0 ? n / 1000 : 1) : n; }

inline void RunMain(std::function<void()> fn) {
  gort_main([](void* p) { (*static_cast<std::function<void()>*>(p))(); }, &fn);
}

// Runs fn as the main goroutine once per benchmark iteration; returns the
// wall time of all of them, in ns.
inline int64_t TimedRuns(benchmark::State& state, std::function<void()> fn) {
  int64_t ns = 0;
  for (auto _ : state) {
    int64_t t0 = gort_now();
    RunMain(fn);
    ns += gort_now() - t0;
  }
  return ns;
}

// Strips --smoke, sets Smoke(), and makes google benchmark run each case
// once; returns the remaining argc.
inline int ParseArgs(int argc, char** argv, std::vector<char*>& args) {
  static char min_time[] = "--benchmark_min_time=0";
  for (int i = 0; i < argc; i++) {
    if (std::strcmp(argv[i], "--smoke") == 0)
      Smoke() = true;
    else
      args.push_back(argv[i]);
  }
  if (Smoke()) args.push_back(min_time);
  return (int)args.size();
}

// The whole main() of a benchmark binary with nothing else to print:
//   int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
inline int Main(int argc, char** argv) {
  std::vector<char*> args;
  int n = ParseArgs(argc, argv, args);
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace gort_bench

#endif  // GORT_BENCHMARKS_BENCH_MAIN_H
