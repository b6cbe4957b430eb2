// preempt_test — preemption: goroutines that never call the runtime still
// give way (sysmon + SIGURG), every register survives an asynchronous
// preemption, preempting never lands inside libc (malloc's locks), the
// program's own SIGURG handler keeps its signals, and EINTR never escapes
// the API.  Fresh-process cases (settings read at start-up, SIGQUIT) are
// in preempt_death_test.cc.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "runtime/core/runtime.h"
#include "tests/harness.h"

extern "C" {
#if defined(__x86_64__)
enum { kRegWords = 47 };  // rax..r15 (15), xmm0..xmm15 (32)
void gort_test_regs_spin(const uint64_t* in, uint64_t iters, uint64_t* out);
#elif defined(__aarch64__)
enum { kRegWords = 95 };  // x0..x30 (31), q0..q31 (64)
void gort_test_regs_spin_x9(const uint64_t* in, uint64_t iters, uint64_t* out);
void gort_test_regs_spin_x10(const uint64_t* in, uint64_t iters, uint64_t* out);
#endif
}

namespace {

using gort_test::Go;
using gort_test::Main;
using gort_test::Preemptions;
using gort_test::Procs;
using gort_test::ReadErrno;
using gort_test::SpinUntil;
using gort_test::WriteErrno;
using gort_test::Scale;

class Preempt : public gort_test::Test {};

// A plain thread that asks every running goroutine to yield every
// `period`, until stopped: preemption far more often than sysmon's 10 ms.
class PreemptStorm {
 public:
  explicit PreemptStorm(std::chrono::microseconds period)
      : t_([this, period] {
          while (!stop_.load()) {
            gort_preempt_all();
            std::this_thread::sleep_for(period);
          }
        }) {}
  ~PreemptStorm() {
    stop_ = true;
    t_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread t_;
};

// Every P busy in a call-free loop: a sleeping goroutine still wakes, and
// the spinners themselves are preempted (its latency is
// //benchmarks:preempt's figure; here only that it completes).
TEST_F(Preempt, SleeperWakesWhileEveryPSpins) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  Main([] {
    std::atomic<bool> stop{false};
    int procs = gort_maxprocs(0);
    gort_test::Group wg;
    uint64_t before = Preemptions();
    for (int i = 0; i < procs + 1; i++) {
      wg.Go([&] {
        SpinUntil(&stop);
      });
    }
    gort_yield();  // let the spinners take every P
    for (int i = 0; i < 20; i++) gort_sleep(1000000);
    stop = true;
    wg.Wait();
    EXPECT_GT(Preemptions(), before);
  });
}

// The goroutine running gort_main's caller is a plain thread; a spinning
// goroutine must not keep a sleeper on the only P from running either.
TEST_F(Preempt, OneProcIsShared) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  Procs one(1);
  Main([] {
    std::atomic<bool> stop{false};
    gort_test::Group wg;
    wg.Go([&] {
      SpinUntil(&stop);
    });
    gort_yield();
    gort_sleep(2000000);  // only returns if the spinner was preempted
    stop = true;
    wg.Wait();
  });
}

// Register preservation: goroutines fill every general and vector register
// with values of their own, spin, and report the registers; thousands of
// asynchronous preemptions (some resuming on the other M) land in the
// spins, and no register ever changes.
TEST_F(Preempt, EveryRegisterSurvivesAsyncPreemption) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  const uint64_t target = 2000;  // natively and under qemu alike
  std::atomic<long> mismatches{0}, calls{0};
  const uint64_t seed = gort_test::Seed();
  Main([&] {
    PreemptStorm storm(std::chrono::microseconds(100));
    uint64_t before = Preemptions();
    std::atomic<bool> stop{false};
    gort_test::Group wg;
    for (int w = 0; w < 6; w++) {
      wg.Go([&, w] {
        std::mt19937_64 rng = gort_test::SeededRng(seed, w);
        uint64_t in[kRegWords], out[kRegWords];
        for (long n = 0; !stop.load(); n++) {
          for (auto& v : in) v = rng();
#if defined(__x86_64__)
          gort_test_regs_spin(in, 200000, out);
          int skip = -1;
#else
          bool x9 = n % 2 == 0;
          (x9 ? gort_test_regs_spin_x9 : gort_test_regs_spin_x10)(in, 20000, out);
          int skip = x9 ? 9 : 10;  // the loop counter
#endif
          for (int i = 0; i < kRegWords; i++)
            if (i != skip && in[i] != out[i]) {
              if (mismatches++ < 5) ADD_FAILURE() << "word " << i << " was " << in[i] << ", now " << out[i];
            }
          calls++;
        }
      });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (Preemptions() - before < target && std::chrono::steady_clock::now() < deadline) gort_sleep(5000000);
    stop = true;
    wg.Wait();
    EXPECT_GE(Preemptions() - before, target);
  });
  EXPECT_EQ(mismatches.load(), 0) << "over " << calls.load() << " spins";
  EXPECT_GT(calls.load(), 0);
}

