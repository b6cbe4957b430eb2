// chan_test.cc — channels: one test per rule of the contract (runtime/gort.h,
// "Channels"), with goroutines and plain threads on either side.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;
using gort_test::Scale;

class Chan : public gort_test::Test {};

struct ChanFree {
  void operator()(gort_chan* c) const { gort_chan_free(c); }
};
using ChanPtr = std::unique_ptr<gort_chan, ChanFree>;

ChanPtr Make(size_t elem, size_t cap) { return ChanPtr(gort_chan_make(elem, cap)); }

// Values come out in the order they went in, buffered or not.
TEST_F(Chan, FifoPerChannel) {
  for (size_t cap : {0, 1, 7, 128}) {
    auto c = Make(sizeof(long), cap);
    const long n = 10000;
    Main([&] {
      gort_test::Group wg;
      wg.Go([&] {
        for (long i = 0; i < n; i++) EXPECT_EQ(gort_chan_send(c.get(), &i), 0);
      });
      for (long i = 0; i < n; i++) {
        long v = -1;
        ASSERT_EQ(gort_chan_recv(c.get(), &v), 0);
        ASSERT_EQ(v, i) << "cap " << cap;
      }
      wg.Wait();
    });
  }
}

// An unbuffered send completes only when a receiver has taken the value.
TEST_F(Chan, UnbufferedSendWaitsForTheReceiver) {
  auto c = Make(sizeof(int), 0);
  std::atomic<bool> sent{false}, received{false};
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      int v = 42;
      EXPECT_EQ(gort_chan_send(c.get(), &v), 0);
      EXPECT_TRUE(received.load()) << "send returned before the receive";
      sent = true;
    });
    gort_sleep(20 * 1000 * 1000);
    EXPECT_FALSE(sent.load());
    int v = 0;
    received = true;  // set before the receive can complete the send
    ASSERT_EQ(gort_chan_recv(c.get(), &v), 0);
    EXPECT_EQ(v, 42);
    wg.Wait();
  });
}

TEST_F(Chan, BufferedSendsDoNotWaitUntilFull) {
  auto c = Make(sizeof(int), 3);
  for (int i = 0; i < 3; i++) EXPECT_EQ(gort_chan_send_timeout(c.get(), &i, 0), 0);
  EXPECT_EQ(gort_chan_len(c.get()), 3u);
  EXPECT_EQ(gort_chan_cap(c.get()), 3u);
  int v = 9;
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 0), -EAGAIN);
  EXPECT_EQ(gort_chan_recv(c.get(), &v), 0);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(gort_chan_len(c.get()), 2u);
}

TEST_F(Chan, TryOperationsOnAnEmptyOrFullChannel) {
  auto u = Make(sizeof(int), 0);
  int v = 1;
  EXPECT_EQ(gort_chan_send_timeout(u.get(), &v, 0), -EAGAIN);  // no receiver
  EXPECT_EQ(gort_chan_recv_timeout(u.get(), &v, 0), -EAGAIN);  // no sender
}

TEST_F(Chan, TimedOperationsTimeOut) {
  auto c = Make(sizeof(int), 0);
  int v = 1;
  int64_t t0 = gort_now();
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 5 * 1000 * 1000), -ETIMEDOUT);  // plain thread
  EXPECT_GE(gort_now() - t0, 5 * 1000 * 1000);
  Main([&] {
    int64_t t1 = gort_now();
    EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 5 * 1000 * 1000), -ETIMEDOUT);  // goroutine
    EXPECT_GE(gort_now() - t1, 5 * 1000 * 1000);
  });
  // The timed-out waiters are gone: a later pair meets normally.
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      int x = 7;
      EXPECT_EQ(gort_chan_send(c.get(), &x), 0);
    });
    int y = 0;
    EXPECT_EQ(gort_chan_recv_timeout(c.get(), &y, 10LL * 1000 * 1000 * 1000), 0);
    EXPECT_EQ(y, 7);
    wg.Wait();
  });
}

// A huge timeout means "wait", not a deadline that overflowed into the
// past (from a goroutine and from a plain thread).
TEST_F(Chan, HugeTimeoutWaits) {
  auto c = Make(sizeof(int), 0);
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      gort_sleep(5 * 1000 * 1000);
      int v = 3;
      EXPECT_EQ(gort_chan_send(c.get(), &v), 0);
    });
    int v = 0;
    EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, INT64_MAX), 0);
    EXPECT_EQ(v, 3);
    wg.Wait();
  });
  std::thread t([&] {
    int v = 0;
    EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, INT64_MAX), 0);
    EXPECT_EQ(v, 4);
  });
  Main([&] {
    gort_sleep(5 * 1000 * 1000);
    int v = 4;
    EXPECT_EQ(gort_chan_send(c.get(), &v), 0);
  });
  t.join();
}

