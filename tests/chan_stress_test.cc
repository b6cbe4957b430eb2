// chan_stress_test.cc — many producers and consumers over buffered and
// unbuffered channels, with random selects and timeouts, on every P and
// on plain threads: every value is received exactly once (count and sum
// of distinct values).  Rounds of that run for a few seconds;
// GORT_TEST_LONG=1 runs ten times as many.  Each worker's xorshift choices
// start from gort_test::Seed() (printed; GORT_TEST_SEED=N repeats them).

#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class ChanStress : public gort_test::Test {};

// A worker's xorshift state: never 0 (xorshift would stay 0).
uint64_t Start(std::mt19937_64& rng) { return rng() | 1; }

void OneRound(std::mt19937_64& rng) {
  const int kChans = 4, kProducers = 8, kConsumers = 8;
  const long kEach = gort_test::Scale(20000);
  const long kTotal = kProducers * kEach;
  gort_chan* chans[kChans];
  for (int i = 0; i < kChans; i++) chans[i] = gort_chan_make(sizeof(long), i % 2 ? 0 : 32);
  std::vector<std::atomic<uint8_t>> seen(kTotal);
  std::atomic<long> received{0}, timeouts{0};
  std::atomic<bool> done{false};
  std::vector<uint64_t> start_p(kProducers), start_c(kConsumers);
  for (auto& r : start_p) r = Start(rng);
  for (auto& r : start_c) r = Start(rng);

  // Producer p sends values p*kEach .. p*kEach+kEach-1, each on a channel
  // picked by a select over all of them (or a plain send), retrying after
  // a timeout.
  auto produce = [&](int p) {
    uint64_t r = start_p[p];
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
    uint64_t r = start_c[id];
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
    gort_test::Group wg;
    for (int p = 0; p < kProducers - 1; p++) {
      wg.Go([&, p] {
        produce(p);
      });
    }
    for (int c = 0; c < kConsumers - 1; c++) {
      wg.Go([&, c] {
        consume(c);
      });
    }
    wg.Wait();
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
  std::mt19937_64 rng = gort_test::SeededRng(gort_test::Seed());
  for (long r = 0; r < rounds && !HasFailure(); r++) OneRound(rng);
}

// ---- The buffered fast path at the empty/full boundary ---------------------
// Small capacities (1, 2, 3: not a power of two; 128) keep the ring
// empty or full most of the time, so fast-path sends and receives race
// with a peer queuing itself as a waiter, with select (which takes the
// lock), with try and timed operations, and with close.

struct Item {
  long from;  // producer id
  long seq;   // 0, 1, 2, ... per producer
};

// One way to send (send) or receive, picked per operation: a plain op, a
// try (timeout 0) retried, a timed op retried, or a one-case select.
int OpSome(gort_chan* c, Item* it, bool send, uint64_t* r) {
  for (;;) {
    *r ^= *r << 13, *r ^= *r >> 7, *r ^= *r << 17;
    int64_t timeout = -1;  // case 0: a plain op
    switch (*r % 4) {
      case 1: timeout = 0; break;
      case 2: timeout = (int64_t)(*r % 20000); break;
      case 3: {
        gort_case k = {c, send ? GORT_SEND : GORT_RECV, it, 0};
        int rc = gort_select(&k, 1, *r % 8 == 3 ? 0 : -1);
        if (rc == 0) return k.result;
        if (rc != -EAGAIN) return rc;
        continue;  // the default case: try again
      }
    }
    int rc = timeout < 0 ? (send ? gort_chan_send(c, it) : gort_chan_recv(c, it))
                         : (send ? gort_chan_send_timeout(c, it, timeout) : gort_chan_recv_timeout(c, it, timeout));
    if (rc != -EAGAIN && rc != -ETIMEDOUT) return rc;
  }
}

int SendSome(gort_chan* c, const Item* it, uint64_t* r) { return OpSome(c, const_cast<Item*>(it), true, r); }
int RecvSome(gort_chan* c, Item* it, uint64_t* r) { return OpSome(c, it, false, r); }

// Run fn on a plain thread or as a goroutine; join() waits for it.
class Runner {
 public:
  Runner(bool thread, std::function<void()> fn) : thread_(thread) {
    if (thread) {
      t_ = std::thread(std::move(fn));
    } else {
      wg_.Go(std::move(fn));
    }
  }
  void join() {
    if (thread_)
      t_.join();
    else
      wg_.Wait();
  }

 private:
  bool thread_;
  std::thread t_;
  gort_test::Group wg_;
};

// One producer, one consumer (each a goroutine or a plain thread): every
// value arrives once and in order, then -EPIPE with the element zeroed.
TEST_F(ChanStress, BoundaryOneProducerOneConsumerInOrder) {
  const long n = gort_test::Scale(40000);
  std::mt19937_64 rng = gort_test::SeededRng(gort_test::Seed());
  for (size_t cap : {1, 2, 3, 128}) {
    for (int mode = 0; mode < 4 && !HasFailure(); mode++) {
      gort_chan* c = gort_chan_make(sizeof(Item), cap);
      ASSERT_NE(c, nullptr);
      std::atomic<long> got{0};
      const uint64_t start_prod = Start(rng), start_cons = Start(rng);
      Main([&] {
        Runner prod(mode & 1, [&] {
          uint64_t r = start_prod;
          for (long i = 0; i < n; i++) {
            Item it = {0, i};
            ASSERT_EQ(SendSome(c, &it, &r), 0);
            ASSERT_LE(gort_chan_len(c), cap);
          }
          ASSERT_EQ(gort_chan_close(c), 0);
        });
        Runner cons(mode & 2, [&] {
          uint64_t r = start_cons;
          Item it;
          for (long i = 0;; i++) {
            it = {-1, -1};
            int rc = RecvSome(c, &it, &r);
            if (rc == -EPIPE) {
              ASSERT_EQ(it.from, 0);
              ASSERT_EQ(it.seq, 0);
              break;
            }
            ASSERT_EQ(rc, 0);
            ASSERT_EQ(it.seq, i) << "cap " << cap << " mode " << mode;
            got++;
          }
        });
        prod.join();
        cons.join();
      });
      EXPECT_EQ(got.load(), n) << "cap " << cap << " mode " << mode;
      EXPECT_EQ(gort_chan_len(c), 0u);
      gort_chan_free(c);
    }
  }
}

// Producers and consumers (goroutines and plain threads) on one small
// channel, closed while the producers still send: each producer sends
// until -EPIPE (or kMax values); every send that returned 0 is received
// exactly once (none lost at the close), and each consumer sees each
// producer's values in increasing order (FIFO).
TEST_F(ChanStress, BoundaryManyToManyWithClose) {
  const int kProd = 4, kCons = 4;
  const long rounds = gort_test::Scale(40), kMax = gort_test::Scale(100000);
  std::mt19937_64 rng = gort_test::SeededRng(gort_test::Seed());
  for (long round = 0; round < rounds && !HasFailure(); round++) {
    size_t cap = 1 + round % 4;
    std::vector<uint64_t> start_p(kProd), start_c(kCons);
    for (auto& r : start_p) r = Start(rng);
    for (auto& r : start_c) r = Start(rng);
    gort_chan* c = gort_chan_make(sizeof(Item), cap);
    ASSERT_NE(c, nullptr);
    std::vector<long> sent(kProd, 0);
    std::vector<std::vector<long>> recvd(kCons, std::vector<long>(kProd, 0));
    std::vector<std::vector<long>> last(kCons, std::vector<long>(kProd, -1));
    std::atomic<int> producers_done{0};
    std::vector<std::atomic<uint8_t>> seen(kProd * kMax);
    Main([&] {
      std::vector<std::unique_ptr<Runner>> rs;
      for (int p = 0; p < kProd; p++)
        rs.push_back(std::make_unique<Runner>(p == 0, [&, p] {
          uint64_t r = start_p[p];
          for (long i = 0; i < kMax; i++) {
            Item it = {p, i};
            int rc = SendSome(c, &it, &r);
            if (rc == -EPIPE) break;
            ASSERT_EQ(rc, 0);
            sent[p]++;
          }
          producers_done++;
        }));
      for (int k = 0; k < kCons; k++)
        rs.push_back(std::make_unique<Runner>(k == 0, [&, k] {
          uint64_t r = start_c[k];
          for (;;) {
            Item it = {-1, -1};
            int rc = RecvSome(c, &it, &r);
            if (rc == -EPIPE) {
              ASSERT_EQ(it.from, 0);
              ASSERT_EQ(it.seq, 0);
              break;
            }
            ASSERT_EQ(rc, 0);
            ASSERT_GE(it.from, 0);
            ASSERT_LT(it.from, kProd);
            ASSERT_GT(it.seq, last[k][it.from]) << "out of order from producer " << it.from;
            ASSERT_LT(it.seq, kMax);
            ASSERT_EQ(seen[it.from * kMax + it.seq]++, 0) << "received twice";
            last[k][it.from] = it.seq;
            recvd[k][it.from]++;
          }
        }));
      gort_sleep((round % 5) * 200000);  // close after 0 .. 0.8 ms
      ASSERT_EQ(gort_chan_close(c), 0);
      for (auto& x : rs) x->join();
    });
    for (int p = 0; p < kProd; p++) {
      long total = 0;
      for (int k = 0; k < kCons; k++) total += recvd[k][p];
      ASSERT_EQ(total, sent[p]) << "producer " << p << ": sent " << sent[p] << ", received " << total;
      for (long i = 0; i < sent[p]; i++) ASSERT_EQ(seen[p * kMax + i].load(), 1) << p << "/" << i;
    }
    EXPECT_EQ(producers_done.load(), kProd);
    gort_chan_free(c);
  }
}

}  // namespace
