// harness.h — helpers shared by gort's googletest suites.
//
//   gort_test::Main(fn)       run fn as the main goroutine (gort_main)
//   gort_test::Go(fn)         start fn as a goroutine
//   gort_test::Group g;       goroutines a test waits for: g.Go(fn) adds one
//     g.Go(fn); g.Wait();     and signals done however fn returns (an
//                             ASSERT_*'s early return included), so a failed
//                             assertion in a goroutine fails the test
//                             instead of leaving g.Wait() to the runtime's
//                             deadlock exit.  Use it, not a hand-made
//                             waitgroup_add/done pair, wherever a test waits
//                             for goroutines; where a peer waits for a
//                             goroutine's channel send or other handshake,
//                             use EXPECT_* in that goroutine (an early
//                             return would skip the handshake).
//   gort_test::Test           fixture: fails a test that leaves goroutines
//   gort_test::Scale(n)       shrink stress loops under qemu, grow them with
//                             GORT_TEST_LONG=1
//   gort_test::Procs p(n)     set gort_maxprocs(n) for a scope; restored
//                             even when an ASSERT leaves the test early
//   gort_test::kTsan          built with ThreadSanitizer (--config=tsan);
//                             kAsan, kSanitizer likewise
//   gort_test::Preemptions(), SpinUntil(&stop), ReadErrno(), WriteErrno(v)
//                             the preemption count; a call-free spin; errno
//                             through non-inlined accessors
//   gort_test::Seed()         a randomized test's seed: GORT_TEST_SEED if
//                             set, else a fresh one (absl::BitGen); printed
//                             as "GORT_TEST_SEED=N to replay" on stderr and
//                             recorded as the test's gort_test_seed property
//                             in test.xml.  Call it once per test.
//   gort_test::SeededRng(s, k) std::mt19937_64 for seed s and stream k (one
//                             stream per goroutine or thread: a generator
//                             is not thread-safe): the same numbers for the
//                             same seed on every build and machine.  Not
//                             absl::BitGen: abseil salts a BitGen's seed
//                             sequence with per-process entropy, so a
//                             seeded BitGen does not repeat across runs
//                             (absl/random/random.h).  absl::Uniform(rng,
//                             lo, hi) draws from it without modulo bias.
//   gort_test::OsThreads()    the process's OS threads now (/proc/self/status)
//   gort_test::ThreadPeak p;  a plain thread sampling OsThreads() every
//     p.Stop()                0.5 ms until Stop(), which returns the most
//                             seen (the sampler itself counted)
//   gort_test::RaiseFdLimit(n) soft RLIMIT_NOFILE up to n (at most the hard
//                             limit); returns the soft limit it left
#ifndef GORT_TESTS_HARNESS_H
#define GORT_TESTS_HARNESS_H

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "runtime/gort.h"
#include "tests/threads.h"

namespace gort_test {

// Under ThreadSanitizer asynchronous preemption is off (runtime/core/env.c:
// TSan runs signal handlers late, on a copy of the context), so a goroutine
// in a call-free loop keeps its P until it calls into the runtime, and the
// dump's SIGURG handshake answers late; tests that need either skip.  Each
// goroutine is also a TSan fiber, which counts against TSan's limit of
// 8128 threads alive at once.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

// Built with AddressSanitizer (--config=asan); kSanitizer: with either.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
#else
inline constexpr bool kAsan = false;
#endif
inline constexpr bool kSanitizer = kAsan || kTsan;

inline void Main(std::function<void()> fn) {
  ASSERT_EQ(gort_main([](void* p) { (*static_cast<std::function<void()>*>(p))(); }, &fn), 0);
}

inline int Go(std::function<void()> fn, const gort_go_attr* attr = nullptr) {
  auto* heap = new std::function<void()>(std::move(fn));
  int rc = gort_go_with(
      [](void* p) {
        auto* f = static_cast<std::function<void()>*>(p);
        (*f)();
        delete f;
      },
      heap, attr);
  if (rc != 0) delete heap;
  return rc;
}

// A set of goroutines and the waitgroup that counts them.  The count lives
// on the heap, shared with every goroutine, so a Group left early (an
// ASSERT in the waiting goroutine) is no use-after-free for the goroutines
// still running.  The destructor waits unless Wait() was called or the test
// already has a fatal failure (then the goroutines may be blocked on the
// code that returned early; gort_test::Test reports them as left behind).
class Group {
 public:
  Group() : wg_(std::make_shared<gort_waitgroup>()) { *wg_ = GORT_WAITGROUP_INIT; }
  ~Group() {
    if (!waited_ && !::testing::Test::HasFatalFailure()) Wait();
  }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Starts fn as a goroutine counted by the group; returns gort_go's result
  // (on failure the count is taken back).
  int Go(std::function<void()> fn, const gort_go_attr* attr = nullptr) {
    gort_waitgroup_add(wg_.get(), 1);
    waited_ = false;
    std::shared_ptr<gort_waitgroup> wg = wg_;
    int rc = gort_test::Go(
        [wg, fn = std::move(fn)] {
          struct Done {
            gort_waitgroup* wg;
            ~Done() { gort_waitgroup_done(wg); }
          } done{wg.get()};
          fn();
        },
        attr);
    if (rc != 0) gort_waitgroup_done(wg_.get());
    return rc;
  }

