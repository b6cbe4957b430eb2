// misuse_test — every row of the "Misuse and bad input" table in
// runtime/HACKING.md: each bad input gets exactly the result the table
// gives, and the object works afterwards (nothing was corrupted).
//
// One test per row, named after the row's function (gort_chan_make:
// Misuse.ChanMake_...).  MisuseTable reads runtime/gort.h and
// runtime/HACKING.md (runfiles) and fails if a gort_* function of the
// header has no row, a row names no such function, or a row has no test.
// Cases the table marks "not detected" (freed objects, relocks) have none.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

class Misuse : public gort_test::Test {};

using ChanPtr = std::unique_ptr<gort_chan, void (*)(gort_chan*)>;
void FreeChan(gort_chan* c) { gort_chan_free(c); }
ChanPtr Make(size_t elem_size, size_t cap) { return ChanPtr(gort_chan_make(elem_size, cap), FreeChan); }

// A descriptor number that is not open (checked by the caller's ASSERT).
constexpr int kNotOpen = 900000;
bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

// gort_dump's text.
std::string Dump() {
  int p[2];
  if (pipe(p) != 0) return "";
  gort_dump(p[1]);
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, (size_t)n);
  close(p[0]);
  return out;
}

// Wait (bounded) until some goroutine is parked with this wait reason:
// it is then queued on whatever it waits for.
bool WaitUntilParked(const std::string& reason) {
  for (int i = 0; i < 10000; i++) {
    if (Dump().find("[waiting: " + reason + ",") != std::string::npos) return true;
    gort_sleep(1000000);
  }
  return false;
}

// ===================================================================== //
// Runtime                                                                //
// ===================================================================== //

