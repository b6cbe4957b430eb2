// harness_child.cc — a googletest program whose tests fail on purpose, run
// by harness_test.cc in a child process (never on its own: it is a
// cc_binary, not a test).  Each test's assertion fails inside a goroutine.

#include <gtest/gtest.h>

#include "tests/harness.h"

namespace {

// The goroutine's ASSERT returns from its body early; the Group signals
// done anyway, so Wait() returns and googletest reports the failure.
TEST(HarnessChild, AssertInAGroupGoroutine) {
  gort_test::Main([] {
    gort_test::Group g;
    g.Go([] {
      int answer = 41;
      ASSERT_EQ(answer, 42) << "planted failure in a goroutine";
      ADD_FAILURE() << "not reached: the ASSERT returned";
    });
    g.Wait();
  });
}

// The pattern the Group replaces: the early return skips the done, and the
// waiting goroutine is left to the runtime's deadlock report (exit 2).
TEST(HarnessChild, AssertBeforeAHandMadeDone) {
  gort_test::Main([] {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg, 1);
    gort_test::Go([&] {
      int answer = 41;
      ASSERT_EQ(answer, 42) << "planted failure in a goroutine";
      gort_waitgroup_done(&wg);
    });
    gort_waitgroup_wait(&wg);
  });
}

}  // namespace
