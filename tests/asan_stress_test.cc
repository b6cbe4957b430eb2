// asan_stress_test.cc — many short goroutines, in rounds, so every stack is
// reused many times: each does a 3-case select (a ready channel, an empty
// one, a timer started from a plain thread), sleeps, and exits.  Meant for
// --config=asan (no false report from the poisoning an exited goroutine
// leaves on a stack the next one reuses, nor from the fake frames of one
// that exited), but it runs everywhere.

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/core/runtime.h"
#include "tests/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GORT_TEST_ASAN 1
#endif

namespace {

using gort_test::Scale;

struct Round {
  gort_chan* ready;   // buffered: a value for some, then closed
  gort_chan* never;   // nothing is ever sent
  gort_timer* timer;  // started on a plain thread, period 1 ms
  // Hand-made, not a gort_test::Group: each goroutine's first frame must be
  // Short<N> or Clean itself (below); none has an assertion to return early.
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  std::atomic<long> picked{0};
};

// A frame with locals ASan puts redzones around, so an exited goroutine
// leaves poisoned shadow wherever this frame was on its stack.
__attribute__((noinline)) int Poisoner(int depth) {
  volatile char buf[200];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(depth + (int)i);
  if (depth > 0) return Poisoner(depth - 1) + buf[3];
  return buf[7];
}

// Writes through a pointer: checked by ASan (a direct, provably in-bounds
// access to a local array is not instrumented).
__attribute__((noinline)) void Fill(char* p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (char)i;
  asm volatile("" : : "r"(p) : "memory");
}

__attribute__((noinline)) void Work(Round* r) {
  int v = 0;
  int64_t fired = 0;
  gort_case cases[3] = {
      {r->ready, GORT_RECV, &v, 0},
      {r->never, GORT_RECV, nullptr, 0},
      {gort_timer_chan(r->timer), GORT_RECV, &fired, 0},
  };
  int k = gort_select(cases, 3, -1);
  if (k >= 0) r->picked.fetch_add(1, std::memory_order_relaxed);
  (void)Poisoner((int)(gort_self() % 8));
  gort_sleep(1000 * (int64_t)(gort_self() % 3));  // 0-2 us: some park on a timer
}

// A goroutine's first frame: an ordinary local of N bytes, over the part
// of the stack where the last goroutine to use it left its exit frames
// (mcall's redzones: gcc writes only a frame's redzones' shadow, so a
// stale one under a variable reads as an overflow).  Frames of several
// sizes, so some variable lands on whatever was left.
template <int N>
void Short(void* arg) {
  char local[N];
  Fill(local, sizeof local);
  Work(static_cast<Round*>(arg));
  Fill(local, sizeof local);
  gort_waitgroup_done(&static_cast<Round*>(arg)->wg);
}

// A first frame with no instrumented local (so no redzone of its own), and
// a callee likewise: everything from below the callee's frame (not used
// yet) to the top of the stack is theirs, g_main's and the entry frame's,
// none of which has a redzone, so any poisoned byte there is left over from
// an earlier goroutine, and fails an ordinary access to a local that lands
// on it (as it did before stacks were unpoisoned on reuse).
std::atomic<long> g_stale{0};

__attribute__((noinline)) void CheckAbove() {
#if defined(GORT_TEST_ASAN)
  G* g = gort_getg();
  // from 2 KiB below this frame (nothing has run there yet) to the top
  char* here = static_cast<char*>(__builtin_frame_address(0)) - 2048;
  char* top = static_cast<char*>(g->stack_lo) + g->stack_size;
  if (here < top && __asan_region_is_poisoned(here, (size_t)(top - here)) != nullptr) g_stale.fetch_add(1);
#endif
}

void Clean(void* arg) {
  CheckAbove();
  Work(static_cast<Round*>(arg));
  gort_waitgroup_done(&static_cast<Round*>(arg)->wg);
}

void (*const kShorts[])(void*) = {Short<8>,  Short<24>,  Short<40>,  Short<56>,  Short<72>,
                                  Short<96>, Short<136>, Short<200>, Short<320>, Short<1024>, Clean};

class AsanStress : public gort_test::Test {};

TEST_F(AsanStress, ThousandsOfShortGoroutinesInRounds) {
  const long per_round = Scale(2000);
  const int rounds = 5;
  gort_test::Main([&] {
    for (int round = 0; round < rounds; round++) {
      Round r;
      r.ready = gort_chan_make(sizeof(int), (size_t)per_round);
      r.never = gort_chan_make(0, 0);
      std::thread starter([&] { r.timer = gort_timer_start(1000000, 1000000); });
      starter.join();
      ASSERT_NE(r.ready, nullptr);
      ASSERT_NE(r.never, nullptr);
      ASSERT_NE(r.timer, nullptr);
      gort_waitgroup_add(&r.wg, per_round);
      for (long i = 0; i < per_round; i++) {
        ASSERT_EQ(gort_go(kShorts[i % 11], &r), 0);
        if (i % 4 == 0) {  // a quarter find a value ready, the rest park in the select
          int x = (int)i;
          ASSERT_EQ(gort_chan_send(r.ready, &x), 0);
        }
      }
      gort_sleep(2000000);
      gort_chan_close(r.ready);  // wakes whoever the timer did not
      // plain threads sleeping in the runtime meanwhile
      std::vector<std::thread> sleepers;
      for (int t = 0; t < 2; t++)
        sleepers.emplace_back([] {
          for (int i = 0; i < 20; i++) gort_sleep(100000);
        });
      gort_waitgroup_wait(&r.wg);
      for (auto& t : sleepers) t.join();
      EXPECT_EQ(r.picked.load(), per_round);
      EXPECT_EQ(g_stale.load(), 0) << "goroutines that started on a stack still poisoned by the last one";
      // the timer's last firings may still be on their way
      while (gort_timer_stop(r.timer) == -EBUSY) gort_sleep(1000000);
      gort_chan_free(r.ready);
      gort_chan_free(r.never);
    }
  });
}

}  // namespace