TEST_F(Misuse, Init_BadConfigIsEinvalAnotherConfigIsEbusy) {
  const int procs = gort_maxprocs(0);  // the runtime is running from here on
  gort_config bad[] = {
      {-1, 0},
      {GORT_MAXPROCS_LIMIT + 1, 0},
      {0, GORT_STACK_MIN - 1},
      {0, GORT_STACK_MAX + 1},
  };
  for (const gort_config& c : bad) EXPECT_EQ(gort_init(&c), -EINVAL);
  gort_config other = {procs == 1 ? 2 : 1, 0};
  EXPECT_EQ(gort_init(&other), -EBUSY);
  gort_config other_stack = {0, GORT_STACK_MAX};
  EXPECT_EQ(gort_init(&other_stack), -EBUSY);
  EXPECT_EQ(gort_init(nullptr), 0);
  gort_config nothing = {0, 0};
  EXPECT_EQ(gort_init(&nothing), 0);
  EXPECT_EQ(gort_maxprocs(0), procs);  // nothing changed
  bool ran = false;
  Main([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST_F(Misuse, Main_NullFnIsEinval) {
  EXPECT_EQ(gort_main(nullptr, nullptr), -EINVAL);
  bool ran = false;
  Main([&] {
    EXPECT_EQ(gort_main(nullptr, nullptr), -EINVAL);  // from a goroutine too
    ran = true;
  });
  EXPECT_TRUE(ran);
}

TEST_F(Misuse, Maxprocs_AboveTheLimitIsEinvalNegativeQueries) {
  const int procs = gort_maxprocs(0);
  EXPECT_EQ(gort_maxprocs(GORT_MAXPROCS_LIMIT + 1), -EINVAL);
  EXPECT_EQ(gort_maxprocs(INT_MAX), -EINVAL);
  EXPECT_EQ(gort_maxprocs(-1), procs);
  EXPECT_EQ(gort_maxprocs(INT_MIN), procs);
  EXPECT_EQ(gort_maxprocs(0), procs);
  {
    const int other = procs == 1 ? 2 : 1;
    gort_test::Procs p(other);  // still settable
    EXPECT_EQ(gort_maxprocs(0), other);
  }
  EXPECT_EQ(gort_maxprocs(0), procs);
}

TEST_F(Misuse, Now_HasNoInputAndCannotFail) {
  int64_t a = gort_now(), b = gort_now();
  EXPECT_GT(a, 0);
  EXPECT_LE(a, b);
}

// ===================================================================== //
// Goroutines                                                             //
// ===================================================================== //

TEST_F(Misuse, Go_NullFnIsEinval) {
  EXPECT_EQ(gort_go(nullptr, nullptr), -EINVAL);
  EXPECT_EQ(gort_test::WaitForNoGoroutines(), 0u);  // nothing was started
  std::atomic<bool> ran{false};
  Main([&] {
    EXPECT_EQ(gort_go(nullptr, &ran), -EINVAL);
    gort_test::Group wg;
    ASSERT_EQ(wg.Go([&] {
                ran = true;
              }),
              0);
    wg.Wait();
  });
  EXPECT_TRUE(ran.load());
}

TEST_F(Misuse, GoWith_StackSizeOutOfRangeIsEinval) {
  const size_t bad[] = {1, GORT_STACK_MIN - 1, GORT_STACK_MAX + 1, SIZE_MAX};
  for (size_t size : bad) {
    gort_go_attr attr = {size, "bad"};
    EXPECT_EQ(gort_go_with([](void*) {}, nullptr, &attr), -EINVAL) << size;
  }
  gort_go_attr fine = {GORT_STACK_MIN, "fine"};
  EXPECT_EQ(gort_go_with(nullptr, nullptr, &fine), -EINVAL);
  EXPECT_EQ(gort_test::WaitForNoGoroutines(), 0u);
  // The bounds themselves, an unaligned size (rounded up to pages), a NULL
  // name and a NULL attr all run.
  const gort_go_attr good[] = {
      {GORT_STACK_MIN, "min"}, {GORT_STACK_MAX, "max"}, {GORT_STACK_MIN + 1, nullptr}, {0, nullptr}};
  std::atomic<int> ran{0};
  Main([&] {
    gort_test::Group wg;
    for (const gort_go_attr& attr : good) {
      ASSERT_EQ(wg.Go(
                    [&] {
                      volatile char frame[4 << 10];  // use some of it
                      for (size_t i = 0; i < sizeof frame; i += 512) frame[i] = 1;
                      ran++;
                    },
                    &attr),
                0);
    }
    ASSERT_EQ(wg.Go([&] {
      ran++;
    }),
              0);
    wg.Wait();
  });
  EXPECT_EQ(ran.load(), 5);
}

TEST_F(Misuse, Yield_HasNoInputOnAPlainThreadSchedYields) {
  gort_yield();  // a plain thread
  bool ran = false;
  Main([&] {
    gort_yield();
    ran = true;
  });
  EXPECT_TRUE(ran);
}

TEST_F(Misuse, Sleep_NegativeReturnsAtOnce) {
  EXPECT_EQ(gort_sleep(-1), 0);  // a plain thread
  EXPECT_EQ(gort_sleep(INT64_MIN), 0);
  EXPECT_EQ(gort_sleep(0), 0);
  bool ran = false;
  Main([&] {
    EXPECT_EQ(gort_sleep(-1), 0);
    EXPECT_EQ(gort_sleep(INT64_MIN), 0);
    EXPECT_EQ(gort_sleep(0), 0);
    ran = true;
  });
  EXPECT_TRUE(ran);
}

TEST_F(Misuse, Self_IsZeroOnAPlainThread) {
  EXPECT_EQ(gort_self(), 0u);
  uint64_t other = 1;
  std::thread([&] { other = gort_self(); }).join();
  EXPECT_EQ(other, 0u);
  Main([] { EXPECT_GE(gort_self(), 1u); });
}

TEST_F(Misuse, LockOsThread_PlainThreadIsEperm) {
  EXPECT_EQ(gort_lock_os_thread(), -EPERM);
  int rc = 0;
  std::thread([&] { rc = gort_lock_os_thread(); }).join();
  EXPECT_EQ(rc, -EPERM);
  EXPECT_EQ(gort_unlock_os_thread(), -EPERM);  // the failed lock left nothing to undo
  Main([] {
    EXPECT_EQ(gort_lock_os_thread(), 0);
    EXPECT_EQ(gort_unlock_os_thread(), 0);
  });
}

TEST_F(Misuse, UnlockOsThread_NotLockedIsEperm) {
  EXPECT_EQ(gort_unlock_os_thread(), -EPERM);  // a plain thread
  Main([] {
    EXPECT_EQ(gort_unlock_os_thread(), -EPERM);
    EXPECT_EQ(gort_lock_os_thread(), 0);
    EXPECT_EQ(gort_lock_os_thread(), 0);  // nests
    EXPECT_EQ(gort_unlock_os_thread(), 0);
    EXPECT_EQ(gort_unlock_os_thread(), 0);
    EXPECT_EQ(gort_unlock_os_thread(), -EPERM);  // the count stays at 0
    EXPECT_EQ(gort_lock_os_thread(), 0);
    gort_yield();  // still wired and runnable
    EXPECT_EQ(gort_unlock_os_thread(), 0);
    EXPECT_EQ(gort_unlock_os_thread(), -EPERM);
  });
}

// ===================================================================== //
// Channels                                                               //
// ===================================================================== //

TEST_F(Misuse, ChanMake_ElemTimesCapOverflowsIsEinval) {
  const struct {
    size_t elem, cap;
  } bad[] = {{SIZE_MAX / 2, 4}, {8, SIZE_MAX / 8}, {SIZE_MAX, SIZE_MAX}, {2, SIZE_MAX / 2}};
  for (auto b : bad) {
    errno = 0;
    EXPECT_EQ(gort_chan_make(b.elem, b.cap), nullptr) << b.elem << " x " << b.cap;
    EXPECT_EQ(errno, EINVAL);
  }
  // Fits size_t but not memory: ENOMEM.  (ASan and TSan abort on such a
  // malloc instead of returning NULL.)
  if (!kAsan && !gort_test::kTsan) {
    errno = 0;
    EXPECT_EQ(gort_chan_make(1, SIZE_MAX / 2), nullptr);
    EXPECT_EQ(errno, ENOMEM);
  }
  // Zero-sized elements need no buffer: any capacity.
  auto z = Make(0, SIZE_MAX);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(gort_chan_send(z.get(), nullptr), 0);
  EXPECT_EQ(gort_chan_cap(z.get()), SIZE_MAX);
  auto c = Make(sizeof(int), 2);  // and nothing else is disturbed
  int v = 7;
  ASSERT_EQ(gort_chan_send(c.get(), &v), 0);
  v = 0;
  ASSERT_EQ(gort_chan_recv(c.get(), &v), 0);
  EXPECT_EQ(v, 7);
}

TEST_F(Misuse, ChanFree_NullIsEinvalWithABlockedWaiterIsEbusy) {
  EXPECT_EQ(gort_chan_free(nullptr), -EINVAL);
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  ASSERT_NE(c, nullptr);
  Main([&] {
    gort_test::Group wg;
    int got = 0, rc = 1;
    wg.Go([&] { rc = gort_chan_recv(c, &got); });
    ASSERT_TRUE(WaitUntilParked("chan receive"));
    EXPECT_EQ(gort_chan_free(c), -EBUSY);  // refused: the receiver is queued on c
    int v = 42;
    EXPECT_EQ(gort_chan_send(c, &v), 0);  // c still works, and the receiver too
    wg.Wait();
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(got, 42);
  });
  EXPECT_EQ(gort_chan_free(c), 0);  // nobody waits now: freed
  // A select or timed operation woken but still returning is waited for:
  // chan_test's FreeWaitsForAWokenOpStillReturning.
}

TEST_F(Misuse, SignalNotify_BadSignalsAndChannelsAreEinval) {
  auto c = Make(sizeof(int), 1);
  auto wide = Make(sizeof(int64_t), 1);
  ASSERT_NE(c, nullptr);
  for (int sig : {0, -1, SIGURG, SIGSEGV, SIGBUS, SIGKILL, SIGSTOP, 100000})
    EXPECT_EQ(gort_signal_notify(sig, c.get()), -EINVAL) << "signal " << sig;
  EXPECT_EQ(gort_signal_notify(SIGWINCH, nullptr), -EINVAL);
  EXPECT_EQ(gort_signal_notify(SIGWINCH, wide.get()), -EINVAL);  // not an int
  // Nothing was registered by those: stopping finds nothing.
  EXPECT_EQ(gort_signal_stop(SIGWINCH, c.get()), -ENOENT);
  // And a good registration still works, twice is once.
  EXPECT_EQ(gort_signal_notify(SIGWINCH, c.get()), 0);
  EXPECT_EQ(gort_signal_notify(SIGWINCH, c.get()), 0);
  ASSERT_EQ(kill(getpid(), SIGWINCH), 0);
  int got = 0;
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &got, 10LL * 1000 * 1000 * 1000), 0);
  EXPECT_EQ(got, SIGWINCH);
  EXPECT_EQ(gort_signal_stop(SIGWINCH, c.get()), 0);
}

TEST_F(Misuse, SignalStop_BadSignalOrNullIsEinvalUnregisteredIsEnoent) {
  auto c = Make(sizeof(int), 1);
  EXPECT_EQ(gort_signal_stop(-1, c.get()), -EINVAL);
  EXPECT_EQ(gort_signal_stop(100000, c.get()), -EINVAL);
  EXPECT_EQ(gort_signal_stop(SIGWINCH, nullptr), -EINVAL);
  EXPECT_EQ(gort_signal_stop(SIGWINCH, c.get()), -ENOENT);
  EXPECT_EQ(gort_signal_stop(0, c.get()), -ENOENT);  // 0: every signal, none registered
  EXPECT_EQ(gort_signal_notify(SIGWINCH, c.get()), 0);
  EXPECT_EQ(gort_signal_stop(0, c.get()), 0);
  EXPECT_EQ(gort_signal_stop(SIGWINCH, c.get()), -ENOENT);  // gone already
}

TEST_F(Misuse, ChanSend_NullChanOrElemIsEinvalClosedIsEpipe) {
  int v = 5;
  EXPECT_EQ(gort_chan_send(nullptr, &v), -EINVAL);
  auto c = Make(sizeof(int), 1);
  EXPECT_EQ(gort_chan_send(c.get(), nullptr), -EINVAL);  // elem_size 4: no value to copy
  EXPECT_EQ(gort_chan_len(c.get()), 0u);
  // Unbuffered, with a receiver waiting: it is not woken with garbage.
  auto u = Make(sizeof(int), 0);
  Main([&] {
    gort_test::Group wg;
    int got = 0;
    wg.Go([&] { EXPECT_EQ(gort_chan_recv(u.get(), &got), 0); });
    ASSERT_TRUE(WaitUntilParked("chan receive"));
    EXPECT_EQ(gort_chan_send(u.get(), nullptr), -EINVAL);
    EXPECT_EQ(gort_chan_send(u.get(), &v), 0);
    wg.Wait();
    EXPECT_EQ(got, 5);
  });
  auto z = Make(0, 1);
  EXPECT_EQ(gort_chan_send(z.get(), nullptr), 0);  // elem_size 0: the pointer is ignored
  EXPECT_EQ(gort_chan_send(c.get(), &v), 0);
  ASSERT_EQ(gort_chan_close(c.get()), 0);
  EXPECT_EQ(gort_chan_send(c.get(), &v), -EPIPE);
  int got = 0;
  EXPECT_EQ(gort_chan_recv(c.get(), &got), 0);  // the value sent before the close
  EXPECT_EQ(got, 5);
  EXPECT_EQ(gort_chan_recv(c.get(), &got), -EPIPE);
}

TEST_F(Misuse, ChanRecv_NullChanIsEinvalNullElemDiscards) {
  int v = 3;
  EXPECT_EQ(gort_chan_recv(nullptr, &v), -EINVAL);
  EXPECT_EQ(v, 3);
  auto c = Make(sizeof(int), 2);
  ASSERT_EQ(gort_chan_send(c.get(), &v), 0);
  EXPECT_EQ(gort_chan_recv(c.get(), nullptr), 0);  // discarded
  EXPECT_EQ(gort_chan_len(c.get()), 0u);
  ASSERT_EQ(gort_chan_close(c.get()), 0);
  EXPECT_EQ(gort_chan_recv(c.get(), &v), -EPIPE);
  EXPECT_EQ(v, 0);  // zeroed
  EXPECT_EQ(gort_chan_recv(c.get(), nullptr), -EPIPE);
}

TEST_F(Misuse, ChanSendTimeout_NullChanOrElemIsEinval) {
  int v = 1;
  EXPECT_EQ(gort_chan_send_timeout(nullptr, &v, 0), -EINVAL);
  EXPECT_EQ(gort_chan_send_timeout(nullptr, &v, 1000000), -EINVAL);
  auto c = Make(sizeof(int), 1);
  EXPECT_EQ(gort_chan_send_timeout(c.get(), nullptr, 0), -EINVAL);
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, INT64_MIN), 0);  // < 0: may wait; room now
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 0), -EAGAIN);    // full
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 1000000), -ETIMEDOUT);
  int got = 0;
  EXPECT_EQ(gort_chan_recv(c.get(), &got), 0);
  EXPECT_EQ(got, 1);
  EXPECT_EQ(gort_chan_len(c.get()), 0u);  // the timed-out sends left nothing behind
  ASSERT_EQ(gort_chan_close(c.get()), 0);
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 0), -EPIPE);
}

