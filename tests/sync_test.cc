// sync_test.cc — gort_waitgroup and gort_sema, with goroutine and
// plain-thread users mixed.  The WaitGroup tests use hand-made waitgroups
// (they test gort_waitgroup); the rest wait through gort_test::Group.

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
    gort_test::Group wg;
    for (int i = 0; i < 200; i++) {
      wg.Go([&] {
        EXPECT_EQ(gort_sema_acquire(&sem), 0);
        int now = ++inside;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        gort_yield();
        inside--;
        EXPECT_EQ(gort_sema_release(&sem), 0);
      });
    }
    wg.Wait();
  });
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(gort_sema_acquire(nullptr), -EINVAL);
  EXPECT_EQ(gort_sema_release(nullptr), -EINVAL);
}

TEST_F(Sync, SemaOverflowIsRefused) {
  gort_sema full = GORT_SEMA_INIT(UINT32_MAX);
  EXPECT_EQ(gort_sema_release(&full), -EOVERFLOW);
  EXPECT_EQ(gort_sema_acquire(&full), 0);  // the count was not wrapped to 0
  EXPECT_EQ(gort_sema_release(&full), 0);
}

// A plain thread wakes a goroutine, and a goroutine wakes a plain thread,
// through the same semaphore, many times.
TEST_F(Sync, SemaPingPongBetweenThreadAndGoroutine) {
  gort_sema to_g = GORT_SEMA_INIT(0), to_t = GORT_SEMA_INIT(0);
  const int kRounds = (int)gort_test::Scale(20000);
  gort_test::Group wg;
  wg.Go([&] {
    for (int i = 0; i < kRounds; i++) {
      gort_sema_acquire(&to_g);
      gort_sema_release(&to_t);
    }
  });
  for (int i = 0; i < kRounds; i++) {
    gort_sema_release(&to_g);
    gort_sema_acquire(&to_t);
  }
  wg.Wait();
}

// ---- mutex ----------------------------------------------------------------

TEST_F(Sync, MutexExcludesGoroutinesAndThreads) {
  gort_mutex mu = GORT_MUTEX_INIT;
  long counter = 0;  // not atomic: the mutex protects it
  const long per = gort_test::Scale(20000);
  auto work = [&] {
    for (long i = 0; i < per; i++) {
      ASSERT_EQ(gort_mutex_lock(&mu), 0);
      counter++;
      ASSERT_EQ(gort_mutex_unlock(&mu), 0);
    }
  };
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; i++) ts.emplace_back(work);
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 8; g++) {
      wg.Go([&] {
        work();
      });
    }
    wg.Wait();
  });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 10 * per);
}

TEST_F(Sync, MutexTrylockAndMisuse) {
  gort_mutex mu = {};  // zero value works
  EXPECT_EQ(gort_mutex_unlock(&mu), -EPERM);
  EXPECT_EQ(gort_mutex_trylock(&mu), 0);
  EXPECT_EQ(gort_mutex_trylock(&mu), -EBUSY);
  EXPECT_EQ(gort_mutex_unlock(&mu), 0);
  EXPECT_EQ(gort_mutex_unlock(&mu), -EPERM);
  EXPECT_EQ(gort_mutex_lock(nullptr), -EINVAL);
  EXPECT_EQ(gort_mutex_lock(&mu), 0);  // still usable after the misuse
  EXPECT_EQ(gort_mutex_unlock(&mu), 0);
}

// Starvation mode (Go's TestMutexFairness): one goroutine re-locks the
// mutex as soon as it unlocks it; a second must still get it, because
// after 1 ms of waiting the mutex hands itself to the waiter.  The test
// also sees the starving bit set at least once.
TEST_F(Sync, MutexStarvationModeLetsAWaiterIn) {
  gort_test::Procs procs_scope(2);
  gort_mutex mu = GORT_MUTEX_INIT;
  std::atomic<bool> stop{false}, saw_starving{false};
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {  // the hog
      while (!stop) {
        gort_mutex_lock(&mu);
        int64_t t0 = gort_now();
        while (gort_now() - t0 < 100000) {  // hold it 0.1 ms
        }
        if (__atomic_load_n(&mu.state_[0], __ATOMIC_RELAXED) & 4) saw_starving = true;  // others CAS it
        gort_mutex_unlock(&mu);
      }
    });
    for (int i = 0; i < 10; i++) {  // the waiter
      gort_mutex_lock(&mu);
      gort_mutex_unlock(&mu);
      gort_sleep(100000);
    }
    stop = true;
    wg.Wait();
  });
  EXPECT_TRUE(saw_starving.load()) << "the waiter got in without starvation mode?";
}

// ---- rwmutex --------------------------------------------------------------

