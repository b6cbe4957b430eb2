// sync_test.cc — gort_waitgroup and gort_sema, with goroutine and
// plain-thread users mixed.

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class Sync : public gort_test::Test {};

TEST_F(Sync, WaitGroupWaitsForEveryDone) {
  std::atomic<int> done{0};
  Main([&] {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    ASSERT_EQ(gort_waitgroup_add(&wg, 100), 0);
    for (int i = 0; i < 100; i++)
      Go([&] {
        gort_sleep(100000);
        done++;
        gort_waitgroup_done(&wg);
      });
    gort_waitgroup_wait(&wg);
    EXPECT_EQ(done.load(), 100);
  });
}

TEST_F(Sync, WaitGroupZeroValueAndReuse) {
  gort_waitgroup wg = {};  // zero value works like GORT_WAITGROUP_INIT
  EXPECT_EQ(gort_waitgroup_wait(&wg), 0);  // counter 0: returns at once
  Main([&] {
    for (int round = 0; round < 50; round++) {
      gort_waitgroup_add(&wg, 3);
      for (int i = 0; i < 3; i++) Go([&] { gort_waitgroup_done(&wg); });
      gort_waitgroup_wait(&wg);
    }
  });
}

TEST_F(Sync, WaitGroupNegativeCounterIsEinvalAndHarmless) {
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  EXPECT_EQ(gort_waitgroup_done(&wg), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, -5), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, 2), 0);
  EXPECT_EQ(gort_waitgroup_add(&wg, -3), -EINVAL);  // counter stays 2
  EXPECT_EQ(gort_waitgroup_add(&wg, -2), 0);
  EXPECT_EQ(gort_waitgroup_wait(&wg), 0);
  EXPECT_EQ(gort_waitgroup_add(nullptr, 1), -EINVAL);
  EXPECT_EQ(gort_waitgroup_wait(nullptr), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, (int64_t)1 << 40), -EINVAL);
}

// Many waiters, goroutines and plain threads, all wake when the counter
// reaches zero, whether goroutines or threads call done.
TEST_F(Sync, WaitGroupMixedWaitersAndSignallers) {
  for (bool threads_signal : {false, true}) {
    gort_waitgroup wg = GORT_WAITGROUP_INIT, waiters = GORT_WAITGROUP_INIT;
    std::atomic<int> woke{0};
    gort_waitgroup_add(&wg, 8);
    gort_waitgroup_add(&waiters, 4);
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++) ts.emplace_back([&] {
        gort_waitgroup_wait(&wg);
        woke++;
      });
    for (int i = 0; i < 4; i++) Go([&] {
        gort_waitgroup_wait(&wg);
        woke++;
        gort_waitgroup_done(&waiters);
      });
    for (int i = 0; i < 8; i++) {
      if (threads_signal)
        ts.emplace_back([&] { gort_waitgroup_done(&wg); });
      else
        Go([&] { gort_waitgroup_done(&wg); });
    }
    gort_waitgroup_wait(&waiters);
    for (auto& t : ts) t.join();
    EXPECT_EQ(woke.load(), 8);
  }
}

// A counting semaphore never admits more than its count.
TEST_F(Sync, SemaBoundsConcurrency) {
  gort_sema sem = GORT_SEMA_INIT(3);
  std::atomic<int> inside{0}, most{0};
  Main([&] {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    for (int i = 0; i < 200; i++) {
      gort_waitgroup_add(&wg, 1);
      Go([&] {
        ASSERT_EQ(gort_sema_acquire(&sem), 0);
        int now = ++inside;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        gort_yield();
        inside--;
        ASSERT_EQ(gort_sema_release(&sem), 0);
        gort_waitgroup_done(&wg);
      });
    }
    gort_waitgroup_wait(&wg);
  });
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(gort_sema_acquire(nullptr), -EINVAL);
  EXPECT_EQ(gort_sema_release(nullptr), -EINVAL);
}

// A plain thread wakes a goroutine, and a goroutine wakes a plain thread,
// through the same semaphore, many times.
TEST_F(Sync, SemaPingPongBetweenThreadAndGoroutine) {
  gort_sema to_g = GORT_SEMA_INIT(0), to_t = GORT_SEMA_INIT(0);
  const int kRounds = (int)gort_test::Scale(20000);
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  gort_waitgroup_add(&wg, 1);
  Go([&] {
    for (int i = 0; i < kRounds; i++) {
      gort_sema_acquire(&to_g);
      gort_sema_release(&to_t);
    }
    gort_waitgroup_done(&wg);
  });
  for (int i = 0; i < kRounds; i++) {
    gort_sema_release(&to_g);
    gort_sema_acquire(&to_t);
  }
  gort_waitgroup_wait(&wg);
}

}  // namespace