TEST_F(Misuse, ChanRecvTimeout_NullChanIsEinval) {
  int v = 0;
  EXPECT_EQ(gort_chan_recv_timeout(nullptr, &v, 0), -EINVAL);
  EXPECT_EQ(gort_chan_recv_timeout(nullptr, &v, -1), -EINVAL);
  auto c = Make(sizeof(int), 0);
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 0), -EAGAIN);
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 1000000), -ETIMEDOUT);
  // The timed-out receiver is gone: a try-send finds nobody.
  v = 9;
  EXPECT_EQ(gort_chan_send_timeout(c.get(), &v, 0), -EAGAIN);
  EXPECT_EQ(gort_chan_close(c.get()), 0);
  EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 0), -EPIPE);
  EXPECT_EQ(v, 0);
}

TEST_F(Misuse, ChanClose_NullIsEinvalTwiceIsEpipe) {
  EXPECT_EQ(gort_chan_close(nullptr), -EINVAL);
  auto c = Make(sizeof(int), 2);
  int v = 4;
  ASSERT_EQ(gort_chan_send(c.get(), &v), 0);
  EXPECT_EQ(gort_chan_close(c.get()), 0);
  EXPECT_EQ(gort_chan_close(c.get()), -EPIPE);
  int got = 0;
  EXPECT_EQ(gort_chan_recv(c.get(), &got), 0);  // still drains
  EXPECT_EQ(got, 4);
  EXPECT_EQ(gort_chan_recv(c.get(), &got), -EPIPE);
}

TEST_F(Misuse, ChanLen_NullIsZero) {
  EXPECT_EQ(gort_chan_len(nullptr), 0u);
  auto c = Make(1, 3);
  char x = 'x';
  gort_chan_send(c.get(), &x);
  EXPECT_EQ(gort_chan_len(c.get()), 1u);
}

TEST_F(Misuse, ChanCap_NullIsZero) {
  EXPECT_EQ(gort_chan_cap(nullptr), 0u);
  EXPECT_EQ(gort_chan_cap(Make(1, 3).get()), 3u);
}

// ===================================================================== //
// Select                                                                 //
// ===================================================================== //

TEST_F(Misuse, Select_BadCasesAreEinvalAndNothingHappens) {
  auto c = Make(sizeof(int), 1);
  int v = 8, got = 0;
  EXPECT_EQ(gort_select(nullptr, 1, 0), -EINVAL);
  gort_case one[1] = {{c.get(), GORT_SEND, &v, 77}};
  EXPECT_EQ(gort_select(one, (size_t)65536 + 1, 0), -EINVAL);  // n too large: never read
  EXPECT_EQ(gort_select(one, SIZE_MAX, -1), -EINVAL);
  for (int op : {0, 3, -1, GORT_SEND | GORT_RECV}) {
    // A good send case first: it must not happen when a later case is bad.
    gort_case cases[2] = {{c.get(), GORT_SEND, &v, 77}, {c.get(), op, &got, 77}};
    EXPECT_EQ(gort_select(cases, 2, 0), -EINVAL) << op;
    EXPECT_EQ(cases[0].result, 77);
    EXPECT_EQ(cases[1].result, 77);
  }
  gort_case null_elem[2] = {{c.get(), GORT_RECV, &got, 77}, {c.get(), GORT_SEND, nullptr, 77}};
  EXPECT_EQ(gort_select(null_elem, 2, 0), -EINVAL);
  EXPECT_EQ(gort_chan_len(c.get()), 0u);  // nothing was sent
  // A case with a NULL channel is never ready, whatever its op.
  gort_case off[2] = {{nullptr, 12345, nullptr, 77}, {c.get(), GORT_SEND, &v, 77}};
  EXPECT_EQ(gort_select(off, 2, 0), 1);
  EXPECT_EQ(off[1].result, 0);
  EXPECT_EQ(off[0].result, 77);
  gort_case none[1] = {{nullptr, 0, nullptr, 0}};
  EXPECT_EQ(gort_select(none, 1, 0), -EAGAIN);
  EXPECT_EQ(gort_select(none, 1, 1000000), -ETIMEDOUT);
  EXPECT_EQ(gort_select(nullptr, 0, 0), -EAGAIN);
  // The channel still works through select.
  gort_case recv[1] = {{c.get(), GORT_RECV, &got, 77}};
  EXPECT_EQ(gort_select(recv, 1, -1), 0);
  EXPECT_EQ(recv[0].result, 0);
  EXPECT_EQ(got, 8);
}

