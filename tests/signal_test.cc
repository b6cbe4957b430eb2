// signal_test.cc — gort_signal_notify / gort_signal_stop (Go's
// os/signal.Notify): every signal arrives on its channels, a full channel
// drops, stop gives the program's own handler back, and nothing sends on
// a channel once stop has returned.

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "runtime/core/runtime.h"
#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

constexpr int64_t kSecond = 1000LL * 1000 * 1000;

class Signal : public gort_test::Test {};

std::atomic<int> handled{0};
void CountingHandler(int) { handled++; }

TEST_F(Signal, EverySignalArrivesOnItsChannel) {
  // TSan runs a handler only when its thread next enters an interceptor;
  // an idle M sleeping in a raw futex call may never (process_test.cc).
  if (gort_test::kTsan) GTEST_SKIP() << "TSan may never run the handler on an idle M";
  const int kRounds = (int)gort_test::Scale(200);
  gort_chan* c = gort_chan_make(sizeof(int), 4);
  ASSERT_EQ(gort_signal_notify(SIGUSR1, c), 0);
  int got_all = 0;
  Main([&] {
    for (int i = 0; i < kRounds; i++) {
      ASSERT_EQ(kill(getpid(), SIGUSR1), 0);  // any thread may take it
      int sig = 0;
      ASSERT_EQ(gort_chan_recv_timeout(c, &sig, 10 * kSecond), 0) << "round " << i;
      EXPECT_EQ(sig, SIGUSR1);
      got_all++;
    }
  });
  EXPECT_EQ(got_all, kRounds);
  EXPECT_EQ(gort_signal_stop(SIGUSR1, c), 0);
  EXPECT_EQ(gort_chan_free(c), 0);
}

TEST_F(Signal, AFullChannelDropsAndAPlainThreadReceivesToo) {
  gort_chan* c = gort_chan_make(sizeof(int), 1);
  ASSERT_EQ(gort_signal_notify(SIGUSR2, c), 0);
  for (int i = 0; i < 20; i++) ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  int sig = 0;
  EXPECT_EQ(gort_chan_recv_timeout(c, &sig, 10 * kSecond), 0);  // from a plain thread
  EXPECT_EQ(sig, SIGUSR2);
  // The rest merged or were dropped on the full channel: never twenty.
  // Those in flight when the first is taken may still come, one by one as
  // the channel empties: a bit the forwarder holds or finds set, a handler
  // running, one signal pending in the kernel (TSan's slow handlers showed
  // two in CI).
  int more = 0;
  while (gort_chan_recv_timeout(c, &sig, 100 * 1000 * 1000) == 0) more++;
  EXPECT_LE(more, 4);
  EXPECT_EQ(gort_signal_stop(SIGUSR2, c), 0);
  EXPECT_EQ(gort_chan_free(c), 0);
}

TEST_F(Signal, SeveralChannelsAndSeveralSignals) {
  gort_chan *a = gort_chan_make(sizeof(int), 4), *b = gort_chan_make(sizeof(int), 4);
  ASSERT_EQ(gort_signal_notify(SIGUSR1, a), 0);
  ASSERT_EQ(gort_signal_notify(SIGUSR1, b), 0);
  ASSERT_EQ(gort_signal_notify(SIGUSR2, b), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  int sig = 0;
  EXPECT_EQ(gort_chan_recv_timeout(a, &sig, 10 * kSecond), 0);
  EXPECT_EQ(sig, SIGUSR1);
  EXPECT_EQ(gort_chan_recv_timeout(b, &sig, 10 * kSecond), 0);
  EXPECT_EQ(sig, SIGUSR1);
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  EXPECT_EQ(gort_chan_recv_timeout(b, &sig, 10 * kSecond), 0);
  EXPECT_EQ(sig, SIGUSR2);
  EXPECT_EQ(gort_chan_recv_timeout(a, &sig, 50 * 1000 * 1000), -ETIMEDOUT);  // a wants only SIGUSR1
  EXPECT_EQ(gort_signal_stop(0, b), 0);  // both of b's
  EXPECT_EQ(gort_signal_stop(SIGUSR1, a), 0);
  EXPECT_EQ(gort_chan_free(a), 0);
  EXPECT_EQ(gort_chan_free(b), 0);
}

// The handler the program had before comes back once no channel wants the
// signal, and while one does, the program's handler is not called.
TEST_F(Signal, StopGivesTheProgramsHandlerBack) {
  struct sigaction sa {}, old {};
  sa.sa_handler = CountingHandler;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  handled = 0;
  gort_chan* c = gort_chan_make(sizeof(int), 1);
  ASSERT_EQ(gort_signal_notify(SIGUSR1, c), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  int sig = 0;
  EXPECT_EQ(gort_chan_recv_timeout(c, &sig, 10 * kSecond), 0);
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(gort_signal_stop(SIGUSR1, c), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  for (int i = 0; i < 1000 && handled.load() == 0; i++) usleep(1000);
  EXPECT_EQ(handled.load(), 1);
  EXPECT_EQ(gort_chan_recv_timeout(c, &sig, 50 * 1000 * 1000), -ETIMEDOUT);
  EXPECT_EQ(gort_chan_free(c), 0);
  sigaction(SIGUSR1, &old, nullptr);
}

// Once stop returns nothing sends on the channel: freeing it right after,
// while signals keep coming from another thread, is safe (ASan checks).
TEST_F(Signal, FreeRightAfterStopWhileSignalsArrive) {
  std::atomic<bool> done{false};
  struct sigaction sa {}, old {};
  sa.sa_handler = SIG_IGN;  // between registrations: ignored, not fatal
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::thread storm([&] {
    while (!done) {
      kill(getpid(), SIGUSR2);
      usleep(50);
    }
  });
  for (int i = 0; i < gort_test::Scale(500); i++) {
    gort_chan* c = gort_chan_make(sizeof(int), 1);
    ASSERT_EQ(gort_signal_notify(SIGUSR2, c), 0);
    if (i % 2) usleep(100);
    ASSERT_EQ(gort_signal_stop(SIGUSR2, c), 0);
    ASSERT_EQ(gort_chan_free(c), 0);
  }
  done = true;
  storm.join();
  sigaction(SIGUSR2, &old, nullptr);
}

// A try from the program's own handler that interrupted the runtime on
// its thread while it held a lock is -EPERM, not a wait for itself; with
// no lock held the same try works (calls from handlers stay unsupported:
// docs/signals.md).
gort_chan* handler_chan;
std::atomic<int> handler_send{1}, handler_recv{1};
void TryFromHandler(int) {
  int v = 7;
  handler_send = gort_chan_send_timeout(handler_chan, &v, 0);
  handler_recv = gort_chan_recv_timeout(handler_chan, &v, 0);
}

TEST_F(Signal, TryFromAHandlerThatInterruptedTheRuntimeIsEperm) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = TryFromHandler;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  Main([] {
    handler_chan = gort_chan_make(sizeof(int), 1);
    gort_lock_os_thread();  // raise() and the lock on one thread
    static gort_os_lock held;
    gort_lock(&held);  // as the runtime is inside one of its locks
    raise(SIGUSR1);    // the handler runs on this thread, now
    gort_unlock(&held);
    EXPECT_EQ(handler_send.load(), -EPERM);
    EXPECT_EQ(handler_recv.load(), -EPERM);
    raise(SIGUSR1);
    EXPECT_EQ(handler_send.load(), 0);
    EXPECT_EQ(handler_recv.load(), 0);
    gort_unlock_os_thread();
    EXPECT_EQ(gort_chan_free(handler_chan), 0);
  });
  sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
