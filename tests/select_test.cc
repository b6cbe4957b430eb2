// select_test.cc — gort_select: one test per rule of the contract (runtime/gort.h
// "Select").

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class Select : public gort_test::Test {};

struct ChanFree {
  void operator()(gort_chan* c) const { gort_chan_free(c); }
};
using ChanPtr = std::unique_ptr<gort_chan, ChanFree>;
ChanPtr Make(size_t elem, size_t cap) { return ChanPtr(gort_chan_make(elem, cap)); }

TEST_F(Select, PicksTheReadyCase) {
  auto a = Make(sizeof(int), 1), b = Make(sizeof(int), 1);
  int v = 7, got = 0;
  ASSERT_EQ(gort_chan_send(b.get(), &v), 0);
  gort_case cases[] = {{a.get(), GORT_RECV, &got, 99}, {b.get(), GORT_RECV, &got, 99}};
  EXPECT_EQ(gort_select(cases, 2, -1), 1);
  EXPECT_EQ(cases[1].result, 0);
  EXPECT_EQ(got, 7);
}

// Among ready cases the choice is uniform: chi-square over 100,000
// selects on 4 always-ready (closed) channels, 3 degrees of freedom.  The
// bound 30.7 is p = 1e-6: a fair select fails it once in a million runs.
TEST_F(Select, ChoiceAmongReadyCasesIsUniform) {
  ChanPtr cs[4];
  gort_case cases[4];
  for (int i = 0; i < 4; i++) {
    cs[i] = Make(0, 0);
    gort_chan_close(cs[i].get());
    cases[i] = {cs[i].get(), GORT_RECV, nullptr, 0};
  }
  const int kN = 100000;
  long count[4] = {};
  for (int i = 0; i < kN; i++) {
    int k = gort_select(cases, 4, 0);
    ASSERT_GE(k, 0);
    ASSERT_EQ(cases[k].result, -EPIPE);
    count[k]++;
  }
  double expect = kN / 4.0, chi2 = 0;
  for (long c : count) chi2 += (c - expect) * (c - expect) / expect;
  EXPECT_LT(chi2, 30.7) << count[0] << " " << count[1] << " " << count[2] << " " << count[3];
}

TEST_F(Select, NullCasesAreNeverReady) {
  auto a = Make(sizeof(int), 1);
  int v = 1;
  ASSERT_EQ(gort_chan_send(a.get(), &v), 0);
  gort_case cases[] = {{nullptr, GORT_RECV, &v, 0}, {a.get(), GORT_RECV, &v, 0}, {nullptr, 0, nullptr, 0}};
  for (int i = 0; i < 5; i++) {
    int k = gort_select(cases, 3, 0);
    if (i == 0) {
      EXPECT_EQ(k, 1);
    } else {
      EXPECT_EQ(k, -EAGAIN) << "only NULL cases and an empty channel left";
    }
  }
}

TEST_F(Select, DefaultAndTimeout) {
  auto a = Make(sizeof(int), 0);
  int v;
  gort_case cases[] = {{a.get(), GORT_RECV, &v, 0}, {a.get(), GORT_SEND, &v, 0}};
  EXPECT_EQ(gort_select(cases, 2, 0), -EAGAIN);
  int64_t t0 = gort_now();
  EXPECT_EQ(gort_select(cases, 2, 5 * 1000 * 1000), -ETIMEDOUT);  // plain thread
  EXPECT_GE(gort_now() - t0, 5 * 1000 * 1000);
  Main([&] {
    int64_t t1 = gort_now();
    EXPECT_EQ(gort_select(cases, 2, 5 * 1000 * 1000), -ETIMEDOUT);  // goroutine
    EXPECT_GE(gort_now() - t1, 5 * 1000 * 1000);
  });
  EXPECT_EQ(gort_select(nullptr, 0, 0), -EAGAIN);
  t0 = gort_now();
  EXPECT_EQ(gort_select(nullptr, 0, 2 * 1000 * 1000), -ETIMEDOUT);  // empty: just sleeps
  EXPECT_GE(gort_now() - t0, 2 * 1000 * 1000);
}

TEST_F(Select, BadArgumentsAreEinval) {
  auto a = Make(sizeof(int), 1);
  gort_case bad_op[] = {{a.get(), 3, nullptr, 0}};
  EXPECT_EQ(gort_select(bad_op, 1, 0), -EINVAL);
  EXPECT_EQ(gort_select(nullptr, 3, 0), -EINVAL);
  EXPECT_EQ(gort_select(bad_op, (size_t)1 << 20, 0), -EINVAL);
}