// ===================================================================== //
// Timers                                                                 //
// ===================================================================== //

TEST_F(Misuse, TimerStart_NegativeTimesAreEinval) {
  const int64_t bad[][2] = {{-1, 0}, {0, -1}, {INT64_MIN, 0}, {0, INT64_MIN}};
  for (auto b : bad) {
    errno = 0;
    EXPECT_EQ(gort_timer_start(b[0], b[1]), nullptr);
    EXPECT_EQ(errno, EINVAL);
  }
  // Huge times saturate: never, not a wrapped time in the past.
  gort_timer* never = gort_timer_start(INT64_MAX, INT64_MAX);
  ASSERT_NE(never, nullptr);
  gort_timer* once = gort_timer_start(0, INT64_MAX);  // fires now, then never again
  ASSERT_NE(once, nullptr);
  int64_t at = 0;
  EXPECT_EQ(gort_chan_recv(gort_timer_chan(once), &at), 0);
  EXPECT_GT(at, 0);
  EXPECT_EQ(gort_chan_recv_timeout(gort_timer_chan(once), &at, 20000000), -ETIMEDOUT);
  EXPECT_EQ(gort_chan_recv_timeout(gort_timer_chan(never), &at, 0), -EAGAIN);
  EXPECT_EQ(gort_timer_stop(once), 0);
  EXPECT_EQ(gort_timer_stop(never), 0);
}

TEST_F(Misuse, TimerChan_NullIsNull) {
  EXPECT_EQ(gort_timer_chan(nullptr), nullptr);
  gort_timer* t = gort_timer_start(0, 0);
  ASSERT_NE(t, nullptr);
  EXPECT_NE(gort_timer_chan(t), nullptr);
  EXPECT_EQ(gort_timer_stop(t), 0);
}

TEST_F(Misuse, TimerStop_NullIsEinvalWaitedOnIsEbusy) {
  EXPECT_EQ(gort_timer_stop(nullptr), -EINVAL);
  // A fired one-shot timer still needs its stop (which frees it).
  gort_timer* fired = gort_timer_start(0, 0);
  int64_t at = 0;
  ASSERT_EQ(gort_chan_recv(gort_timer_chan(fired), &at), 0);
  EXPECT_EQ(gort_timer_stop(fired), 0);
  // A goroutine waits on the timer's channel (in a select, so it can be
  // let go): stopping would free the channel under it.
  gort_timer* t = gort_timer_start(3600 * 1000000000LL, 0);
  ASSERT_NE(t, nullptr);
  auto release = Make(0, 0);
  Main([&] {
    gort_test::Group wg;
    int which = -100;
    wg.Go([&] {
      gort_case cases[2] = {{gort_timer_chan(t), GORT_RECV, &at, 0}, {release.get(), GORT_RECV, nullptr, 0}};
      which = gort_select(cases, 2, -1);  // the Group's done: after the select unlinked itself
    });
    ASSERT_TRUE(WaitUntilParked("select"));
    EXPECT_EQ(gort_timer_stop(t), -EBUSY);
    EXPECT_NE(gort_timer_chan(t), nullptr);  // t is untouched
    EXPECT_EQ(gort_chan_send(release.get(), nullptr), 0);
    wg.Wait();
    EXPECT_EQ(which, 1);
  });
  EXPECT_EQ(gort_timer_stop(t), 0);
}

// ===================================================================== //
// Sync                                                                   //
// ===================================================================== //

// Two goroutines and a thread add under m: nothing lost (m works).
void CountUnder(gort_mutex* m) {
  long counter = 0;
  const long per = gort_test::Scale(2000);
  auto work = [&] {
    for (long i = 0; i < per; i++) {
      ASSERT_EQ(gort_mutex_lock(m), 0);
      counter++;
      ASSERT_EQ(gort_mutex_unlock(m), 0);
    }
  };
  std::thread t(work);
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 2; i++) wg.Go([&] {
        work();
      });
    wg.Wait();
  });
  t.join();
  EXPECT_EQ(counter, 3 * per);
}

TEST_F(Misuse, MutexLock_NullIsEinval) {
  EXPECT_EQ(gort_mutex_lock(nullptr), -EINVAL);
  Main([] { EXPECT_EQ(gort_mutex_lock(nullptr), -EINVAL); });
  gort_mutex m = GORT_MUTEX_INIT;
  CountUnder(&m);
}

TEST_F(Misuse, MutexTrylock_NullIsEinvalLockedIsEbusy) {
  EXPECT_EQ(gort_mutex_trylock(nullptr), -EINVAL);
  gort_mutex m = GORT_MUTEX_INIT;
  ASSERT_EQ(gort_mutex_trylock(&m), 0);
  EXPECT_EQ(gort_mutex_trylock(&m), -EBUSY);
  EXPECT_EQ(gort_mutex_unlock(&m), 0);
  EXPECT_EQ(gort_mutex_trylock(&m), 0);
  EXPECT_EQ(gort_mutex_unlock(&m), 0);
  CountUnder(&m);
}

TEST_F(Misuse, MutexUnlock_UnlockedIsEperm) {
  EXPECT_EQ(gort_mutex_unlock(nullptr), -EINVAL);
  gort_mutex m = GORT_MUTEX_INIT;
  EXPECT_EQ(gort_mutex_unlock(&m), -EPERM);
  EXPECT_EQ(gort_mutex_unlock(&m), -EPERM);
  ASSERT_EQ(gort_mutex_lock(&m), 0);  // the state was not touched
  EXPECT_EQ(gort_mutex_trylock(&m), -EBUSY);
  EXPECT_EQ(gort_mutex_unlock(&m), 0);
  EXPECT_EQ(gort_mutex_unlock(&m), -EPERM);
  CountUnder(&m);
  EXPECT_EQ(gort_mutex_unlock(&m), -EPERM);
}

// A writer excludes a reader and the reverse (rw works).
void CheckRwExclusion(gort_rwmutex* rw) {
  std::atomic<int> readers_in{0}, writer_in{0};
  std::atomic<bool> bad{false};
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 4; i++) wg.Go([&, i] {
        for (int k = 0; k < 200; k++) {
          if (i == 0) {
            EXPECT_EQ(gort_rwmutex_lock(rw), 0);
            if (writer_in++ != 0 || readers_in.load() != 0) bad = true;
            gort_yield();
            writer_in--;
            EXPECT_EQ(gort_rwmutex_unlock(rw), 0);
          } else {
            EXPECT_EQ(gort_rwmutex_rlock(rw), 0);
            readers_in++;
            if (writer_in.load() != 0) bad = true;
            gort_yield();
            readers_in--;
            EXPECT_EQ(gort_rwmutex_runlock(rw), 0);
          }
        }
      });
    wg.Wait();
  });
  EXPECT_FALSE(bad.load());
}

TEST_F(Misuse, RwmutexRlock_NullIsEinval) {
  EXPECT_EQ(gort_rwmutex_rlock(nullptr), -EINVAL);
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  CheckRwExclusion(&rw);
}

