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
#ifndef GORT_TESTS_HARNESS_H
#define GORT_TESTS_HARNESS_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <utility>

#include "runtime/gort.h"

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

class Test : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(WaitForNoGoroutines(), 0u) << "the test left goroutines behind"; }
};

}  // namespace gort_test

#endif  // GORT_TESTS_HARNESS_H
