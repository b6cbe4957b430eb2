// goroutine_test.cc — goroutines and the scheduler, through the public API
// (and, where a test must see an M or a P, the internal header).

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cfenv>
#include <cstring>
#include <atomic>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "absl/container/flat_hash_set.h"
#include "runtime/core/runtime.h"
#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;
using gort_test::Scale;

class Goroutines : public gort_test::Test {};

// Every goroutine started runs exactly once.
TEST_F(Goroutines, EveryGoroutineRunsOnce) {
  const long n = Scale(20000);
  std::vector<std::atomic<int>> ran(n);
  Main([&] {
    gort_test::Group wg;
    for (long i = 0; i < n; i++) {
      ASSERT_EQ(wg.Go([&, i] { ran[i]++; }), 0);
    }
    wg.Wait();
  });
  for (long i = 0; i < n; i++) ASSERT_EQ(ran[i].load(), 1) << "goroutine " << i;
}

// One million goroutines, spawned by one goroutine, all complete.
TEST_F(Goroutines, OneMillionComplete) {
  static std::atomic<long> count;
  count = 0;
  gort_stats before, after;
  gort_stats_get(&before);
  Main([] {
    gort_test::Group wg;
    for (long i = 0; i < 1000000; i++) ASSERT_EQ(wg.Go([] { count++; }), 0);
    wg.Wait();
  });
  gort_stats_get(&after);
  EXPECT_EQ(count.load(), 1000000);
  EXPECT_GE(after.spawned - before.spawned, 1000000u);
}

// Goroutines started from plain threads (no runtime context) run, and a
// plain thread can wait for them.
TEST_F(Goroutines, StartedFromPlainThreads) {
  std::atomic<long> count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&] {
      gort_test::Group wg;
      EXPECT_EQ(gort_self(), 0u);
      for (int i = 0; i < 500; i++) {
        EXPECT_EQ(wg.Go([&] {
          EXPECT_NE(gort_self(), 0u);
          count++;
        }),
                  0);
      }
      wg.Wait();  // blocks this thread
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(count.load(), 2000);
}

// CPU-bound goroutines spawned by one goroutine spread to every P: the
// other Ps steal them.
TEST_F(Goroutines, WorkSpreadsToEveryP) {
  const int procs = 4;  // oversubscribed on small machines: still all used
  gort_test::Procs procs_scope(procs);
  std::atomic<int> used[GORT_MAXPROCS_LIMIT] = {};
  gort_stats before, after;
  gort_stats_get(&before);
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 400; i++) {
      wg.Go([&] {
        volatile uint64_t x = 1;
        for (int k = 0; k < 200000; k++) x = x * 6364136223846793005ull + 1;
        used[gort_getm()->p->id]++;
      });
    }
    wg.Wait();
  });
  gort_stats_get(&after);
  for (int p = 0; p < procs; p++) EXPECT_GT(used[p].load(), 0) << "P " << p << " ran nothing";
  EXPECT_GT(after.steals, before.steals);
}

// With one P, goroutines that yield take turns: a goroutine runs twice in a
// row only when every other one has finished.
TEST_F(Goroutines, YieldTakesTurns) {
  gort_test::Procs procs_scope(1);
  const int kG = 4, kRounds = 1000;
  std::vector<int> order;
  order.reserve(kG * kRounds);
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < kG; g++) {
      wg.Go([&, g] {
        for (int r = 0; r < kRounds; r++) {
          order.push_back(g);  // one P: no data race
          gort_yield();
        }
      });
    }
    wg.Wait();
  });
  ASSERT_EQ(order.size(), size_t{kG * kRounds});
  std::vector<size_t> last(kG, 0);
  for (size_t i = 0; i < order.size(); i++) last[order[i]] = i;
  for (size_t i = 0; i + 1 < order.size(); i++) {
    if (order[i] != order[i + 1]) continue;
    for (int g = 0; g < kG; g++) {
      if (g != order[i]) {
        ASSERT_LT(last[g], i) << "goroutine " << order[i] << " ran twice at " << i;
      }
    }
  }
}