TEST_F(Misuse, RwmutexRunlock_WithoutRlockIsEperm) {
  EXPECT_EQ(gort_rwmutex_runlock(nullptr), -EINVAL);
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  EXPECT_EQ(gort_rwmutex_runlock(&rw), -EPERM);  // unlocked
  ASSERT_EQ(gort_rwmutex_lock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_runlock(&rw), -EPERM);  // write-locked, no reader
  EXPECT_EQ(gort_rwmutex_unlock(&rw), 0);
  ASSERT_EQ(gort_rwmutex_rlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_runlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_runlock(&rw), -EPERM);  // one more than taken
  CheckRwExclusion(&rw);
}

TEST_F(Misuse, RwmutexLock_NullIsEinval) {
  EXPECT_EQ(gort_rwmutex_lock(nullptr), -EINVAL);
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  CheckRwExclusion(&rw);
}

TEST_F(Misuse, RwmutexUnlock_NotWriteLockedIsEperm) {
  EXPECT_EQ(gort_rwmutex_unlock(nullptr), -EINVAL);
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  EXPECT_EQ(gort_rwmutex_unlock(&rw), -EPERM);  // unlocked
  ASSERT_EQ(gort_rwmutex_rlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_unlock(&rw), -EPERM);  // read-locked
  EXPECT_EQ(gort_rwmutex_runlock(&rw), 0);
  ASSERT_EQ(gort_rwmutex_lock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_unlock(&rw), 0);
  EXPECT_EQ(gort_rwmutex_unlock(&rw), -EPERM);  // twice
  CheckRwExclusion(&rw);
}

TEST_F(Misuse, CondWait_NullIsEinvalUnlockedMutexIsEperm) {
  gort_cond c = GORT_COND_INIT;
  gort_mutex m = GORT_MUTEX_INIT;
  EXPECT_EQ(gort_cond_wait(nullptr, &m), -EINVAL);
  EXPECT_EQ(gort_cond_wait(&c, nullptr), -EINVAL);
  EXPECT_EQ(gort_cond_wait(&c, &m), -EPERM);
  EXPECT_EQ(gort_mutex_trylock(&m), 0);  // m is still unlocked (was): lockable
  EXPECT_EQ(gort_mutex_unlock(&m), 0);
  // The cond still works: no ticket was taken by the refused waits.
  bool ready = false, woke = false;
  Main([&] {
    gort_test::Group wg;
    wg.Go([&] {
      gort_mutex_lock(&m);
      while (!ready) EXPECT_EQ(gort_cond_wait(&c, &m), 0);
      woke = true;
      gort_mutex_unlock(&m);
    });
    ASSERT_TRUE(WaitUntilParked("cond"));
    gort_mutex_lock(&m);
    ready = true;
    gort_mutex_unlock(&m);
    EXPECT_EQ(gort_cond_signal(&c), 0);
    wg.Wait();
  });
  EXPECT_TRUE(woke);
}

TEST_F(Misuse, CondSignal_NullIsEinval) {
  EXPECT_EQ(gort_cond_signal(nullptr), -EINVAL);
  gort_cond c = GORT_COND_INIT;
  EXPECT_EQ(gort_cond_signal(&c), 0);  // nobody waits: nothing
  EXPECT_EQ(gort_cond_broadcast(&c), 0);
}

TEST_F(Misuse, CondBroadcast_NullIsEinval) {
  EXPECT_EQ(gort_cond_broadcast(nullptr), -EINVAL);
  gort_cond c = GORT_COND_INIT;
  gort_mutex m = GORT_MUTEX_INIT;
  int woke = 0;
  bool go = false;
  Main([&] {
    gort_test::Group wg;
    for (int i = 0; i < 3; i++) wg.Go([&] {
        gort_mutex_lock(&m);
        while (!go) gort_cond_wait(&c, &m);
        woke++;
        gort_mutex_unlock(&m);
      });
    gort_mutex_lock(&m);
    go = true;
    gort_mutex_unlock(&m);
    EXPECT_EQ(gort_cond_broadcast(&c), 0);
    wg.Wait();
  });
  EXPECT_EQ(woke, 3);
}

TEST_F(Misuse, OnceDo_NullOnceOrFnIsEinval) {
  int calls = 0;
  auto fn = [](void* p) { ++*static_cast<int*>(p); };
  EXPECT_EQ(gort_once_do(nullptr, fn, &calls), -EINVAL);
  gort_once o = GORT_ONCE_INIT;
  EXPECT_EQ(gort_once_do(&o, nullptr, &calls), -EINVAL);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(gort_once_do(&o, fn, &calls), 0);  // the refused call did not use o up
  EXPECT_EQ(gort_once_do(&o, fn, &calls), 0);
  EXPECT_EQ(gort_once_do(&o, nullptr, &calls), -EINVAL);
  EXPECT_EQ(calls, 1);
}

// wg's counter is n: Wait returns only after n Done calls.  (A hand-made
// waitgroup, not a gort_test::Group: these tests check gort_waitgroup.)
void CheckCounterIs(gort_waitgroup* wg, int n) {
  std::atomic<int> done{0};
  Main([&] {
    for (int i = 0; i < n; i++) Go([&] {
        gort_sleep(1000000);
        done++;
        gort_waitgroup_done(wg);
      });
    EXPECT_EQ(gort_waitgroup_wait(wg), 0);
    EXPECT_EQ(done.load(), n);
  });
}

TEST_F(Misuse, WaitgroupAdd_NegativeCounterIsEinvalAndUnchanged) {
  EXPECT_EQ(gort_waitgroup_add(nullptr, 1), -EINVAL);
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  EXPECT_EQ(gort_waitgroup_add(&wg, -1), -EINVAL);
  ASSERT_EQ(gort_waitgroup_add(&wg, 2), 0);
  EXPECT_EQ(gort_waitgroup_add(&wg, -3), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, INT64_MIN), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, INT64_MAX), -EINVAL);
  EXPECT_EQ(gort_waitgroup_add(&wg, INT32_MAX), -EINVAL);  // 2 + INT32_MAX does not fit
  EXPECT_EQ(gort_waitgroup_add(&wg, (int64_t)1 << 40), -EINVAL);
  CheckCounterIs(&wg, 2);  // still 2
  EXPECT_EQ(gort_waitgroup_add(&wg, -1), -EINVAL);  // and 0 now
}

TEST_F(Misuse, WaitgroupDone_AtZeroIsEinval) {
  EXPECT_EQ(gort_waitgroup_done(nullptr), -EINVAL);
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  EXPECT_EQ(gort_waitgroup_done(&wg), -EINVAL);
  EXPECT_EQ(gort_waitgroup_wait(&wg), 0);  // still 0: does not wait
  ASSERT_EQ(gort_waitgroup_add(&wg, 1), 0);
  CheckCounterIs(&wg, 1);
  EXPECT_EQ(gort_waitgroup_done(&wg), -EINVAL);
}

TEST_F(Misuse, WaitgroupWait_NullIsEinval) {
  EXPECT_EQ(gort_waitgroup_wait(nullptr), -EINVAL);
  Main([] { EXPECT_EQ(gort_waitgroup_wait(nullptr), -EINVAL); });
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  gort_waitgroup_add(&wg, 3);
  CheckCounterIs(&wg, 3);
}

