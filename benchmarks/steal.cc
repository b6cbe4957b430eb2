// steal.cc — the headline benchmark (BENCHMARKS.md, row "steal").
//
// One goroutine spawns 1,000,000 tasks of ~1 us of compute each (1,000
// rounds of xorshift64 on the task index).  Every other P gets work only by
// stealing.  Reported per P count:
//   ns/task     wall time / tasks
//   efficiency  (serial compute time / P) / wall time: 1.0 is perfect
//               scaling; the bar is >= 0.9 with every P in use.  With more
//               Ps than CPUs, P in that formula is the CPU count: two
//               threads cannot beat one core.
// Runs at the default P count (every CPU this process may use), then at
// P = 1, 2, 4, 8 (oversubscribed where the machine has fewer cores), and
// prints a summary table of medians.

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <vector>

#include "benchmarks/bench_main.h"

namespace {

constexpr long kTasks = 1000000;

uint64_t Work(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
  for (int r = 0; r < 1000; r++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

struct Run {
  std::vector<uint64_t> out;
  gort_waitgroup wg;
  long tasks;
};

Run* g_run;

void TaskAt(void* arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  g_run->out[i] = Work(i);
  gort_waitgroup_done(&g_run->wg);
}

// Serial compute time for the same tasks, in ns (measured once).
double SerialNs(long tasks) {
  static std::map<long, double> cache;
  auto it = cache.find(tasks);
  if (it != cache.end()) return it->second;
  uint64_t sink = 0;
  int64_t t0 = gort_now();
  for (long i = 0; i < tasks; i++) sink += Work((uint64_t)i);
  double ns = (double)(gort_now() - t0);
  benchmark::DoNotOptimize(sink);
  return cache[tasks] = ns;
}

std::map<int, std::vector<std::pair<double, double>>> g_results;  // P -> (ns/task, eff)
int g_cpus;  // the default P count: the CPUs this process may use

void BM_Steal(benchmark::State& state) {
  const long tasks = gort_bench::Size(kTasks);
  int procs = (int)state.range(0);
  int dflt = gort_maxprocs(0);
  if (procs == 0) procs = dflt;
  gort_maxprocs(procs);
  double serial = SerialNs(tasks);
  Run run;
  run.out.assign((size_t)tasks, 0);
  run.tasks = tasks;
  g_run = &run;
  auto once = [&] {
    run.wg = GORT_WAITGROUP_INIT;
    gort_bench::RunMain([&] {
      gort_waitgroup_add(&run.wg, tasks);
      for (long i = 0; i < tasks; i++) gort_go(TaskAt, (void*)(uintptr_t)i);
      gort_waitgroup_wait(&run.wg);
    });
  };
  // Steady state: the first run in a process also pays a page fault for
  // every new goroutine stack (up to a million live at once).
  static bool warm = false;
  if (!warm) once(), warm = true;
  double wall_total = 0;
  for (auto _ : state) {
    int64_t t0 = gort_now();
    once();
    double wall = (double)(gort_now() - t0);
    wall_total += wall;
    state.SetIterationTime(wall / 1e9);
  }
  gort_maxprocs(dflt);
  for (long i = 0; i < tasks; i += tasks / 97 + 1)
    if (run.out[(size_t)i] != Work((uint64_t)i)) state.SkipWithError("a task computed a wrong result");
  double wall = wall_total / (double)state.iterations();
  int cpus = std::min(procs, g_cpus);
  double eff = (serial / cpus) / wall;
  state.counters["P"] = procs;
  state.counters["ns/task"] = wall / (double)tasks;
  state.counters["efficiency"] = eff;
  state.SetItemsProcessed(state.iterations() * tasks);
  g_results[(int)state.range(0) == 0 ? 0 : procs].push_back({wall / (double)tasks, eff});
}

BENCHMARK(BM_Steal)
    ->ArgName("P")
    ->Arg(0)  // every P: the headline
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMillisecond);

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  int n = gort_bench::ParseArgs(argc, argv, args);
  benchmark::Initialize(&n, args.data());
  int dflt = gort_maxprocs(0);
  g_cpus = dflt;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\nsteal: %ld tasks of ~1 us, spawned by one goroutine (medians of %s)\n",
              gort_bench::Size(kTasks), gort_bench::Smoke() ? "1 run, --smoke" : "3 runs");
  std::printf("%-16s %10s %11s\n", "P", "ns/task", "efficiency");
  for (auto& [p, rs] : g_results) {
    std::vector<double> ns, eff;
    for (auto& r : rs) ns.push_back(r.first), eff.push_back(r.second);
    char label[32];
    if (p == 0)
      std::snprintf(label, sizeof label, "%d (every CPU)", dflt);
    else
      std::snprintf(label, sizeof label, "%d", p);
    std::printf("%-16s %10.1f %11.2f\n", label, Median(ns), Median(eff));
  }
  return 0;
}
