// timer_test.cc — gort_timer: one-shot and periodic, stop (also while
// firing), and timers under load.

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class Timer : public gort_test::Test {};

TEST_F(Timer, OneShotFiresOnceWithItsTime) {
  int64_t t0 = gort_now();
  gort_timer* t = gort_timer_start(3 * 1000 * 1000, 0);
  ASSERT_NE(t, nullptr);
  int64_t when = 0;
  ASSERT_EQ(gort_chan_recv(gort_timer_chan(t), &when), 0);  // plain thread waits
  EXPECT_GE(when, t0 + 3 * 1000 * 1000);
  EXPECT_EQ(gort_chan_recv_timeout(gort_timer_chan(t), &when, 20 * 1000 * 1000), -ETIMEDOUT) << "fired twice";
  EXPECT_EQ(gort_timer_stop(t), 0);
}

TEST_F(Timer, PeriodicTicks) {
  Main([] {
    const int64_t period = 2 * 1000 * 1000;
    int64_t start = gort_now(), last = 0, when;  // before the timer's own clock read
    gort_timer* t = gort_timer_start(period, period);
    ASSERT_NE(t, nullptr);
    for (int i = 0; i < 5; i++) {
      ASSERT_EQ(gort_chan_recv(gort_timer_chan(t), &when), 0);
      // Never early: the k-th tick received fires no sooner than the
      // k-th scheduled time (late ones may bunch up; dropped ones skip).
      EXPECT_GE(when, start + (i + 1) * period) << "tick " << i;
      EXPECT_GT(when, last);
      last = when;
    }
    EXPECT_EQ(gort_timer_stop(t), 0);
  });
}

TEST_F(Timer, StoppedTimerNeverFires) {
  gort_timer* t = gort_timer_start(5 * 1000 * 1000, 0);
  ASSERT_NE(t, nullptr);
  gort_chan* c = gort_timer_chan(t);
  (void)c;
  EXPECT_EQ(gort_timer_stop(t), 0);
  gort_sleep(10 * 1000 * 1000);  // nothing may touch the freed timer (asan would say)
}

// Many fast tickers stopped at random moments, while they fire, from
// goroutines on every P and from threads.
TEST_F(Timer, StopWhileFiringUnderLoad) {
  std::atomic<long> ticks{0};
  auto churn = [&](int seed) {
    for (int i = 0; i < 200; i++) {
      gort_timer* t = gort_timer_start(1000 * (i % 5), 1000 + 1000 * (seed % 3));
      ASSERT_NE(t, nullptr);
      int64_t when;
      if (gort_chan_recv_timeout(gort_timer_chan(t), &when, (i % 4) * 100000) == 0) ticks++;
      ASSERT_EQ(gort_timer_stop(t), 0);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; i++) threads.emplace_back(churn, i);
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 16; g++) {
      wg.Go([&, g] {
        churn(g);
      });
    }
    wg.Wait();
  });
  for (auto& t : threads) t.join();
  EXPECT_GT(ticks.load(), 0);
}

// A full channel drops firings instead of blocking the runtime.
TEST_F(Timer, SlowReaderDropsTicks) {
  gort_timer* t = gort_timer_start(100000, 100000);  // every 0.1 ms
  ASSERT_NE(t, nullptr);
  gort_sleep(20 * 1000 * 1000);
  EXPECT_EQ(gort_chan_len(gort_timer_chan(t)), 1u);
  EXPECT_EQ(gort_timer_stop(t), 0);
}

TEST_F(Timer, BadArguments) {
  errno = 0;
  EXPECT_EQ(gort_timer_start(-1, 0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(gort_timer_start(0, -5), nullptr);
  EXPECT_EQ(gort_timer_stop(nullptr), -EINVAL);
  EXPECT_EQ(gort_timer_chan(nullptr), nullptr);
}

// Timers of plain threads do not live on any one P: with one P held by a
// goroutine blocked in the kernel outside gort (a plain usleep, which
// sysmon cannot preempt), a plain thread's timer still fires on time.
TEST_F(Timer, PlainThreadTimerFiresWhileTheOnlyPIsHeld) {
  gort_test::Procs one(1);
  std::atomic<bool> holding{false};
  int64_t waited = 0;
  std::thread t([&] {
    while (!holding) usleep(100);
    usleep(20 * 1000);  // it is in its usleep
    int64_t t0 = gort_now();
    gort_timer* tm = gort_timer_start(10 * 1000 * 1000, 0);
    int64_t when = 0;
    EXPECT_EQ(gort_chan_recv(gort_timer_chan(tm), &when), 0);
    waited = gort_now() - t0;
    EXPECT_EQ(gort_timer_stop(tm), 0);
  });
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      holding = true;
      int64_t end = gort_now() + 1000LL * 1000 * 1000;
      while (gort_now() < end) usleep(10 * 1000);  // holds the only P for 1 s (EINTR: again)
    });
    wg.Wait();
  });
  t.join();
  // A stall shows as the whole second; on time is ~10 ms.
  EXPECT_LT(waited, 500LL * 1000 * 1000) << "the timer waited for the held P";
}

}  // namespace