TEST_F(Misuse, SemaAcquire_NullIsEinval) {
  EXPECT_EQ(gort_sema_acquire(nullptr), -EINVAL);
  Main([] { EXPECT_EQ(gort_sema_acquire(nullptr), -EINVAL); });
  gort_sema s = GORT_SEMA_INIT(1);
  EXPECT_EQ(gort_sema_acquire(&s), 0);
  EXPECT_EQ(gort_sema_release(&s), 0);
}

TEST_F(Misuse, SemaRelease_NullIsEinvalOverflowIsEoverflow) {
  EXPECT_EQ(gort_sema_release(nullptr), -EINVAL);
  gort_sema s = GORT_SEMA_INIT(UINT32_MAX);
  EXPECT_EQ(gort_sema_release(&s), -EOVERFLOW);
  EXPECT_EQ(s.count_, UINT32_MAX);  // not wrapped to 0
  EXPECT_EQ(gort_sema_acquire(&s), 0);
  EXPECT_EQ(gort_sema_release(&s), 0);
  EXPECT_EQ(gort_sema_release(&s), -EOVERFLOW);
}

// ===================================================================== //
// Blocking I/O and system calls                                          //
// ===================================================================== //

TEST_F(Misuse, FdOpen_BadFdIsEbadfTwiceIsHarmless) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  EXPECT_EQ(gort_fd_open(-1), -EBADF);
  EXPECT_EQ(gort_fd_open(INT_MIN), -EBADF);
  EXPECT_EQ(gort_fd_open(kNotOpen), -EBADF);
  EXPECT_EQ(gort_fd_open(INT_MAX), -EBADF);  // beyond the descriptor table
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(gort_fd_open(p[0]), 0);
  EXPECT_EQ(gort_fd_open(p[0]), 0);
  // Again while a goroutine is parked reading it: the reader is not lost.
  Main([&] {
    gort_test::Group wg;
    ssize_t got = -100;
    char b = 0;
    wg.Go([&] { got = gort_read(p[0], &b, 1, -1); });
    ASSERT_TRUE(WaitUntilParked("IO wait read"));
    EXPECT_EQ(gort_fd_open(p[0]), 0);
    ASSERT_EQ(write(p[1], "x", 1), 1);
    wg.Wait();
    EXPECT_EQ(got, 1);
    EXPECT_EQ(b, 'x');
  });
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  close(p[1]);
}

TEST_F(Misuse, FdClose_BadFdIsEbadfUnregisteredIsClosed) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  EXPECT_EQ(gort_fd_close(-1), -EBADF);
  EXPECT_EQ(gort_fd_close(kNotOpen), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_fd_close(p[1]), 0);  // never registered: just closed
  EXPECT_FALSE(IsOpen(p[1]));
  ASSERT_EQ(gort_fd_open(p[0]), 0);
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  EXPECT_EQ(gort_fd_close(p[0]), -EBADF);  // twice
  // A number reused after that is a new descriptor, and works.
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(gort_fd_open(p[0]), 0);
  ASSERT_EQ(write(p[1], "y", 1), 1);
  char b = 0;
  EXPECT_EQ(gort_read(p[0], &b, 1, -1), 1);
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  close(p[1]);
}

// A gort_fd_close made while another one waits for the calls on the
// descriptor is -EBADF and closes nothing: the first closes it, once.
TEST_F(Misuse, FdClose_WhileAnotherCloseRunsIsEbadf) {
  gort_test::Procs one(1);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(gort_fd_open(p[0]), 0);
  Main([&] {
    gort_test::Group wg;
    std::atomic<ssize_t> got{1};
    std::atomic<int> first{1};
    wg.Go([&] {
      char b;
      got = gort_read(p[0], &b, 1, -1);
    });
    EXPECT_TRUE(WaitUntilParked("IO wait read"));
    wg.Go([&] { first = gort_fd_close(p[0]); });
    gort_yield();  // the first close wakes the reader and waits for it
    EXPECT_EQ(gort_fd_close(p[0]), -EBADF);
    wg.Wait();
    EXPECT_EQ(got.load(), -EBADF);
    EXPECT_EQ(first.load(), 0);
    EXPECT_FALSE(IsOpen(p[0]));
  });
  close(p[1]);
}

TEST_F(Misuse, Read_BadFdIsEbadfNullBufIsEfault) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  char b = 0;
  EXPECT_EQ(gort_read(-1, &b, 1, 0), -EBADF);
  EXPECT_EQ(gort_read(kNotOpen, &b, 1, 0), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_read(p[0], nullptr, 1, 0), -EFAULT);
  EXPECT_EQ(gort_read(p[0], &b, (size_t)SSIZE_MAX + 1, 0), -EINVAL);
  EXPECT_EQ(gort_read(p[1], &b, 1, 0), -EBADF);  // the write end
  EXPECT_EQ(gort_read(p[0], &b, 1, 0), -EAGAIN);
  EXPECT_EQ(gort_read(p[0], nullptr, 0, 0), 0);  // nothing asked: nothing done (a 0-byte read)
  ASSERT_EQ(write(p[1], "z", 1), 1);
  EXPECT_EQ(gort_read(p[0], &b, 1, -1), 1);  // still works
  EXPECT_EQ(b, 'z');
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  EXPECT_EQ(gort_fd_close(p[1]), 0);
}

// gort_fd_close ends with -EBADF a read parked on the descriptor, one
// queued behind it and a plain thread's queued behind both.
TEST_F(Misuse, Read_ClosedWhileWaitingOrQueuedIsEbadf) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(gort_fd_open(sv[0]), 0);
  std::atomic<ssize_t> a{1}, b{1}, t{1};
  Main([&] {
    gort_test::Group wg;
    for (auto* r : {&a, &b}) {
      wg.Go([&, r] {
        char c;
        *r = gort_read(sv[0], &c, 1, -1);
      });
      EXPECT_TRUE(WaitUntilParked(r == &a ? "IO wait read" : "IO queue read"));
    }
    std::thread th([&] {
      char c;
      t = gort_read(sv[0], &c, 1, -1);
    });
    gort_sleep(20000000);
    EXPECT_EQ(gort_fd_close(sv[0]), 0);
    wg.Wait();
    th.join();
  });
  EXPECT_EQ(a.load(), -EBADF);
  EXPECT_EQ(b.load(), -EBADF);
  EXPECT_EQ(t.load(), -EBADF);
  close(sv[1]);
}

TEST_F(Misuse, Write_BadFdIsEbadfNullBufIsEfault) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  char b = 'w';
  EXPECT_EQ(gort_write(-1, &b, 1, 0), -EBADF);
  EXPECT_EQ(gort_write(kNotOpen, &b, 1, 0), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_write(p[1], nullptr, 1, 0), -EFAULT);
  EXPECT_EQ(gort_write(p[1], &b, (size_t)SSIZE_MAX + 1, 0), -EINVAL);
  EXPECT_EQ(gort_write(p[0], &b, 1, 0), -EBADF);  // the read end
  EXPECT_EQ(gort_write(p[1], &b, 1, 0), 1);       // still works
  char got = 0;
  EXPECT_EQ(gort_read(p[0], &got, 1, -1), 1);
  EXPECT_EQ(got, 'w');
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  EXPECT_EQ(gort_fd_close(p[1]), 0);
}

