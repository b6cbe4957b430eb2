// chan_stress_test.cc — many producers and consumers over buffered and
// unbuffered channels, with random selects and timeouts, on every P and
// on plain threads: every value is received exactly once (count and sum
// of distinct values).  Rounds of that run for a few seconds;
// GORT_TEST_LONG=1 runs ten times as many.

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class ChanStress : public gort_test::Test {};


void OneRound() {
  const int kChans = 4, kProducers = 8, kConsumers = 8;
  const long kEach = gort_test::Scale(20000);
  const long kTotal = kProducers * kEach;
  gort_chan* chans[kChans];
  for (int i = 0; i < kChans; i++) chans[i] = gort_chan_make(sizeof(long), i % 2 ? 0 : 32);
  std::vector<std::atomic<uint8_t>> seen(kTotal);
  std::atomic<long> received{0}, timeouts{0};
  std::atomic<bool> done{false};

  // Producer p sends values p*kEach .. p*kEach+kEach-1, each on a channel
  // picked by a select over all of them (or a plain send), retrying after
  // a timeout.
  auto produce = [&](int p) {
    uint64_t r = 0x9E3779B97F4A7C15ull * (p + 1);
    for (long i = 0; i < kEach; i++) {
      long v = p * kEach + i;
      for (;;) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        if (r % 3 == 0) {
          if (gort_chan_send_timeout(chans[r % kChans], &v, (int64_t)(r % 50000)) == 0) break;
          timeouts++;
          continue;
        }
        gort_case cases[kChans];
        for (int c = 0; c < kChans; c++) cases[c] = {chans[c], GORT_SEND, &v, 0};
        int k = gort_select(cases, kChans, r % 2 ? -1 : 100000);
        if (k >= 0) {
          ASSERT_EQ(cases[k].result, 0);
          break;
        }
        ASSERT_EQ(k, -ETIMEDOUT);
        timeouts++;
      }
    }
  };
  auto consume = [&](int id) {
    uint64_t r = 0x2545F4914F6CDD1Dull * (id + 1);
    while (!done) {
      long v = -1;
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      gort_case cases[kChans];
      for (int c = 0; c < kChans; c++) cases[c] = {chans[c], GORT_RECV, &v, 0};
      int k = r % 4 == 0 ? (gort_chan_recv_timeout(chans[r % kChans], &v, 20000) == 0 ? 0 : -1)
                         : gort_select(cases, kChans, 1000000);
      if (k < 0) continue;
      ASSERT_GE(v, 0);
      ASSERT_LT(v, kTotal);
      ASSERT_EQ(seen[v]++, 0) << "value " << v << " received twice";
      if (++received == kTotal) done = true;
    }
  };

  std::thread tp(produce, kProducers - 1);  // one producer and one consumer
  std::thread tc(consume, kConsumers - 1);  // are plain threads
  Main([&] {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    for (int p = 0; p < kProducers - 1; p++) {
      gort_waitgroup_add(&wg, 1);
      Go([&, p] {
        produce(p);
        gort_waitgroup_done(&wg);
      });
    }
    for (int c = 0; c < kConsumers - 1; c++) {
      gort_waitgroup_add(&wg, 1);
      Go([&, c] {
        consume(c);
        gort_waitgroup_done(&wg);
      });
    }
    gort_waitgroup_wait(&wg);
  });
  tp.join();
  tc.join();
  EXPECT_EQ(received.load(), kTotal);
  for (long v = 0; v < kTotal; v++) ASSERT_EQ(seen[v].load(), 1) << "value " << v;
  printf("%ld values, %ld timeouts along the way\n", kTotal, timeouts.load());
  for (auto* c : chans) gort_chan_free(c);
}

TEST_F(ChanStress, EveryValueExactlyOnce) {
  const long rounds = gort_test::Scale(10);  // ~1.5 s here; 1 under qemu
  for (long r = 0; r < rounds && !HasFailure(); r++) OneRound();
}

}  // namespace