// gort_sleep parks for at least the time asked, from goroutines (many at
// once) and from plain threads.
TEST_F(Goroutines, SleepNeverWakesEarly) {
  Main([] {
    gort_test::Group wg;
    for (int i = 0; i < 200; i++) {
      wg.Go([i] {
        int64_t want = (i % 20 + 1) * 500000;  // 0.5 .. 10 ms
        int64_t t0 = gort_now();
        gort_sleep(want);
        EXPECT_GE(gort_now() - t0, want);
      });
    }
    wg.Wait();
  });
  int64_t t0 = gort_now();
  gort_sleep(2000000);  // plain thread
  EXPECT_GE(gort_now() - t0, 2000000);
}

// A sleeping goroutine does not hold its thread: with one P, others run
// while it sleeps.
TEST_F(Goroutines, SleepParksOnlyTheGoroutine) {
  gort_test::Procs procs_scope(1);
  std::atomic<bool> sleeper_done{false};
  std::atomic<long> work{0};
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      gort_sleep(50000000);
      sleeper_done = true;
    });
    wg.Go([&] {
      while (!sleeper_done) {
        work++;
        gort_yield();
      }
    });
    wg.Wait();
  });
  EXPECT_GT(work.load(), 0);
}

TEST_F(Goroutines, SelfIsUniqueAndZeroOnThreads) {
  EXPECT_EQ(gort_self(), 0u);
  // A gort_mutex, not a thread-owned lock: async preemption may move a
  // goroutine to another thread inside its critical section (README).
  gort_mutex mu = GORT_MUTEX_INIT;
  absl::flat_hash_set<uint64_t> ids;
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 1000; i++) {
      wg.Go([&] {
        uint64_t id = gort_self();
        EXPECT_NE(id, 0u);
        gort_yield();
        EXPECT_EQ(gort_self(), id);
        gort_mutex_lock(&mu);
        EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
        gort_mutex_unlock(&mu);
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(ids.size(), 1000u);
}

// errno is per goroutine: the value set before a park is there after it,
// whichever thread the goroutine resumes on.  (errno is read through a
// non-inlined function: see the thread-local rule in gort.h.)
using gort_test::ReadErrno;
using gort_test::WriteErrno;

TEST_F(Goroutines, ErrnoSurvivesParks) {
  gort_test::Procs procs_scope(2);
  std::atomic<int> bad{0};
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 64; g++) {
      wg.Go([&, g] {
        for (int r = 0; r < 200; r++) {
          WriteErrno(1000 + g * 1000 + r);
          if (r % 2) {
            gort_yield();
          } else {
            gort_sleep(10000);
          }
          if (ReadErrno() != 1000 + g * 1000 + r) bad++;
        }
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(bad.load(), 0);
}

// The FP control state (MXCSR/x87 on amd64, FPCR on arm64) belongs to the
// goroutine: a rounding mode set in one survives switches and does not
// leak into the others.
TEST_F(Goroutines, FpControlStateIsPerGoroutine) {
  gort_test::Procs procs_scope(2);
  std::atomic<int> bad{0};
  Main([&] {
    gort_test::Group wg;
    for (int g = 0; g < 16; g++) {
      wg.Go([&, g] {
        int mode = g % 2 ? FE_UPWARD : FE_TONEAREST;
        if (g % 2) fesetround(FE_UPWARD);
        for (int r = 0; r < 500; r++) {
          gort_yield();
          if (fegetround() != mode) bad++;
        }
        fesetround(FE_TONEAREST);
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(bad.load(), 0);
}

// Callee-saved registers survive switches: many values live across
// gort_yield (the compiler keeps them in callee-saved integer and, on
// arm64, d8-d15 registers) give the same result as without switching.
__attribute__((noinline)) uint64_t Churn(uint64_t seed, bool yield) {
  uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13, f = seed * 17;
  uint64_t g = seed * 19, h = seed * 23, i = seed * 29, j = seed * 31;
  double x = seed * 0.5, y = seed * 0.25, z = seed * 0.125, w = seed * 2.0;
  double u = seed * 1.5, v = seed * 3.5, s = seed * 0.75, t = seed * 1.25;
  for (int r = 0; r < 200; r++) {
    if (yield) gort_yield();
    a += b ^ r; b += c; c += d * 3; d ^= e; e += f; f += g; g ^= h; h += i; i += j; j += a;
    x += y; y *= 1.0001; z += w; w -= u * 0.001; u += v; v *= 0.999; s += t; t += x * 0.0001;
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j ^ (uint64_t)(x + y + z + w + u + v + s + t);
}

TEST_F(Goroutines, CalleeSavedRegistersSurviveSwitches) {
  gort_test::Procs procs_scope(2);
  std::atomic<int> bad{0};
  Main([&] {
    gort_test::Group wg;
    for (uint64_t g = 1; g <= 32; g++) {
      wg.Go([&, g] {
        if (Churn(g, true) != Churn(g, false)) bad++;
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(bad.load(), 0);
}

// runtime/HACKING.md, hazard 5: the runtime re-reads its thread-local M after every
// switch.  A goroutine woken by a plain thread lands on whichever M picks
// it up; every time, the M the runtime thinks it is on must be the thread
// it is on.
__attribute__((noinline)) uint64_t KernelTid() { return gort_os_thread_id(); }

TEST_F(Goroutines, RuntimeSeesItsOwnMAfterEveryMigration) {
  gort_test::Procs procs_scope(2);
  const int kMaxRounds = 50000, kEnough = 50;  // stop after 50 migrations
  gort_sema ping = GORT_SEMA_INIT(0), pong = GORT_SEMA_INIT(0);
  std::atomic<int> wrong{0}, migrations{0}, rounds{0};
  std::atomic<bool> stop{false};
  std::thread waker([&] {
    while (!stop) {
      gort_sema_release(&ping);
      gort_sema_acquire(&pong);
    }
  });
  Main([&] {
    gort_test::Group wg;
    std::atomic<bool> done{false};
    wg.Go([&] {  // keeps the other P busy, so the woken goroutine moves between Ms
      while (!done) gort_yield();
    });
    wg.Go([&] {
      uint64_t last = 0;
      for (int r = 0; !stop; r++) {
        gort_sema_acquire(&ping);
        uint64_t tid = KernelTid();
        if (gort_getm()->tid != tid) wrong++;
        if (last != 0 && tid != last) migrations++;
        last = tid;
        rounds = r + 1;
        if (migrations >= kEnough || r + 1 == kMaxRounds) stop = true;
        gort_sema_release(&pong);
      }
      done = true;
    });
    wg.Wait();
  });
  waker.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(migrations.load(), 0) << "the goroutine never changed threads: the test proved nothing";
  printf("migrations between threads: %d in %d rounds\n", migrations.load(), rounds.load());
}

TEST_F(Goroutines, MaxprocsQueriesAndSetsAtOnce) {
  int old = gort_maxprocs(0);
  ASSERT_GE(old, 1);
  EXPECT_EQ(gort_maxprocs(3), old);
  EXPECT_EQ(gort_maxprocs(-1), 3);
  gort_stats s;
  gort_stats_get(&s);
  EXPECT_EQ(s.procs, 3u);
  EXPECT_EQ(gort_maxprocs(GORT_MAXPROCS_LIMIT + 1), -EINVAL);
  EXPECT_EQ(gort_maxprocs(0), 3);
  // Shrinking while goroutines run loses none of them.
  std::atomic<int> done{0};
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 2000; i++) {
      wg.Go([&, i] {
        gort_yield();
        if (i == 500) gort_maxprocs(1);
        if (i == 1500) gort_maxprocs(2);
        done++;
      });
    }
    wg.Wait();
  });
  EXPECT_EQ(done.load(), 2000);
  int last = gort_maxprocs(old);  // goroutines 500 and 1500 ran in either order
  EXPECT_TRUE(last == 1 || last == 2) << last;
}

// Shrinking the P count moves the retired Ps' timers to P0: sleepers whose
// timers were on them still wake, even while P0 always has work (so it
// never steals, and no P is ever idle for the timer sleeper).
TEST_F(Goroutines, SleepersOnRetiredPsStillWake) {
  const int kSleepers = 64;
  gort_test::Procs procs_scope(4);
  std::atomic<int> started{0}, woke{0};
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < kSleepers; i++)
      wg.Go([&] {
        started++;
        gort_sleep(20 * 1000 * 1000);
        woke++;
      });
    while (started < kSleepers) gort_yield();
    gort_maxprocs(1);
    wg.Go([&] {  // keeps P0's run queue non-empty until every sleeper woke
      while (woke < kSleepers) gort_yield();
    });
    wg.Wait();
  });
  EXPECT_EQ(woke.load(), kSleepers);
}

// gort_systemstack runs a function on the M's g0 (thread) stack: a
// goroutine with a 16 KiB stack can call something that needs 64 KiB, and
// the function's locals are not on the goroutine's stack.
struct DeepCall {
  uintptr_t g_lo, g_hi;  // the calling goroutine's stack
  bool on_goroutine_stack;
  int sum;
};

void UseLotsOfStack(void* arg) {
  auto* c = static_cast<DeepCall*>(arg);
  volatile char big[64 << 10];
  for (size_t i = 0; i < sizeof big; i += 512) big[i] = (char)i;
  uintptr_t here = (uintptr_t)&big[0];
  c->on_goroutine_stack = here >= c->g_lo && here < c->g_hi;
  for (size_t i = 0; i < sizeof big; i += 512) c->sum += big[i];
}

TEST_F(Goroutines, SystemstackRunsOnTheThreadStack) {
  DeepCall c = {0, 0, true, 0};
  Main([&] {
    gort_test::Group wg;
    gort_go_attr small = {GORT_STACK_MIN, "small-stack"};
    ASSERT_EQ(wg.Go(
                  [&] {
                    G* g = gort_getg();
                    c.g_lo = (uintptr_t)g->stack_lo;
                    c.g_hi = c.g_lo + g->stack_size;
                    gort_systemstack(UseLotsOfStack, &c);
                    gort_yield();  // and the goroutine carries on normally
                  },
                  &small),
              0);
    wg.Wait();
  });
  EXPECT_FALSE(c.on_goroutine_stack);
  int want = 0;
  for (size_t i = 0; i < (64 << 10); i += 512) want += (char)i;
  EXPECT_EQ(c.sum, want);
}

TEST_F(Goroutines, BadArgumentsGetErrnoNotCrash) {
  EXPECT_EQ(gort_go(nullptr, nullptr), -EINVAL);
  gort_go_attr tiny = {1, nullptr}, huge = {GORT_STACK_MAX + 1, nullptr};
  EXPECT_EQ(gort_go_with([](void*) {}, nullptr, &tiny), -EINVAL);
  EXPECT_EQ(gort_go_with([](void*) {}, nullptr, &huge), -EINVAL);
  EXPECT_EQ(gort_main(nullptr, nullptr), -EINVAL);
  gort_config bad = {-1, 0};
  EXPECT_EQ(gort_init(&bad), -EINVAL);
  gort_config bad_stack = {0, 12};
  EXPECT_EQ(gort_init(&bad_stack), -EINVAL);
  gort_config other = {gort_maxprocs(0) + 1, 0};
  EXPECT_EQ(gort_init(&other), -EBUSY);  // already running with another config
  EXPECT_EQ(gort_init(nullptr), 0);
}

// A goroutine with its own stack size can use most of it.
TEST_F(Goroutines, CustomStackSize) {
  Main([] {
    gort_test::Group wg;
    gort_go_attr attr = {1 << 20, "big-stack"};
    ASSERT_EQ(wg.Go(
                  [&] {
                    volatile char buf[768 << 10];
                    for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = (char)i;
                    EXPECT_EQ(buf[4096], (char)4096);
                  },
                  &attr),
              0);
    wg.Wait();
  });
}

// Goroutines with their own stack size, mixed with default ones, round
// after round: dead G records are reused, so their number (and the default
// stack slots, one per record that ever had one) stays bounded by the most
// goroutines alive at once, not by how many were ever spawned.
TEST_F(Goroutines, CustomStackGoroutinesReuseTheirRecords) {
  Main([] {
    auto round = [] {
      gort_test::Group wg;
      gort_go_attr big = {128 << 10, "custom"};
      for (int i = 0; i < 200; i++) {
        ASSERT_EQ(wg.Go([] {}, &big), 0);
        ASSERT_EQ(wg.Go([] {}), 0);
      }
      wg.Wait();
      for (int i = 0; i < 10000 && gort_test::LiveGoroutines() > 1; i++) gort_sleep(100000);  // all but main gone
    };
    round();
    gort_os_lock_acquire(&gort_sched_g.allg_lock);
    size_t after_one = gort_sched_g.nallg;
    gort_os_lock_release(&gort_sched_g.allg_lock);
    for (int r = 0; r < 20; r++) round();
    gort_os_lock_acquire(&gort_sched_g.allg_lock);
    size_t after_all = gort_sched_g.nallg;
    gort_os_lock_release(&gort_sched_g.allg_lock);
    // Each round has at most 400 alive; the rest is slack for the per-P caches.
    EXPECT_LE(after_all, after_one + 400) << "records grew from " << after_one;
  });
}

// Resident memory of the process (linux /proc), in KiB.
long ResidentKiB() {
  long pages = 0, resident = -1;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// A goroutine takes its stack when it first runs (stack.c): 20,000
// spawned while the only P is busy wait in the queue as G records, and,
// run one after another, they all use the same few stacks.  (Bound at
// spawn, they took 20,000 stacks: 1.25 GiB of address space, and a page or
// two of each touched cold.)  Their spawns claim a stack each, which maps
// that much address space ahead (so a spawn can fail instead of the start),
// untouched: it costs no resident memory.
TEST_F(Goroutines, QueuedGoroutinesTakeNoStackUntilTheyRun) {
  const long n = gort_test::kTsan ? 4000 : 20000;  // each is a TSan fiber: at most 8128
  gort_test::Procs one(1);
  Main([&] {
    gort_yield();  // off a P beyond the new limit (retired at a switch): on the only one
    std::atomic<long> ran{0};
    std::atomic<bool> spawned{false};
    gort_test::Group wg;
    long before = ResidentKiB();
    std::thread spawner([&] {  // a plain thread: no back-pressure
      for (long i = 0; i < n; i++) wg.Go([&] { ran++; });
      spawned = true;
    });
    // Keep the P until the check is done: as a runtime lock would, refuse
    // async preemption.  (Without it, a signal that lands when the OS
    // runs this thread again after a long wait in a busy machine sends
    // this goroutine behind every one spawned: all ran before the check.)
    M* m = gort_getm();
    m->locks++;
    while (!spawned.load()) {
    }
    long queued = 0, queued_with_stack = 0;
    gort_os_lock_acquire(&gort_sched_g.allg_lock);
    for (size_t i = 0; i < gort_sched_g.nallg; i++) {
      G* g = gort_sched_g.allg[i];
      if (atomic_load(&g->status) != G_RUNNABLE || !atomic_load(&g->fresh)) continue;
      queued++;
      if (g->stack_lo != nullptr) queued_with_stack++;
    }
    gort_os_lock_release(&gort_sched_g.allg_lock);
    m->locks--;
    wg.Wait();
    spawner.join();
    long growth = ResidentKiB() - before;
    EXPECT_EQ(ran.load(), n);
    EXPECT_GT(queued, 0) << "all ran before the check: the test proved nothing";
    EXPECT_EQ(queued_with_stack, 0);
    if (!gort_test::kTsan) {  // a TSan fiber (one per goroutine) maps ~700 KiB of its own
      EXPECT_LT(growth, 32L << 10) << "KiB of resident memory for " << n << " goroutines";
    }
  });
}

// The other side of runq_grab's rule: a goroutine readied (to runnext) by
// one that keeps running does not wait for it, even when that one cannot
// be preempted (m->locks, as in a runtime lock): the idle P takes it.
TEST_F(Goroutines, ReadiedGoroutineRunsWhileItsReadierKeepsRunning) {
  gort_test::Procs two(2);
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  std::atomic<bool> ran{false};
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      int v;
      EXPECT_EQ(gort_chan_recv(c, &v), 0);
      ran = true;
    });
    while (!gort_chan_has_waiters(c)) gort_yield();
    int v = 1;
    ASSERT_EQ(gort_chan_send(c, &v), 0);  // to our runnext
    M* m = gort_getm();
    m->locks++;
    for (int i = 0; i < 10000 && !ran.load(); i++) gort_os_nanosleep(1000000);  // no switch: 10 s at most
    m->locks--;
    EXPECT_TRUE(ran.load()) << "the readied goroutine waited for its readier";
    wg.Wait();
  });
  gort_chan_free(c);
}

// Back-pressure: a goroutine that spawns faster than its P runs what it
// spawned yields once its P's ring is nearly full, so the goroutines it
// spawned but that have not run never number much more than the ring.
TEST_F(Goroutines, SpawnerThatOutrunsItsPYields) {
  const long n = Scale(20000);
  gort_test::Procs one(1);
  Main([&] {
    std::atomic<long> ran{0};
    long deepest = 0;
    gort_test::Group wg;
    for (long i = 0; i < n; i++) {
      ASSERT_EQ(wg.Go([&] { ran++; }), 0);
      deepest = std::max(deepest, i + 1 - ran.load());
    }
    wg.Wait();
    EXPECT_LE(deepest, RUNQ_SIZE + 1);
    EXPECT_GT(deepest, 1);  // it did spawn ahead of them
  });
}

TEST_F(Goroutines, MainNestsAndRunsFromManyThreads) {
  std::atomic<int> ran{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&] {
      Main([&] {
        Main([&] { ran++; });  // gort_main from a goroutine parks it
      });
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ran.load(), 4);
}

TEST_F(Goroutines, DumpListsParkedGoroutines) {
  gort_sema hold = GORT_SEMA_INIT(0);
  gort_test::Group wg;
  gort_go_attr attr = {0, "parked-on-sema"};
  ASSERT_EQ(wg.Go([&] { gort_sema_acquire(&hold); }, &attr), 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string out;
  for (int tries = 0; tries < 1000 && out.find("parked-on-sema\" [waiting: semaphore") == std::string::npos;
       tries++) {
    gort_sleep(1000000);
    gort_dump(fds[1]);
    char buf[65536];
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ssize_t n;
    out.clear();
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, (size_t)n);
  }
  close(fds[0]);
  close(fds[1]);
  EXPECT_NE(out.find("\"parked-on-sema\" [waiting: semaphore"), std::string::npos) << out;
  gort_sema_release(&hold);
  wg.Wait();
}

// A goroutine that exits still locked to its thread takes the thread with
// it (as Go does): what it changed there — a blocked signal, a thread-local
// — reaches no later goroutine, and the thread count stays bounded (dead
// M records are reused).  A dump afterwards skips the threads that ended.
thread_local int planted = 0;

TEST_F(Goroutines, ExitingLockedEndsItsThread) {
  const int kRounds = (int)Scale(200), kLater = (int)Scale(2000);
  std::atomic<int> tainted{0};
  gort_stats before;
  gort_stats_get(&before);
  Main([&] {
    for (int r = 0; r < kRounds; r++) {
      gort_test::Group wg;
      wg.Go([&] {
        EXPECT_EQ(gort_lock_os_thread(), 0);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &s, nullptr);
        planted = 1;  // and exits locked
      });
      wg.Wait();
    }
    gort_test::Group wg;
    for (int i = 0; i < kLater; i++) {
      wg.Go([&] {
        sigset_t cur;
        pthread_sigmask(SIG_BLOCK, nullptr, &cur);
        if (sigismember(&cur, SIGUSR2) || planted != 0) tainted++;
        gort_yield();
      });
    }
    wg.Wait();
    int fd = open("/dev/null", O_WRONLY);
    gort_dump(fd);  // no thread that ended is asked
    close(fd);
  });
  EXPECT_EQ(tainted.load(), 0);
  gort_stats after;
  gort_stats_get(&after);
  EXPECT_LE(after.threads, before.threads + 8) << "ended threads are replaced, not piled up";
}

}  // namespace