// Closing wakes every waiter: receivers get -EPIPE with the element
// zeroed, senders -EPIPE.
TEST_F(Chan, CloseWakesEveryWaiter) {
  auto r = Make(sizeof(long), 0), s = Make(sizeof(long), 0);
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 50; i++) {
      wg.Go([&] {
        long v = 123;
        EXPECT_EQ(gort_chan_recv(r.get(), &v), -EPIPE);
        EXPECT_EQ(v, 0) << "not zeroed";
        woke++;
      });
      wg.Go([&] {
        long v = 5;
        EXPECT_EQ(gort_chan_send(s.get(), &v), -EPIPE);
        woke++;
      });
    }
    for (int i = 0; i < 4; i++)
      threads.emplace_back([&] {
        long v = 1;
        EXPECT_EQ(gort_chan_recv(r.get(), &v), -EPIPE);
        woke++;
      });
    gort_sleep(20 * 1000 * 1000);  // let them all block
    EXPECT_EQ(gort_chan_close(r.get()), 0);
    EXPECT_EQ(gort_chan_close(s.get()), 0);
    wg.Wait();
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 104);
}

TEST_F(Chan, ClosedBufferedChannelDrainsFirst) {
  auto c = Make(sizeof(int), 4);
  for (int i = 1; i <= 3; i++) ASSERT_EQ(gort_chan_send(c.get(), &i), 0);
  ASSERT_EQ(gort_chan_close(c.get()), 0);
  int v;
  for (int i = 1; i <= 3; i++) {
    ASSERT_EQ(gort_chan_recv(c.get(), &v), 0);
    EXPECT_EQ(v, i);
  }
  v = 99;
  EXPECT_EQ(gort_chan_recv(c.get(), &v), -EPIPE);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 0), -EPIPE);  // closed beats "would block"
}

TEST_F(Chan, SendOnClosedAndDoubleCloseArePipeErrors) {
  auto c = Make(sizeof(int), 1);
  ASSERT_EQ(gort_chan_close(c.get()), 0);
  int v = 1;
  EXPECT_EQ(gort_chan_send(c.get(), &v), -EPIPE);
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 0), -EPIPE);
  EXPECT_EQ(gort_chan_close(c.get()), -EPIPE);
}

TEST_F(Chan, NullChannelAndBadSizesAreEinval) {
  int v = 0;
  EXPECT_EQ(gort_chan_send(nullptr, &v), -EINVAL);
  EXPECT_EQ(gort_chan_recv(nullptr, &v), -EINVAL);
  EXPECT_EQ(gort_chan_send_timeout(nullptr, &v, 0), -EINVAL);
  EXPECT_EQ(gort_chan_recv_timeout(nullptr, &v, 10), -EINVAL);
  EXPECT_EQ(gort_chan_close(nullptr), -EINVAL);
  EXPECT_EQ(gort_chan_len(nullptr), 0u);
  EXPECT_EQ(gort_chan_cap(nullptr), 0u);
  errno = 0;
  EXPECT_EQ(gort_chan_make(SIZE_MAX / 2, 4), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

// Elements of size 0 carry no data; the pointer is ignored.
TEST_F(Chan, ZeroSizedElements) {
  auto c = Make(0, 2);
  EXPECT_EQ(gort_chan_send(c.get(), nullptr), 0);
  EXPECT_EQ(gort_chan_send(c.get(), nullptr), 0);
  EXPECT_EQ(gort_chan_len(c.get()), 2u);
  EXPECT_EQ(gort_chan_recv(c.get(), nullptr), 0);
  auto u = Make(0, 0);
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      EXPECT_EQ(gort_chan_recv(u.get(), nullptr), 0);
    });
    EXPECT_EQ(gort_chan_send(u.get(), nullptr), 0);
    wg.Wait();
  });
}

TEST_F(Chan, ReceiveIntoNullDiscards) {
  auto c = Make(sizeof(int), 1);
  int v = 5;
  ASSERT_EQ(gort_chan_send(c.get(), &v), 0);
  EXPECT_EQ(gort_chan_recv(c.get(), nullptr), 0);
  EXPECT_EQ(gort_chan_len(c.get()), 0u);
}

// Large elements are copied whole, through the buffer and by hand-off.
TEST_F(Chan, LargeElements) {
  struct Big {
    char bytes[1000];
  };
  for (size_t cap : {0, 2}) {
    auto c = Make(sizeof(Big), cap);
    Main([&] {
      gort_test::Group wg;
      wg.Go([&] {
        for (int i = 0; i < 100; i++) {
          Big b;
          memset(b.bytes, i, sizeof b.bytes);
          EXPECT_EQ(gort_chan_send(c.get(), &b), 0);
        }
      });
      for (int i = 0; i < 100; i++) {
        Big b;
        ASSERT_EQ(gort_chan_recv(c.get(), &b), 0);
        for (char ch : b.bytes) ASSERT_EQ(ch, (char)i);
      }
      wg.Wait();
    });
  }
}

