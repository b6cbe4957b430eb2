// classic_test.cc — classic Go channel programs rewritten in C: the
// concurrent prime sieve, a 10,000-goroutine relay chain, a fan-in mux.

#include <atomic>
#include <cerrno>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

class Classic : public gort_test::Test {};

// Go's sieve: a generator feeds a chain of filter goroutines, one per
// prime found, each dropping multiples of its prime.
struct Filter {
  gort_chan *in, *out;
  long prime;
};

void FilterRun(void* arg) {
  auto* f = static_cast<Filter*>(arg);
  long v;
  while (gort_chan_recv(f->in, &v) == 0)
    if (v % f->prime != 0) gort_chan_send(f->out, &v);
  gort_chan_close(f->out);  // the generator closed: pass it on
}

TEST_F(Classic, PrimeSieve) {
  const int kPrimes = 200;
  std::vector<long> primes;
  std::vector<gort_chan*> chans;
  std::vector<Filter*> filters;
  Main([&] {
    gort_chan* src = gort_chan_make(sizeof(long), 0);
    chans.push_back(src);
    gort_test::Group gen;
    gen.Go([&] {
      for (long i = 2;; i++)
        if (gort_chan_send(src, &i) != 0) break;  // closed by the test: stop
    });
    gort_chan* in = src;
    for (int i = 0; i < kPrimes; i++) {
      long p;
      ASSERT_EQ(gort_chan_recv(in, &p), 0);
      primes.push_back(p);
      gort_chan* out = gort_chan_make(sizeof(long), 0);
      chans.push_back(out);
      auto* f = new Filter{in, out, p};
      filters.push_back(f);
      ASSERT_EQ(gort_go(FilterRun, f), 0);
      in = out;
    }
    // Shut the chain down: closing the source makes the generator stop
    // and every filter close its output in turn; drain the last one.
    gort_chan_close(src);
    long v;
    while (gort_chan_recv(in, &v) == 0) {
    }
    gen.Wait();
  });
  // Check against trial division.
  std::vector<long> want;
  for (long n = 2; (int)want.size() < kPrimes; n++) {
    bool prime = true;
    for (long d : want) prime = prime && n % d != 0;
    if (prime) want.push_back(n);
  }
  EXPECT_EQ(primes, want);
  gort_test::WaitForNoGoroutines();
  for (auto* c : chans) gort_chan_free(c);
  for (auto* f : filters) delete f;
}

// A value passed through 10,000 goroutines, each adding one.
TEST_F(Classic, RelayChainOfTenThousand) {
  // Under TSan each goroutine is a fiber, and at most 8128 may be alive.
  const int kN = gort_test::kTsan ? 5000 : 10000;
  std::vector<gort_chan*> c(kN + 1);
  for (auto& ch : c) ch = gort_chan_make(sizeof(long), 0);
  Main([&] {
    for (int i = 0; i < kN; i++)
      Go([&, i] {
        long v;
        gort_chan_recv(c[i], &v);
        v++;
        gort_chan_send(c[i + 1], &v);
      });
    long v = 0;
    gort_chan_send(c[0], &v);
    ASSERT_EQ(gort_chan_recv(c[kN], &v), 0);
    EXPECT_EQ(v, kN);
  });
  gort_test::WaitForNoGoroutines();
  for (auto* ch : c) gort_chan_free(ch);
}

// Fan-in: producers on their own channels, one mux goroutine selecting
// over all of them into one output, until every input is closed.
TEST_F(Classic, FanInMux) {
  const int kProducers = 8;
  const long kEach = gort_test::Scale(5000);
  std::vector<gort_chan*> in(kProducers);
  for (auto& ch : in) ch = gort_chan_make(sizeof(long), 0);
  gort_chan* out = gort_chan_make(sizeof(long), 16);
  long sum = 0, count = 0;
  Main([&] {
    for (int p = 0; p < kProducers; p++)
      Go([&, p] {
        for (long i = 1; i <= kEach; i++) gort_chan_send(in[p], &i);
        gort_chan_close(in[p]);
      });
    Go([&] {  // the mux
      std::vector<gort_case> cases(kProducers);
      long v;
      for (int p = 0; p < kProducers; p++) cases[p] = {in[p], GORT_RECV, &v, 0};
      for (int open = kProducers; open > 0;) {
        int k = gort_select(cases.data(), cases.size(), -1);
        if (k < 0) {  // close out anyway: the test waits for it
          ADD_FAILURE() << "gort_select: " << k;
          break;
        }
        if (cases[k].result == -EPIPE) {
          cases[k].chan = nullptr;  // closed: never ready again
          open--;
          continue;
        }
        gort_chan_send(out, &v);
      }
      gort_chan_close(out);
    });
    long v;
    while (gort_chan_recv(out, &v) == 0) {
      sum += v;
      count++;
    }
  });
  EXPECT_EQ(count, kProducers * kEach);
  EXPECT_EQ(sum, kProducers * kEach * (kEach + 1) / 2);
  gort_test::WaitForNoGoroutines();
  for (auto* ch : in) gort_chan_free(ch);
  gort_chan_free(out);
}

}  // namespace