// Two goroutines make call() on fd: the first parks (wait reason
// `parked`), the second queues behind it (`queued`); gort_fd_close(fd)
// then ends both with -EBADF.
void ExpectCloseEndsAParkedAndAQueuedCall(int fd, const std::function<ssize_t()>& call, const char* parked,
                                          const char* queued) {
  std::atomic<ssize_t> a{1}, b{1};
  Main([&] {
    gort_test::Group wg;
    for (auto* r : {&a, &b}) {
      wg.Go([&, r] { *r = call(); });
      EXPECT_TRUE(WaitUntilParked(r == &a ? parked : queued));
    }
    EXPECT_EQ(gort_fd_close(fd), 0);
    wg.Wait();
  });
  EXPECT_EQ(a.load(), -EBADF);  // a write: after some bytes
  EXPECT_EQ(b.load(), -EBADF);
}

// gort_fd_close ends with -EBADF a write parked on a full socket and one
// queued behind it.
TEST_F(Misuse, Write_ClosedWhileWaitingOrQueuedIsEbadf) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(gort_fd_open(sv[0]), 0);
  std::string big(4u << 20, 'w');
  ExpectCloseEndsAParkedAndAQueuedCall(
      sv[0], [&] { return gort_write(sv[0], big.data(), big.size(), -1); }, "IO wait write", "IO queue write");
  close(sv[1]);
}

int LoopbackListener(sockaddr_in* a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  *a = sockaddr_in{};
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(a), sizeof *a) != 0 || listen(fd, 16) != 0) return -1;
  socklen_t len = sizeof *a;
  getsockname(fd, reinterpret_cast<sockaddr*>(a), &len);
  return fd;
}

TEST_F(Misuse, Accept_BadFdIsEbadfNotAListenerIsEinval) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  EXPECT_EQ(gort_accept(-1, nullptr, nullptr, 0), -EBADF);
  EXPECT_EQ(gort_accept(kNotOpen, nullptr, nullptr, 0), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_accept(p[0], nullptr, nullptr, 0), -ENOTSOCK);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(gort_accept(s, nullptr, nullptr, 0), -EINVAL);  // not listening
  sockaddr_in a;
  int l = LoopbackListener(&a);
  ASSERT_GE(l, 0);
  EXPECT_EQ(gort_accept(l, nullptr, nullptr, 0), -EAGAIN);  // nobody yet
  int c = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(gort_connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a, -1), 0);
  int conn = gort_accept(l, nullptr, nullptr, -1);  // still works
  EXPECT_GE(conn, 0);
  for (int fd : {conn, c, l, s, p[0], p[1]}) EXPECT_EQ(gort_fd_close(fd), 0);
}

// gort_fd_close ends with -EBADF an accept parked on the listener and one
// queued behind it.
TEST_F(Misuse, Accept_ClosedWhileWaitingOrQueuedIsEbadf) {
  sockaddr_in addr;
  int l = LoopbackListener(&addr);
  ASSERT_GE(l, 0);
  ExpectCloseEndsAParkedAndAQueuedCall(
      l, [&] { return (ssize_t)gort_accept(l, nullptr, nullptr, -1); }, "IO wait read", "IO queue read");
}

TEST_F(Misuse, Connect_BadFdIsEbadfNullAddressIsEfault) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  sockaddr_in a;
  int l = LoopbackListener(&a);
  ASSERT_GE(l, 0);
  const sockaddr* sa = reinterpret_cast<sockaddr*>(&a);
  EXPECT_EQ(gort_connect(-1, sa, sizeof a, 0), -EBADF);
  EXPECT_EQ(gort_connect(kNotOpen, sa, sizeof a, 0), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_connect(p[0], sa, sizeof a, 0), -ENOTSOCK);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(gort_connect(c, nullptr, sizeof a, 0), -EFAULT);
  EXPECT_EQ(gort_connect(c, sa, 0, 0), -EINVAL);  // a length too short
  EXPECT_EQ(gort_connect(c, sa, sizeof a, -1), 0);  // still works
  int conn = gort_accept(l, nullptr, nullptr, -1);
  EXPECT_GE(conn, 0);
  for (int fd : {conn, c, l, p[0], p[1]}) EXPECT_EQ(gort_fd_close(fd), 0);
}

TEST_F(Misuse, FdWait_BadFdOrEventsTimeoutsAndCloses) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  EXPECT_EQ(gort_fd_wait(-1, GORT_FD_READ, 0), -EBADF);
  EXPECT_EQ(gort_fd_wait(kNotOpen, GORT_FD_READ, 0), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  for (int bad : {0, 3, -1, 4}) EXPECT_EQ(gort_fd_wait(p[0], bad, 0), -EINVAL) << bad;
  EXPECT_EQ(gort_fd_wait(p[0], GORT_FD_READ, 0), -EAGAIN);
  EXPECT_EQ(gort_fd_wait(p[0], GORT_FD_READ, 1000000), -ETIMEDOUT);
  EXPECT_EQ(gort_fd_wait(p[1], GORT_FD_WRITE, -1), 0);
  EXPECT_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0) << "the wait changed the descriptor's mode";
  char path[] = "/tmp/gort-misuse-XXXXXX";
  int f = mkstemp(path);
  unlink(path);
  EXPECT_EQ(gort_fd_wait(f, GORT_FD_READ, -1), 0);  // a regular file is always ready
  close(f);
  std::atomic<int> r{1};
  Main([&] {
    gort_test::Group g;
    g.Go([&] { r = gort_fd_wait(p[0], GORT_FD_READ, -1); });
    gort_sleep(10 * 1000 * 1000);
    EXPECT_EQ(gort_fd_close(p[0]), 0);
    g.Wait();
  });
  EXPECT_EQ(r.load(), -EBADF);
  EXPECT_EQ(gort_fd_close(p[1]), 0);
}

TEST_F(Misuse, FdUserNonblock_BadFdModeOrNotGorts) {
  EXPECT_EQ(gort_fd_user_nonblock(-1, -1), -EBADF);
  EXPECT_EQ(gort_fd_user_nonblock(kNotOpen, -1), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_fd_user_nonblock(p[0], -1), -ENOENT);  // not gort's
  ASSERT_EQ(gort_fd_open(p[0]), 0);
  for (int bad : {-2, 2, 7}) EXPECT_EQ(gort_fd_user_nonblock(p[0], bad), -EINVAL) << bad;
  EXPECT_EQ(gort_fd_user_nonblock(p[0], -1), 0);
  EXPECT_EQ(gort_fd_user_nonblock(p[0], 1), 1);
  EXPECT_EQ(gort_fd_user_nonblock(p[0], 0), 0);
  EXPECT_NE(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);  // no hooks here: the descriptor's own mode, gort's
  EXPECT_EQ(gort_fd_close(p[0]), 0);
  EXPECT_EQ(gort_fd_user_nonblock(p[0], -1), -EBADF);
  EXPECT_EQ(gort_fd_close(p[1]), 0);
}