  // Waits for every goroutine started so far.
  void Wait() {
    waited_ = true;
    gort_waitgroup_wait(wg_.get());
  }

 private:
  std::shared_ptr<gort_waitgroup> wg_;
  bool waited_ = false;
};

// GORT_TEST_SEED (decimal, or hex with 0x) if set, else a fresh seed;
// printed, so a randomized failure can be replayed with
// GORT_TEST_SEED=N (and --gtest_filter for the one test).  Call it from
// the test's body, not a goroutine (absl::BitGen's entropy pool takes a
// spin lock), once per test (each call without the variable is a new
// seed, so --gtest_repeat runs new programs).
inline uint64_t Seed() {
  const char* env = std::getenv("GORT_TEST_SEED");
  uint64_t seed;
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    absl::BitGen fresh;  // seeded from the OS's entropy
    seed = absl::Uniform<uint64_t>(fresh);
  }
  const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = t != nullptr ? absl::StrCat(" (", t->test_suite_name(), ".", t->name(), ")") : "";
  fprintf(stderr, "GORT_TEST_SEED=%" PRIu64 " to replay%s\n", seed, test.c_str());
  if (t != nullptr) ::testing::Test::RecordProperty("gort_test_seed", absl::StrCat(seed));
  return seed;
}

// std::mt19937_64 seeded from (seed, stream) through a std::seed_seq: the
// standard fixes both, so a seed gives the same numbers everywhere.
inline std::mt19937_64 SeededRng(uint64_t seed, uint64_t stream = 0) {
  std::seed_seq seq{(uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  return std::mt19937_64(seq);
}

inline bool UnderQemu() { return std::getenv("GORT_UNDER_QEMU") != nullptr; }

// n for a normal run; n/8 under qemu (about 10x slower); n*10 when
// GORT_TEST_LONG is set.
inline long Scale(long n) {
  if (std::getenv("GORT_TEST_LONG") != nullptr) return n * 10;
  if (UnderQemu()) return n / 8 > 0 ? n / 8 : 1;
  return n;
}

inline uint64_t LiveGoroutines() {
  gort_stats s;
  gort_stats_get(&s);
  return s.goroutines;
}

inline uint64_t Preemptions() {
  gort_stats s;
  gort_stats_get(&s);
  return s.preemptions;
}

// A loop with no calls at all: only a signal can stop it.
inline void SpinUntil(const std::atomic<bool>* stop) {
  while (!stop->load(std::memory_order_relaxed)) {
  }
}

// errno through non-inlined accessors (gort.h, thread-locals): each call
// looks errno's address up afresh, on whatever thread it runs.
__attribute__((noinline)) inline int ReadErrno() { return errno; }
__attribute__((noinline)) inline void WriteErrno(int v) { errno = v; }

// Goroutines that signalled a waitgroup may still be on their way out:
// wait (bounded) for the count to reach zero.
inline uint64_t WaitForNoGoroutines() {
  for (int i = 0; i < 10000 && LiveGoroutines() != 0; i++) gort_sleep(1000000);
  return LiveGoroutines();
}

class Procs {
 public:
  explicit Procs(int n) : old_(gort_maxprocs(n)) {}
  ~Procs() { gort_maxprocs(old_); }
  Procs(const Procs&) = delete;
  Procs& operator=(const Procs&) = delete;

 private:
  int old_;
};

// Raise the soft limit on open descriptors to n, or to the hard limit if
// that is lower; the soft limit now.
inline rlim_t RaiseFdLimit(rlim_t n) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < n) {
    r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max > n ? n : r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

class Test : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(WaitForNoGoroutines(), 0u) << "the test left goroutines behind"; }
};

}  // namespace gort_test

#endif  // GORT_TESTS_HARNESS_H
