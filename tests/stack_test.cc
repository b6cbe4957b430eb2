// stack_test.cc — goroutine stack memory: after a burst of goroutines that
// all park at once and then finish, the memory their stacks (and records)
// held goes back to the OS within a bounded time (stack.c's scavenger),
// and a burst of spawns that outruns memory fails gort_go cleanly
// (death_test.cc has the abort side).

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "tests/harness.h"

namespace {

using gort_test::Scale;

using gort_test::kSanitizer;

long ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

std::atomic<long> g_arrived{0};

__attribute__((noinline)) void Deeper(gort_chan* c) {
  int v;
  volatile char page[3000];  // commit a second page of the stack, as real code does
  page[0] = 1;
  g_arrived.fetch_add(1, std::memory_order_relaxed);
  gort_chan_recv(c, &v);  // until the close
  page[1] = page[0];
}

void Park(void* c) { Deeper(static_cast<gort_chan*>(c)); }

// As benchmarks/memory.cc: one page of stack each.
void ParkLight(void* c) {
  int v;
  g_arrived.fetch_add(1, std::memory_order_relaxed);
  gort_chan_recv(static_cast<gort_chan*>(c), &v);
}

class Stacks : public gort_test::Test {};

// The bar (README, HACKING "Stacks"): within 64 MiB of where it started,
// within 2 s of the burst ending (given 4 s here: a shared machine).
TEST_F(Stacks, MemoryGoesBackToTheOSAfterABurst) {
  if (kSanitizer) GTEST_SKIP() << "shadow memory and fibers distort the resident set";
  if (ResidentBytes() < 0) GTEST_SKIP() << "no /proc/self/statm";
  // GORT_TEST_LONG=1: the README's figure, a million, a page each (as
  // benchmarks/memory.cc: 4 GB at the peak)
  const bool million = std::getenv("GORT_TEST_LONG") != nullptr;
  const long n = million ? 1000000 : Scale(200000);
  const long slack = 64L << 20;
  gort_test::Main([&] {
    long before = ResidentBytes();
    for (int round = 0; round < 2; round++) {
      gort_chan* c = gort_chan_make(sizeof(int), 0);
      ASSERT_NE(c, nullptr);
      g_arrived = 0;
      for (long i = 0; i < n; i++) ASSERT_EQ(gort_go(million ? ParkLight : Park, c), 0);
      while (g_arrived.load() < n) gort_sleep(1000000);
      long peak = ResidentBytes();
      gort_chan_close(c);
      while (gort_test::LiveGoroutines() > 1) gort_sleep(1000000);
      gort_chan_free(c);
      int64_t ended = gort_now();
      long after = ResidentBytes();
      while (after > before + slack && gort_now() - ended < 4000000000LL) {
        gort_sleep(20000000);
        after = ResidentBytes();
      }
      double secs = (double)(gort_now() - ended) / 1e9;
      fprintf(stderr, "round %d: %ld goroutines: RSS before %ld MiB, peak %ld MiB, after %ld MiB (%.2f s)\n", round,
              n, before >> 20, peak >> 20, after >> 20, secs);
      EXPECT_LE(after, before + slack) << "round " << round << ": RSS still " << (after >> 20) << " MiB, "
                                       << ((after - before) >> 20) << " MiB above the start, after " << secs
                                       << " s";
    }
  });
}

}  // namespace
