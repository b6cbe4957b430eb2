// runq_test.cc — the per-P run queue in isolation (white box): FIFO order,
// runnext, overflow to the global queue, and stealing with concurrent
// thieves; and one property of the per-P timer heap (concurrent firings).
// No runtime is started in this binary: the Gs are fakes that only the
// queues touch.

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/runtime.h"

namespace {

struct Fixture : ::testing::Test {
  void SetUp() override {
    atomic_store(&gort_sched_g.gomaxprocs, 1);
    for (auto& p : ps) {
      p.reset(static_cast<P*>(calloc(1, sizeof(P))));
      atomic_store(&p->status, (uint32_t)P_RUNNING);
    }
    gs.reset(static_cast<G*>(calloc(kG, sizeof(G))));
  }
  void TearDown() override {
    // Empty the global queue for the next test.
    gort_sched_g.runq_head = gort_sched_g.runq_tail = nullptr;
    atomic_store(&gort_sched_g.runqsize, 0);
  }
  static constexpr int kG = 100000;
  struct Free {
    void operator()(void* p) const { free(p); }
  };
  std::unique_ptr<P, Free> ps[4];
  std::unique_ptr<G, Free> gs;
  G* g(int i) { return gs.get() + i; }
};

TEST_F(Fixture, FifoAndRunnextFirst) {
  P* p = ps[0].get();
  bool inherit;
  EXPECT_TRUE(gort_runq_empty(p));
  for (int i = 0; i < 10; i++) gort_runq_put(p, g(i), false);
  gort_runq_put(p, g(10), true);
  EXPECT_EQ(gort_runq_get(p, &inherit), g(10));
  EXPECT_TRUE(inherit) << "a G from runnext inherits the time slice";
  for (int i = 0; i < 10; i++) {
    EXPECT_EQ(gort_runq_get(p, &inherit), g(i));
    EXPECT_FALSE(inherit);
  }
  EXPECT_EQ(gort_runq_get(p, &inherit), nullptr);
}

TEST_F(Fixture, NewRunnextKicksOldToTail) {
  P* p = ps[0].get();
  bool inherit;
  gort_runq_put(p, g(0), true);
  gort_runq_put(p, g(1), true);
  EXPECT_EQ(gort_runq_get(p, &inherit), g(1));
  EXPECT_EQ(gort_runq_get(p, &inherit), g(0));
}

TEST_F(Fixture, OverflowMovesHalfToGlobalQueue) {
  P* p = ps[0].get();
  for (int i = 0; i < RUNQ_SIZE; i++) gort_runq_put(p, g(i), false);
  EXPECT_EQ(gort_runq_len(p), (uint32_t)RUNQ_SIZE);
  gort_runq_put(p, g(RUNQ_SIZE), false);  // full: half + the new one go global
  EXPECT_EQ(gort_runq_len(p), (uint32_t)RUNQ_SIZE / 2);
  EXPECT_EQ(atomic_load(&gort_sched_g.runqsize), RUNQ_SIZE / 2 + 1);
  // Oldest first in the global queue too.
  EXPECT_EQ(gort_sched_g.runq_head, g(0));
  EXPECT_EQ(gort_sched_g.runq_tail, g(RUNQ_SIZE));
}

TEST_F(Fixture, StealTakesHalf) {
  P *victim = ps[0].get(), *thief = ps[1].get();
  bool inherit;
  for (int i = 0; i < 10; i++) gort_runq_put(victim, g(i), false);
  G* got = gort_runq_steal(thief, victim, false, nullptr);
  EXPECT_EQ(got, g(4));  // took g0..g4, runs the last, queues the rest
  EXPECT_EQ(gort_runq_len(thief), 4u);
  EXPECT_EQ(gort_runq_len(victim), 5u);
  EXPECT_EQ(gort_runq_get(thief, &inherit), g(0));
}

TEST_F(Fixture, StealTakesRunnextOnlyWhenAsked) {
  P *victim = ps[0].get(), *thief = ps[1].get();
  atomic_store(&victim->status, (uint32_t)P_IDLE);  // no grace period
  gort_runq_put(victim, g(7), true);
  EXPECT_EQ(gort_runq_steal(thief, victim, false, nullptr), nullptr);
  EXPECT_EQ(gort_runq_steal(thief, victim, true, nullptr), g(7));
  EXPECT_TRUE(gort_runq_empty(victim));
}

// A running victim's runnext is taken only if the victim did not switch
// while the thief waited: then the G that readied it is still running.
TEST_F(Fixture, RunnextOfAStuckRunningPIsStolen) {
  P *victim = ps[0].get(), *thief = ps[1].get();
  gort_runq_put(victim, g(7), true);
  bool cycling = false;
  EXPECT_EQ(gort_runq_steal(thief, victim, true, &cycling), g(7));
  EXPECT_FALSE(cycling);
}

// A victim that switches meanwhile is cycling through the Gs it readies
// (a ping-pong pair): its runnext stays, and the thief is told.  A helper
// thread plays the victim, counting switches; if the OS deschedules it for
// the whole wait, the thief rightly steals, so that is retried.
TEST_F(Fixture, RunnextOfACyclingPStays) {
  P *victim = ps[0].get(), *thief = ps[1].get();
  std::atomic<bool> stop{false};
  std::thread owner([&] {
    while (!stop.load(std::memory_order_relaxed))
      atomic_store_explicit(&victim->n_switches,
                            atomic_load_explicit(&victim->n_switches, memory_order_relaxed) + 1,
                            memory_order_relaxed);
  });
  bool left = false;
  for (int attempt = 0; attempt < 100 && !left; attempt++) {
    gort_runq_put(victim, g(7), true);
    bool cycling = false;
    G* got = gort_runq_steal(thief, victim, true, &cycling);
    left = got == nullptr && cycling;
    if (got == nullptr) {
      EXPECT_TRUE(cycling);
    }
    bool inherit;
    EXPECT_EQ(gort_runq_get(victim, &inherit), got == nullptr ? g(7) : nullptr);
  }
  stop = true;
  owner.join();
  EXPECT_TRUE(left);
}

// Two Ms may fire consecutive periods of a ticker at once (timer.c): the
// first one's callback is slow (here: blocked until released), the second
// finds the next period due.  Their callbacks must run in firing order, or
// a ticker sends an older fire time after a newer one (the soak caught it
// under qemu).  If the second M is slow to start the check proves nothing,
// but never fails wrongly.
struct Ticker {
  gort_tnode node{};
  std::atomic<bool> release{false};
  std::atomic<int> calls{0};
  std::vector<int64_t> fired;  // each callback appends under `calls`
};

void TickerFire(void* arg, int64_t now) {
  auto* t = static_cast<Ticker*>(arg);
  if (t->calls.fetch_add(1) == 0)
    while (!t->release.load()) std::this_thread::yield();
  t->fired.push_back(now);
}

TEST_F(Fixture, TickerPeriodsFiredAtOnceCallBackInOrder) {
  P* p = ps[0].get();
  Ticker t;
  t.node.when = 1000;
  t.node.period = 1000;
  t.node.f = TickerFire;
  t.node.arg = &t;
  t.node.idx = -1;
  t.node.sync = true;
  gort_timer_add(p, &t.node);
  std::thread first([&] { gort_timers_run(p, 1000); });  // period 0; its callback blocks
  while (t.calls.load() == 0) std::this_thread::yield();
  std::thread second([&] { gort_timers_run(p, 2000); });  // period 1, due meanwhile
  for (int i = 0; i < 200 && t.calls.load() < 2; i++) std::this_thread::sleep_for(std::chrono::microseconds(100));
  EXPECT_EQ(t.calls.load(), 1) << "the second period's callback ran before the first returned";
  t.release = true;
  first.join();
  second.join();
  ASSERT_EQ(t.fired.size(), 2u);
  EXPECT_LT(t.fired[0], t.fired[1]);
  gort_timer_del_sync(&t.node);
  free(p->timers.heap);  // the fixture's P is a bare calloc
}

// The owner keeps producing and consuming while three thieves steal: every
// G comes out exactly once, in the owner, a thief, or the global queue.
TEST_F(Fixture, ConcurrentThievesLoseNothing) {
  P* owner = ps[0].get();
  std::vector<std::atomic<int>> seen(kG);
  std::atomic<bool> done{false};
  auto consume = [&](G* x) {
    if (x != nullptr) seen[x - gs.get()]++;
  };
  std::vector<std::thread> thieves;
  for (int t = 1; t <= 3; t++)
    thieves.emplace_back([&, t] {
      P* mine = ps[t].get();
      bool inherit;
      while (!done.load()) {
        consume(gort_runq_steal(mine, owner, (t & 1) != 0, nullptr));
        for (G* x; (x = gort_runq_get(mine, &inherit)) != nullptr;) consume(x);
      }
    });
  bool inherit;
  for (int i = 0; i < kG; i++) {
    gort_runq_put(owner, g(i), i % 3 == 0);
    if (i % 5 == 0) consume(gort_runq_get(owner, &inherit));
  }
  for (G* x; (x = gort_runq_get(owner, &inherit)) != nullptr;) consume(x);
  done = true;
  for (auto& t : thieves) t.join();
  for (G* x = gort_sched_g.runq_head; x != nullptr; x = x->schedlink) consume(x);
  for (int i = 0; i < kG; i++) ASSERT_EQ(seen[i].load(), 1) << "G " << i;
}

}  // namespace