// A blocked select is completed by whichever case becomes ready: a send
// case by a receiver, a receive case by a sender, a closed channel.
TEST_F(Select, BlockedSelectWokenBySendRecvOrClose) {
  for (int how = 0; how < 3; how++) {
    auto a = Make(sizeof(int), 0), b = Make(sizeof(int), 0);
    int out = 11, in = 0;
    gort_case cases[] = {{a.get(), GORT_SEND, &out, 99}, {b.get(), GORT_RECV, &in, 99}};
    Main([&] {
      gort_test::Group wg;
      wg.Go([&] {
        gort_sleep(5 * 1000 * 1000);
        int v = 22;
        if (how == 0) {
          EXPECT_EQ(gort_chan_recv(a.get(), &v), 0);
          EXPECT_EQ(v, 11);
        } else if (how == 1) {
          EXPECT_EQ(gort_chan_send(b.get(), &v), 0);
        } else {
          EXPECT_EQ(gort_chan_close(b.get()), 0);
        }
      });
      int k = gort_select(cases, 2, -1);
      EXPECT_EQ(k, how == 0 ? 0 : 1);
      EXPECT_EQ(cases[k].result, how == 2 ? -EPIPE : 0);
      if (how == 1) {
        EXPECT_EQ(in, 22);
      }
      wg.Wait();
    });
  }
}

// The same channel may appear in several cases, both ways.  With a
// receiver on the other end, the send case completes; with a buffered
// value, one receive case takes it, once.
TEST_F(Select, DuplicateChannels) {
  auto c = Make(sizeof(int), 0);
  int out = 5, in1 = 0, in2 = 0;
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      gort_sleep(2 * 1000 * 1000);
      int v = 0;
      EXPECT_EQ(gort_chan_recv(c.get(), &v), 0);
      EXPECT_EQ(v, 5);
    });
    gort_case cases[] = {{c.get(), GORT_RECV, &in1, 9}, {c.get(), GORT_SEND, &out, 9}, {c.get(), GORT_RECV, &in2, 9}};
    EXPECT_EQ(gort_select(cases, 3, -1), 1);
    wg.Wait();
  });
  auto b = Make(sizeof(int), 2);
  int v = 3;
  ASSERT_EQ(gort_chan_send(b.get(), &v), 0);
  gort_case twice[] = {{b.get(), GORT_RECV, &in1, 9}, {b.get(), GORT_RECV, &in2, 9}};
  int k = gort_select(twice, 2, 0);
  ASSERT_GE(k, 0);
  EXPECT_EQ(k == 0 ? in1 : in2, 3);
  EXPECT_EQ(gort_chan_len(b.get()), 0u);
  EXPECT_EQ(gort_select(twice, 2, 0), -EAGAIN);
}

// A goroutine blocked in a select is woken by exactly one case: with two
// senders racing, one value is taken and the other sender stays blocked
// until it is received separately.
TEST_F(Select, WokenByExactlyOneCase) {
  for (int round = 0; round < 200; round++) {
    auto a = Make(sizeof(int), 0), b = Make(sizeof(int), 0);
    std::atomic<int> sent{0};
    Main([&] {
      gort_test::Group wg;
      for (gort_chan* c : {a.get(), b.get()})
        wg.Go([&, c] {
          int v = 1;
          if (gort_chan_send(c, &v) == 0) sent++;
        });
      int x = 0, y = 0;
      gort_case cases[] = {{a.get(), GORT_RECV, &x, 9}, {b.get(), GORT_RECV, &y, 9}};
      int k = gort_select(cases, 2, -1);
      ASSERT_GE(k, 0);
      EXPECT_EQ(x + y, 1) << "one value, from one case";
      // The completed sender returns soon (slowly under a sanitizer); the
      // other must stay blocked: never count 2 before we receive its value.
      for (int i = 0; i < 10000 && sent.load() == 0; i++) gort_sleep(100000);
      gort_sleep(1000000);
      EXPECT_EQ(sent.load(), 1) << "the other sender must still be blocked";
      int z;
      EXPECT_EQ(gort_chan_recv(k == 0 ? b.get() : a.get(), &z), 0);
      wg.Wait();
      EXPECT_EQ(sent.load(), 2);
    });
  }
}

// A plain thread can select, and be completed by a goroutine.
TEST_F(Select, FromPlainThreads) {
  auto a = Make(sizeof(int), 0);
  std::thread t([&] {
    int v = 0;
    gort_case cases[] = {{a.get(), GORT_RECV, &v, 9}};
    EXPECT_EQ(gort_select(cases, 1, -1), 0);
    EXPECT_EQ(v, 77);
  });
  Main([&] {
    int v = 77;
    EXPECT_EQ(gort_chan_send(a.get(), &v), 0);
  });
  t.join();
}

// More cases than fit on the stack (the allocation path).
TEST_F(Select, ManyCases) {
  std::vector<ChanPtr> cs;
  std::vector<gort_case> cases;
  int v = 0;
  for (int i = 0; i < 100; i++) {
    cs.push_back(Make(sizeof(int), 1));
    cases.push_back({cs.back().get(), GORT_RECV, &v, 0});
  }
  int x = 42;
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      gort_sleep(2 * 1000 * 1000);
      gort_chan_send(cs[73].get(), &x);
    });
    EXPECT_EQ(gort_select(cases.data(), cases.size(), -1), 73);
    EXPECT_EQ(v, 42);
    wg.Wait();
  });
}

}  // namespace