// Plain threads and goroutines on the two ends of one channel.
TEST_F(Chan, ThreadsAndGoroutinesMix) {
  auto c = Make(sizeof(long), 0);
  const long per = Scale(20000);
  std::atomic<long> sum{0};
  std::thread sender([&] {
    for (long i = 1; i <= per; i++) ASSERT_EQ(gort_chan_send(c.get(), &i), 0);
  });
  std::thread receiver([&] {
    for (long i = 0; i < per; i++) {
      long v;
      ASSERT_EQ(gort_chan_recv(c.get(), &v), 0);
      sum += v;
    }
  });
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      for (long i = 0; i < per; i++) {
        long v;
        EXPECT_EQ(gort_chan_recv(c.get(), &v), 0);
        sum += v;
      }
    });
    for (long i = 1; i <= per; i++) ASSERT_EQ(gort_chan_send(c.get(), &i), 0);
    wg.Wait();
  });
  sender.join();
  receiver.join();
  EXPECT_EQ(sum.load(), 2 * per * (per + 1) / 2);
}

// A ping-pong hands each goroutine to the other's P (runnext): it runs
// without any steal.
TEST_F(Chan, PingPongStaysOnOneP) {
  auto ping = Make(sizeof(int), 0), pong = Make(sizeof(int), 0);
  gort_stats before, after;
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      int v;
      for (int i = 0; i < 10000; i++) {
        gort_chan_recv(ping.get(), &v);
        gort_chan_send(pong.get(), &v);
      }
    });
    gort_sleep(1000000);
    gort_stats_get(&before);
    for (int i = 0; i < 10000; i++) {
      int v = i;
      gort_chan_send(ping.get(), &v);
      gort_chan_recv(pong.get(), &v);
      ASSERT_EQ(v, i);
    }
    gort_stats_get(&after);
    wg.Wait();
  });
  // 20,000 handoffs; a few steals may race in, but not one per handoff.
  EXPECT_LT(after.steals - before.steals, 1000u);
}

// A select or a timed receive woken by a send still locks the channel on
// its way out (to unlink its other waiters, or after a timeout).  A program
// that frees the channel as soon as the send returns must not pull it from
// under that: gort_chan_free waits until the op is done with it.  With one
// P the woken goroutine has not run when the send returns, so the free
// must let it run first (before the fix it freed at once, and ASan, in CI,
// caught the select locking freed memory).
TEST_F(Chan, FreeWaitsForAWokenOpStillReturning) {
  gort_test::Procs one(1);
  Main([] {
    for (int timed = 0; timed < 2; timed++)
      for (int round = 0; round < 20; round++) {
        gort_chan* a = gort_chan_make(sizeof(int), 0);
        gort_chan* b = gort_chan_make(sizeof(int), 0);
        std::atomic<bool> returned{false};
        gort_test::Group wg;
        wg.Go([&] {
          int x = 0, y = 0;
          if (timed) {
            EXPECT_EQ(gort_chan_recv_timeout(a, &x, 3600 * 1000000000LL), 0);
          } else {
            gort_case cs[2] = {{a, GORT_RECV, &x, 0}, {b, GORT_RECV, &y, 0}};
            EXPECT_EQ(gort_select(cs, 2, -1), 0);
          }
          EXPECT_EQ(x, 7);
          returned = true;
        });
        gort_yield();  // it runs and blocks on a (and b)
        int v = 7;
        ASSERT_EQ(gort_chan_send(a, &v), 0);  // woken, not yet run
        EXPECT_EQ(gort_chan_free(a), 0);
        EXPECT_TRUE(returned.load()) << (timed ? "timed receive" : "select");
        wg.Wait();
        EXPECT_EQ(gort_chan_free(b), 0);
      }
  });
}

// The select's other channels too: freeing b right after the send on a
// completed the select (its waiter on b is still queued until the select
// runs) waits for it, rather than refusing with -EBUSY.
TEST_F(Chan, FreeOfACompletedSelectsOtherChannelWaitsForIt) {
  const int kRounds = (int)gort_test::Scale(10000);
  int busy = 0;
  gort_test::Procs one(1);  // the woken select has not run when the send returns
  Main([&] {
    for (int round = 0; round < kRounds; round++) {
      gort_chan* a = gort_chan_make(sizeof(int), 0);
      gort_chan* b = gort_chan_make(sizeof(int), 0);
      gort_chan* c = gort_chan_make(0, 0);
      gort_test::Group wg;
      wg.Go([&] {
        int x = 0, y = 0;
        gort_case cs[3] = {{a, GORT_RECV, &x, 0}, {b, GORT_RECV, &y, 0}, {c, GORT_RECV, nullptr, 0}};
        EXPECT_EQ(gort_select(cs, 3, -1), 0);
        EXPECT_EQ(x, 7);
      });
      gort_yield();  // it runs and blocks on a, b and c
      int v = 7;
      ASSERT_EQ(gort_chan_send(a, &v), 0);  // completes the select: woken, not yet run
      int rb = gort_chan_free(b), rc = gort_chan_free(c);
      busy += rb != 0 || rc != 0;
      wg.Wait();
      EXPECT_EQ(gort_chan_free(a), 0);
      if (rb != 0) gort_chan_free(b);
      if (rc != 0) gort_chan_free(c);
    }
  });
  EXPECT_EQ(busy, 0) << "of " << kRounds << " rounds";
}

}  // namespace