// Preemption never lands inside libc: goroutines on every P loop over
// malloc/free/snprintf/fprintf (which take libc's locks) while preemption
// requests arrive every 50 us.  A preemption inside malloc would deadlock
// the next malloc on that thread; a watchdog turns a hang into a failure.
TEST_F(Preempt, NoDeadlockInsideMallocAndStdio) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  const int seconds = std::getenv("GORT_TEST_LONG") != nullptr ? 60 : 10;
  std::atomic<long> progress{0};
  std::atomic<bool> stop{false}, done{false};
  const uint64_t seed = gort_test::Seed();
  std::thread watchdog([&] {
    long last = -1;
    for (int quiet = 0; !done.load(); std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
      long now = progress.load();
      quiet = now == last ? quiet + 1 : 0;
      last = now;
      if (quiet > 100) {  // 10 s without progress
        fprintf(stderr, "no progress for 10 s: deadlock\n");
        gort_dump(2);
        _exit(3);
      }
    }
  });
  Main([&] {
    PreemptStorm storm(std::chrono::microseconds(50));
    FILE* devnull = fopen("/dev/null", "w");
    ASSERT_NE(devnull, nullptr);
    uint64_t before = Preemptions();
    gort_test::Group wg;
    for (int w = 0; w < 2 * gort_maxprocs(0); w++) {
      wg.Go([&, w] {
        std::mt19937_64 rng = gort_test::SeededRng(seed, w);
        std::vector<void*> keep(64, nullptr);
        char buf[128];
        while (!stop.load(std::memory_order_relaxed)) {
          for (int i = 0; i < 256; i++) {
            size_t slot = rng() % keep.size();
            free(keep[slot]);
            keep[slot] = malloc(1 + rng() % 4096);
            memset(keep[slot], i, 1);
          }
          snprintf(buf, sizeof buf, "%d %f %s", w, 1.5 * w, "x");
          fprintf(devnull, "%s\n", buf);
          progress++;
        }
        for (void* p : keep) free(p);
      });
    }
    gort_sleep(int64_t{seconds} * 1000000000);
    stop = true;
    wg.Wait();
    fclose(devnull);
    EXPECT_GT(Preemptions(), before);
  });
  done = true;
  watchdog.join();
  EXPECT_GT(progress.load(), 0);
}

// The program's SIGURG handler, installed after the runtime started, gets
// every SIGURG it is sent while preemption signals fly too; the runtime's
// preemption keeps working behind it.
std::atomic<int> user_urgs{0};
void OnUserUrg(int) { user_urgs++; }

TEST_F(Preempt, UserSigurgHandlerInstalledAfterInitGetsItsSignals) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinners keep every P)";
  gort_lazy_init();
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnUserUrg;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGURG, &sa, &old), 0);
  Main([] {
    std::atomic<bool> stop{false};
    gort_test::Group wg;
    uint64_t before = Preemptions();
    for (int i = 0; i < gort_maxprocs(0); i++) {
      wg.Go([&] {
        SpinUntil(&stop);
      });
    }
    const int kSignals = 50;
    for (int i = 0; i < kSignals; i++) {
      int want = user_urgs.load() + 1;
      kill(getpid(), SIGURG);  // to the process: any thread may take it
      for (int t = 0; t < 5000 && user_urgs.load() < want; t++) gort_sleep(100000);
      ASSERT_EQ(user_urgs.load(), want) << "signal " << i << " was lost";
      gort_sleep(2000000);  // spinners keep being preempted meanwhile
    }
    stop = true;
    wg.Wait();
    EXPECT_GT(Preemptions(), before);
  });
  sigaction(SIGURG, &old, nullptr);
}