// gort_fd_close ends a connect that waits (for a listener whose backlog is
// full: the SYN goes unanswered) with -EBADF.
TEST_F(Misuse, Connect_ClosedWhileWaitingIsEbadf) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(l, 0), 0);  // room for one connection, never accepted
  socklen_t alen = sizeof addr;
  getsockname(l, reinterpret_cast<sockaddr*>(&addr), &alen);
  const sockaddr* sa = reinterpret_cast<sockaddr*>(&addr);
  std::vector<int> fill;
  std::atomic<int> r{1};
  Main([&] {
    int c = -1;
    // Fill the backlog: the connect that does not complete at once waits.
    for (int i = 0; i < 8; i++) {
      c = socket(AF_INET, SOCK_STREAM, 0);
      if (gort_connect(c, sa, sizeof addr, 200000000) != 0) break;
      fill.push_back(c);
      c = -1;
    }
    ASSERT_GE(c, 0) << "every connect completed: the backlog never filled";
    EXPECT_EQ(gort_fd_close(c), 0);  // timed out: the backlog is full
    c = socket(AF_INET, SOCK_STREAM, 0);
    gort_test::Group wg;
    wg.Go([&] {
      r = gort_connect(c, sa, sizeof addr, -1);
    });
    EXPECT_TRUE(WaitUntilParked("IO wait connect"));
    EXPECT_EQ(gort_fd_close(c), 0);
    wg.Wait();
  });
  EXPECT_EQ(r.load(), -EBADF);
  for (int fd : fill) EXPECT_EQ(gort_fd_close(fd), 0);
  close(l);
}

// Calls that park between enter and exit (which gort.h asks not to make)
// end the section early; the exit after them does nothing.
TEST_F(Misuse, SyscallEnter_TwiceOrParkingInsideIsHarmless) {
  gort_syscall_enter();  // a plain thread: no-ops
  gort_syscall_enter();
  gort_syscall_exit();
  auto c = Make(sizeof(int), 0);
  Main([&] {
    gort_syscall_enter();
    gort_syscall_enter();  // already in: nothing
    gort_syscall_exit();
    gort_syscall_exit();

    gort_syscall_enter();
    gort_yield();
    gort_syscall_exit();

    gort_syscall_enter();
    gort_sleep(1000000);
    gort_syscall_exit();

    int v = 0;
    gort_syscall_enter();
    EXPECT_EQ(gort_chan_recv_timeout(c.get(), &v, 1000000), -ETIMEDOUT);
    gort_syscall_exit();

    gort_test::Group wg;
    wg.Go([&] {
      gort_syscall_enter();  // returns without the exit
    });
    wg.Wait();
    for (int i = 0; i < 10000 && gort_test::LiveGoroutines() != 1; i++) gort_sleep(1000000);
    EXPECT_EQ(gort_test::LiveGoroutines(), 1u);  // it exited: only this one is left
    // The scheduler is intact: every P still runs goroutines.
    for (int i = 0; i < 8; i++) wg.Go([&] { gort_sleep(100000); });
    wg.Wait();
  });
}

TEST_F(Misuse, SyscallExit_WithoutEnterIsANoop) {
  errno = EIO;
  gort_syscall_exit();  // a plain thread
  EXPECT_EQ(errno, EIO);
  Main([] {
    gort_syscall_exit();
    gort_syscall_enter();
    gort_syscall_exit();
    gort_syscall_exit();
    gort_yield();
  });
}

// ===================================================================== //
// Introspection                                                          //
// ===================================================================== //

TEST_F(Misuse, StatsGet_NullIsIgnored) {
  gort_stats_get(nullptr);
  Main([] { gort_stats_get(nullptr); });
  ASSERT_EQ(gort_test::WaitForNoGoroutines(), 0u);  // (the Main above is on its way out)
  gort_stats s;
  memset(&s, 0xff, sizeof s);
  gort_stats_get(&s);
  EXPECT_EQ(s.goroutines, 0u);
  EXPECT_GE(s.procs, 1u);
}

TEST_F(Misuse, Dump_BadFdWritesNothing) {
  ASSERT_FALSE(IsOpen(kNotOpen));
  std::string text;
  Main([&] {
    gort_dump(-1);
    gort_dump(kNotOpen);
    text = Dump();
  });
  EXPECT_NE(text.find("\"main\" [running"), std::string::npos) << text;
}

// ===================================================================== //
// The table cannot drift from the header                                  //
// ===================================================================== //

std::string ReadRunfile(const std::string& path) {
  const char* dir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  std::string full = dir != nullptr && ws != nullptr ? std::string(dir) + "/" + ws + "/" + path : path;
  std::ifstream in(full);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// gort_chan_recv_timeout -> ChanRecvTimeout
std::string TestPrefix(const std::string& fn) {
  std::string out;
  bool up = true;
  for (char ch : fn.substr(5)) {
    if (ch == '_') {
      up = true;
      continue;
    }
    out += up ? (char)std::toupper((unsigned char)ch) : ch;
    up = false;
  }
  return out;
}

TEST(MisuseTable, NamesEveryFunctionOfTheHeaderAndEachHasATest) {
  const std::string header = ReadRunfile("runtime/gort.h");
  const std::string hacking = ReadRunfile("runtime/HACKING.md");
  ASSERT_FALSE(header.empty());
  ASSERT_FALSE(hacking.empty());

  // "GORT_API <type> gort_name(": the identifier before the first '('.
  std::set<std::string> declared;
  for (size_t at = header.find("GORT_API "); at != std::string::npos; at = header.find("GORT_API ", at + 1)) {
    size_t paren = header.find('(', at);
    if (paren == std::string::npos || header.find(';', at) < paren) continue;
    size_t end = paren;
    while (end > at && header[end - 1] == ' ') end--;
    size_t start = end;
    while (start > at && (std::isalnum((unsigned char)header[start - 1]) || header[start - 1] == '_')) start--;
    std::string name = header.substr(start, end - start);
    if (name.rfind("gort_", 0) == 0) declared.insert(name);
  }
  EXPECT_GE(declared.size(), 50u);  // the parse still finds them

  size_t from = hacking.find("\n## Misuse and bad input");
  ASSERT_NE(from, std::string::npos) << "HACKING.md has no \"## Misuse and bad input\" section";
  size_t to = hacking.find("\n## ", from + 1);
  const std::string section = hacking.substr(from, to == std::string::npos ? std::string::npos : to - from);
  // Rows: "| `gort_name` | bad input | result |".
  std::set<std::string> rows;
  const std::string row = "\n| `gort_";
  for (size_t at = section.find(row); at != std::string::npos; at = section.find(row, at + 1)) {
    size_t start = at + 4, end = section.find('`', start);
    ASSERT_NE(end, std::string::npos);
    std::string name = section.substr(start, end - start);
    EXPECT_TRUE(rows.insert(name).second) << name << " has two rows";
  }

  for (const std::string& fn : declared) EXPECT_TRUE(rows.count(fn)) << fn << " is in gort.h but has no row";
  for (const std::string& fn : rows) EXPECT_TRUE(declared.count(fn)) << fn << " has a row but is not in gort.h";

  // Each row has a test: Misuse.<TestPrefix>_...
  std::set<std::string> tests;
  const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < u->total_test_suite_count(); i++) {
    const ::testing::TestSuite* s = u->GetTestSuite(i);
    if (std::string(s->name()) != "Misuse") continue;
    for (int j = 0; j < s->total_test_count(); j++) tests.insert(s->GetTestInfo(j)->name());
  }
  for (const std::string& fn : rows) {
    const std::string prefix = TestPrefix(fn) + "_";
    bool found = false;
    for (const std::string& t : tests) found = found || t.rfind(prefix, 0) == 0;
    EXPECT_TRUE(found) << fn << " has no test Misuse." << prefix << "...";
  }
}

}  // namespace