TEST_F(Sync, RWMutexReadersShareWritersExclude) {
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  std::atomic<int> readers{0}, most_readers{0};
  long value = 0;
  std::atomic<int> bad{0};
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 8; g++) {
      wg.Go([&, g] {
        for (int i = 0; i < 300; i++) {
          if ((g + i) % 4 == 0) {
            gort_rwmutex_lock(&rw);
            if (readers.load() != 0) bad++;
            long v = value;
            gort_yield();
            value = v + 1;
            gort_rwmutex_unlock(&rw);
          } else {
            gort_rwmutex_rlock(&rw);
            int n = ++readers;
            int m = most_readers.load();
            while (n > m && !most_readers.compare_exchange_weak(m, n)) {
            }
            gort_yield();
            readers--;
            gort_rwmutex_runlock(&rw);
          }
        }
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(bad.load(), 0) << "a writer ran beside readers";
  EXPECT_EQ(value, 8 * 300 / 4);
  EXPECT_GE(most_readers.load(), 2) << "readers never overlapped";
}

TEST_F(Sync, RWMutexMisuse) {
  gort_rwmutex rw = {};
  EXPECT_EQ(gort_rwmutex_runlock(&rw), -EPERM);
  EXPECT_EQ(gort_rwmutex_unlock(&rw), -EPERM);
  EXPECT_EQ(gort_rwmutex_rlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_unlock(&rw), -EPERM);  // read-locked, not write-locked
  EXPECT_EQ(gort_rwmutex_runlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_lock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_runlock(&rw), -EPERM);  // write-locked, no reader
  EXPECT_EQ(gort_rwmutex_unlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_rlock(nullptr), -EINVAL);
}

// ---- cond -------------------------------------------------------------------

TEST_F(Sync, CondProducerConsumer) {
  gort_mutex mu = GORT_MUTEX_INIT;
  gort_cond cv = GORT_COND_INIT;
  std::vector<int> queue;
  const int kItems = 2000;
  long sum = 0;
  std::thread consumer([&] {  // a plain thread waits on the cond too
    for (int got = 0; got < kItems / 2; got++) {
      gort_mutex_lock(&mu);
      while (queue.empty()) ASSERT_EQ(gort_cond_wait(&cv, &mu), 0);
      sum += queue.back();
      queue.pop_back();
      gort_mutex_unlock(&mu);
    }
  });
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      for (int got = 0; got < kItems / 2; got++) {
        gort_mutex_lock(&mu);
        while (queue.empty())
          if (gort_cond_wait(&cv, &mu) != 0) {
            gort_mutex_unlock(&mu);  // the producer needs it
            FAIL() << "gort_cond_wait failed";
          }
        sum += queue.back();
        queue.pop_back();
        gort_mutex_unlock(&mu);
      }
    });
    for (int i = 1; i <= kItems; i++) {
      gort_mutex_lock(&mu);
      queue.push_back(i);
      gort_cond_signal(&cv);
      gort_mutex_unlock(&mu);
      if (i % 10 == 0) gort_yield();
    }
    wg.Wait();
  });
  consumer.join();
  EXPECT_EQ(sum, (long)kItems * (kItems + 1) / 2);
}

TEST_F(Sync, CondBroadcastWakesAll) {
  gort_mutex mu = GORT_MUTEX_INIT;
  gort_cond cv = GORT_COND_INIT;
  bool go = false;
  std::atomic<int> woke{0};
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 20; g++) {
      wg.Go([&] {
        gort_mutex_lock(&mu);
        while (!go) gort_cond_wait(&cv, &mu);
        gort_mutex_unlock(&mu);
        woke++;
      });
    }
    gort_sleep(5 * 1000 * 1000);
    gort_mutex_lock(&mu);
    go = true;
    gort_cond_broadcast(&cv);
    gort_mutex_unlock(&mu);
    wg.Wait();
  });
  EXPECT_EQ(woke.load(), 20);
  gort_mutex unlocked = GORT_MUTEX_INIT;
  EXPECT_EQ(gort_cond_wait(&cv, &unlocked), -EPERM);
  EXPECT_EQ(gort_cond_signal(nullptr), -EINVAL);
}

// ---- once -------------------------------------------------------------------

TEST_F(Sync, OnceRunsOnceAndEveryoneWaitsForIt) {
  static gort_once once = GORT_ONCE_INIT;
  static std::atomic<int> runs{0};
  static std::atomic<bool> finished{false};
  std::atomic<int> early{0};
  auto fn = [](void*) {
    runs++;
    gort_sleep(10 * 1000 * 1000);
    finished = true;
  };
  auto call = [&] {
    EXPECT_EQ(gort_once_do(&once, fn, nullptr), 0);
    if (!finished) early++;
  };
  std::thread t(call);
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 50; g++) {
      wg.Go([&] {
        call();
      });
    }
    wg.Wait();
  });
  t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(early.load(), 0) << "a caller returned before fn finished";
  EXPECT_EQ(gort_once_do(nullptr, fn, nullptr), -EINVAL);
}

}  // namespace
