// death_test.cc — the fatal paths: each must print one line naming the
// goroutine and the cause, then die.  This binary never starts the runtime
// in the parent process: every death test starts a fresh one in its child
// (gtest's "fast" style forks, and a forked child has none of the parent's
// threads), which also works under qemu.

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/gort.h"

namespace {

// Each frame writes all of its 512-byte local, as real code writes its
// locals: a canary is only hit by an overflow that writes over it.
__attribute__((noinline)) int Recurse(int depth, int stop) {
  volatile char frame[512];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (char)depth;
  if (depth == stop) return frame[0];
  return Recurse(depth + 1, stop) + frame[0];  // not a tail call
}

void OverflowForever(void*) { Recurse(0, -1); }

TEST(StackDeathTest, GuardPageOverflowNamesTheGoroutine) {
  EXPECT_DEATH(gort_main(OverflowForever, nullptr),
               "gort: goroutine [0-9]+ stack overflow \\(stack [0-9]+ bytes\\)");
}

// Past the guard-page budget a stack is canary-checked at every switch.
// GORT_DEBUG=stackguard=0 makes every stack so.  The goroutine overruns its
// 64 KiB stack by ~12 KiB into the slot below, returns, and yields.  It
// sleeps first so the goroutine below is parked, not running, when its
// stack is trampled (a canary cannot protect a running neighbour).
void OverflowABit(void*) {
  gort_sleep(20 * 1000 * 1000);
  Recurse(0, (76 << 10) / 560);
  gort_yield();
}

void StartAnotherThenOverflow(void*) {
  // The main goroutine holds slot 0 (whose floor is a guard page); this one
  // gets slot 1, whose canary sits at the top of slot 0.
  gort_main(OverflowABit, nullptr);
}

TEST(StackDeathTest, CanaryOverflowNamesTheGoroutine) {
  EXPECT_DEATH(
      {
        setenv("GORT_DEBUG", "stackguard=0", 1);
        gort_main(StartAnotherThenOverflow, nullptr);
      },
      "gort: goroutine [0-9]+ stack overflow \\(stack [0-9]+ bytes, canary clobbered\\)");
}

// Overflow on a custom-size stack (its own mapping and guard page).
void OverflowCustom(void*) {
  gort_go_attr attr = {256 << 10, "custom"};
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  gort_waitgroup_add(&wg, 1);
  gort_go_with(OverflowForever, nullptr, &attr);
  gort_waitgroup_wait(&wg);
}

TEST(StackDeathTest, CustomStackOverflowIsReported) {
  EXPECT_DEATH(gort_main(OverflowCustom, nullptr),
               "gort: goroutine [0-9]+ stack overflow \\(stack 262144 bytes\\)");
}

// A fault that is not a stack overflow is left to the default action.
void NullDeref(void*) { *(volatile int*)nullptr = 1; }

TEST(StackDeathTest, OtherFaultsAreNotCalledOverflow) {
  EXPECT_EXIT(gort_main(NullDeref, nullptr), ::testing::KilledBySignal(SIGSEGV),
              ::testing::Not(::testing::HasSubstr("stack overflow")));
}

}  // namespace