// A kill(2) from elsewhere that reaches an M while one of sysmon's
// signals to it is still pending is the program's, and leaves that one
// counted: the runtime's signal, handled next, is claimed, not passed to
// the program's handler (CI saw the handler called once too often).
TEST_F(Preempt, ProgramSignalLeavesAPendingRuntimeSignalClaimed) {
  Main([] {
    gort_lock_os_thread();  // one M throughout
    M* m = gort_getm();
    atomic_store(&m->preempt_sigs, 1u);  // sysmon has sent one (and none merged before)
    EXPECT_FALSE(gort_sig_preempt_claim(GORT_SIG_OTHER)) << "kill(2) from another process or to the process";
    EXPECT_TRUE(gort_sig_preempt_claim(GORT_SIG_SELF)) << "sysmon's tgkill, arriving second";
    EXPECT_FALSE(gort_sig_preempt_claim(GORT_SIG_SELF)) << "the count is spent: a further one is the program's";
    EXPECT_TRUE(gort_sig_preempt_claim(GORT_SIG_OURS)) << "the run-signal timer's, never counted";
    gort_unlock_os_thread();
  });
}

// errno through an accessor stays the goroutine's under a storm of
// asynchronous preemptions: a stop between __errno_location's return and
// the load or store through its result would resume the code on another
// thread with the first thread's errno address (the runtime moves a saved
// register holding it to the new thread's errno: preempt.c).
TEST_F(Preempt, ErrnoSurvivesAsyncPreemption) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  Procs two(2);
  std::atomic<int> bad{0};
  uint64_t before = Preemptions();
  {
    PreemptStorm storm(std::chrono::microseconds(20));
    Main([&] {
      gort_test::Group wg;
      for (int g = 0; g < 4; g++) {
        wg.Go([&, g] {
          for (int i = 0; i < Scale(2000000); i++) {
            int v = g * 10000000 + i;
            WriteErrno(v);
            if (ReadErrno() != v) bad++;
          }
        });
      }
      wg.Wait();
    });
  }
  EXPECT_GT(Preemptions(), before);
  EXPECT_EQ(bad.load(), 0);
}

// EINTR never escapes the API: SIGUSR1 (no SA_RESTART, so every blocking
// system call it hits fails with EINTR) rains on all threads while plain
// threads and goroutines sleep, wait with timeouts and contend a mutex.
void OnUsr1(int) {}

TEST_F(Preempt, EintrNeverEscapes) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnUsr1;  // no SA_RESTART
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  std::atomic<bool> stop{false};
  std::thread rain([&] {
    while (!stop.load()) {
      kill(getpid(), SIGUSR1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::atomic<int> bad{0};
  gort_chan* never = gort_chan_make(sizeof(int), 0);
  gort_mutex mu = GORT_MUTEX_INIT;
  auto work = [&] {
    for (int i = 0; i < 20; i++) {
      int64_t t0 = gort_now();
      gort_sleep(2000000);
      if (gort_now() - t0 < 2000000) bad++;
      int v;
      int rc = gort_chan_recv_timeout(never, &v, 1000000);
      if (rc != -ETIMEDOUT) bad++;
      if (gort_mutex_lock(&mu) != 0) bad++;
      gort_mutex_unlock(&mu);
    }
  };
  std::thread plain1(work), plain2(work);
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 4; i++) {
      wg.Go([&] {
        work();
      });
    }
    wg.Wait();
  });
  plain1.join();
  plain2.join();
  stop = true;
  rain.join();
  sigaction(SIGUSR1, &old, nullptr);
  gort_chan_free(never);
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
