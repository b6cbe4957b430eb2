// foreign_test — foreign calls: C code that blocks in the kernel without
// telling gort (plain read(), nanosleep, poll, select, getaddrinfo, fsync)
// never stalls the other goroutines, never sees EINTR from gort's
// preemption signals, comes back to a P correctly, keeps deadlock
// detection right, and shows in the dump.  GORT_DEBUG=blockwarn needs a
// fresh process: foreign_death_test.cc.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/runtime.h"
#include "tests/harness.h"

namespace {

using gort_test::Main;
using gort_test::Preemptions;
using gort_test::Procs;
using gort_test::ReadErrno;
using gort_test::SpinUntil;
using gort_test::WriteErrno;
using gort_test::Scale;
using gort_test::UnderQemu;

class Foreign : public gort_test::Test {};
class ForeignProcs : public gort_test::Test, public ::testing::WithParamInterface<int> {};

struct Pipe {
  Pipe() { EXPECT_EQ(pipe(fd), 0); }
  ~Pipe() {
    close(fd[0]);
    close(fd[1]);
  }
  int fd[2];
};

// Ps in use now: the program's gort_maxprocs plus those lent.
int PsInUse() { return atomic_load(&gort_sched_g.gomaxprocs); }

// After the calls end, every lent P is given back (sysmon looks within
// 10 ms; allow a loaded machine a second).
void ExpectPsGivenBack(int procs) {
  for (int i = 0; i < 1000 && PsInUse() != procs; i++) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(PsInUse(), procs) << "a P lent for a foreign call was never given back";
}

// A blocking read of one byte, the way a library would do it.
__attribute__((noinline)) ssize_t BlockedReader(int fd) {
  char c;
  return read(fd, &c, 1);
}

// One goroutine per P blocks in a plain read() of an empty pipe; the rest
// of the program goes on: 1,000 channel round trips, 100 1-ms sleeps and a
// timer, all done before the reads are released.  Before foreign calls
// were handled, this hung for good at both counts.
TEST_P(ForeignProcs, BlockedReadsStallNothing) {
  if (gort_test::kTsan) GTEST_SKIP() << "no foreign-call detection under ThreadSanitizer (its own lock waits look like blocked calls)";
  const int procs = GetParam();
  Procs scope(procs);
  const auto block = std::chrono::milliseconds(UnderQemu() ? 5000 : 1000);
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < procs; i++) pipes.push_back(std::make_unique<Pipe>());
  std::atomic<int64_t> released_at{0}, done_at{0};
  std::thread writer([&] {
    std::this_thread::sleep_for(block);
    released_at = gort_now();
    for (auto& p : pipes) EXPECT_EQ(write(p->fd[1], "x", 1), 1);
  });
  Main([&] {
    gort_test::Group readers;
    for (int i = 0; i < procs; i++) {
      int fd = pipes[i]->fd[0];
      readers.Go([fd] { EXPECT_EQ(BlockedReader(fd), 1); });
    }
    gort_sleep(20 * 1000 * 1000);  // every reader is in its read by now
    gort_timer* t = gort_timer_start(50 * 1000 * 1000, 0);
    ASSERT_NE(t, nullptr);
    int64_t due = gort_now() + 50 * 1000 * 1000;
    gort_chan* ping = gort_chan_make(sizeof(int), 0);
    gort_chan* pong = gort_chan_make(sizeof(int), 0);
    gort_test::Group echo;
    echo.Go([&] {
      int v;
      for (int i = 0; i < 1000; i++) {
        ASSERT_EQ(gort_chan_recv(ping, &v), 0);
        ASSERT_EQ(gort_chan_send(pong, &v), 0);
      }
    });
    for (int i = 0; i < 1000; i++) {
      int v = i, w = -1;
      ASSERT_EQ(gort_chan_send(ping, &v), 0);
      ASSERT_EQ(gort_chan_recv(pong, &w), 0);
      ASSERT_EQ(w, i);
    }
    echo.Wait();
    for (int i = 0; i < 100; i++) ASSERT_EQ(gort_sleep(1000 * 1000), 0);
    int64_t fired = 0;
    ASSERT_EQ(gort_chan_recv(gort_timer_chan(t), &fired), 0);
    EXPECT_GE(fired, due - 1000 * 1000);
    gort_timer_stop(t);
    done_at = gort_now();
    gort_chan_free(ping);
    gort_chan_free(pong);
    readers.Wait();
  });
  writer.join();
  EXPECT_LT(done_at.load(), released_at.load()) << "the work waited for the blocked reads";
  ExpectPsGivenBack(procs);
}

INSTANTIATE_TEST_SUITE_P(Procs, ForeignProcs, ::testing::Values(1, 2));

// 10,000 plain blocking calls with timeouts (nanosleep, ppoll, select, a
// read with SO_RCVTIMEO) from goroutines, beside a call-free spinner on
// every P that sysmon preempts with signals: every call returns what libc
// returns without signals — none fails with EINTR.
TEST_F(Foreign, PlainBlockingCallsNeverSeeEintr) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinners keep every P)";
  Procs two(2);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct timeval tv = {0, 1000};
  ASSERT_EQ(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  std::atomic<int> eintr{0}, wrong{0}, calls{0};
  uint64_t before = Preemptions();
  Main([&] {
    std::atomic<bool> stop{false};
    gort_test::Group spinners, callers;
    for (int i = 0; i < gort_maxprocs(0); i++) spinners.Go([&] { SpinUntil(&stop); });
    auto check = [&](int rc, int want_rc, int want_errno) {
      calls++;
      if (rc < 0 && errno == EINTR)
        eintr++;
      else if (rc != want_rc || (rc < 0 && errno != want_errno))
        wrong++;
    };
    const int n = static_cast<int>(Scale(10000));
    callers.Go([&] {
      for (int i = 0; i < n * 4 / 10; i++) {
        struct timespec ts = {0, 50 * 1000};
        check(nanosleep(&ts, nullptr), 0, 0);
      }
    });
    callers.Go([&] {
      for (int i = 0; i < n * 3 / 10; i++) {
        struct timespec ts = {0, 50 * 1000};
        check(ppoll(nullptr, 0, &ts, nullptr), 0, 0);
      }
    });
    callers.Go([&] {
      for (int i = 0; i < n * 25 / 100; i++) {
        struct timeval t = {0, 50};
        check(select(0, nullptr, nullptr, nullptr, &t), 0, 0);
      }
    });
    callers.Go([&] {
      for (int i = 0; i < n - n * 4 / 10 - n * 3 / 10 - n * 25 / 100; i++) {  // the rest: 5%
        char c;
        check(static_cast<int>(read(sv[0], &c, 1)), -1, EAGAIN);
      }
    });
    callers.Wait();
    stop = true;
    spinners.Wait();
  });
  close(sv[0]);
  close(sv[1]);
  EXPECT_EQ(calls.load(), static_cast<int>(Scale(10000)));
  EXPECT_EQ(eintr.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(Preemptions(), before) << "the spinners were never preempted: no signals were tested";
}

// Goroutines come back from blocking calls while a spinner holds every P
// and preemption signals fly: each waits for a P, then goes on with its
// errno, its locals and its identity intact.
TEST_F(Foreign, ReturnWhileEveryPIsBusy) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinners keep every P)";
  Procs two(2);
  std::atomic<int> bad{0};
  Main([&] {
    std::atomic<bool> stop{false};
    gort_test::Group spinners, callers;
    for (int i = 0; i < gort_maxprocs(0); i++) spinners.Go([&] { SpinUntil(&stop); });
    for (int g = 0; g < 8; g++) {
      callers.Go([&, g] {
        uint64_t self = gort_self();
        volatile uint64_t locals[8];
        for (int k = 0; k < 8; k++) locals[k] = self * 131 + k;
        for (int r = 0; r < Scale(200); r++) {
          WriteErrno(5000 + g * 1000 + r);
          struct timespec ts = {0, (r % 3 + 1) * 200 * 1000};
          if (r % 2)
            nanosleep(&ts, nullptr);  // nanosleep leaves errno alone when it succeeds
          else
            usleep(300);
          if (ReadErrno() != 5000 + g * 1000 + r) bad++;
          if (gort_self() != self) bad++;
          for (int k = 0; k < 8; k++)
            if (locals[k] != self * 131 + k) bad++;
        }
      });
    }
    callers.Wait();
    stop = true;
    spinners.Wait();
  });
  EXPECT_EQ(bad.load(), 0);
}

// A goroutine blocked in a foreign call is not asleep for good: main waits
// on a channel that such a goroutine sends on after its 300 ms read, and
// the deadlock detector (which would end this process with exit 2 after
// 100 ms of nothing) leaves it alone.
TEST_F(Foreign, ForeignCallIsNotADeadlock) {
  Pipe p;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(write(p.fd[1], "x", 1), 1);
  });
  Main([&] {
    gort_chan* c = gort_chan_make(sizeof(int), 0);
    gort_test::Group g;
    g.Go([&] {
      int v = static_cast<int>(BlockedReader(p.fd[0]));
      EXPECT_EQ(gort_chan_send(c, &v), 0);
    });
    int v = 0;
    ASSERT_EQ(gort_chan_recv(c, &v), 0);
    EXPECT_EQ(v, 1);
    g.Wait();
    gort_chan_free(c);
  });
  writer.join();
}

std::string DumpToString() {
  char path[] = "/tmp/gort-foreign-dump-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  unlink(path);
  gort_dump(fd);
  std::string out;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

__attribute__((noinline)) int BlockedSleeper(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  return nanosleep(&ts, nullptr);
}

// The dump shows a goroutine blocked in a foreign call as such, with the
// function that made the call (natively; under qemu-user the kernel's view
// of the thread is qemu's own, so there is no traceback), and asking for
// the dump does not interrupt the call: nanosleep would fail with EINTR
// (SA_RESTART or not) had the dump signalled its thread.
TEST_F(Foreign, DumpShowsTheForeignCall) {
  if (gort_test::kTsan) GTEST_SKIP() << "no foreign-call detection under ThreadSanitizer (its own lock waits look like blocked calls)";
  std::atomic<int> rc{-2}, err{0};
  Main([&] {
    gort_test::Group g;
    gort_go_attr attr = {0, "sleeper"};
    g.Go(
        [&] {
          rc = BlockedSleeper(UnderQemu() ? 1500 : 600);
          err = errno;
        },
        &attr);
    gort_sleep(100 * 1000 * 1000);  // past its slice: sysmon has seen it blocked
    std::string dump = DumpToString();
    EXPECT_NE(dump.find("\"sleeper\" [foreign call on M"), std::string::npos) << dump;
    if (!UnderQemu()) {
      EXPECT_NE(dump.find("BlockedSleeper"), std::string::npos) << dump;
    }
    g.Wait();
  });
  EXPECT_EQ(rc.load(), 0) << "errno " << err.load() << (err.load() == EINTR ? " (EINTR: the dump signalled it)" : "");
}

// Stress: goroutines pass numbered messages through channels and, between
// messages, make random foreign blocking calls (pipe reads answered by a
// plain thread, nanosleep, getaddrinfo of "localhost", fsync of a temp
// file) for 30 s.  Every message arrives exactly once; the runtime's
// threads stay within 2 x the goroutines that may block at once + Ps + 4:
// each blocked goroutine holds its thread, each lends at most one P, and
// that P needs at most one thread; +4 for sysmon's and the Ms parked idle.
TEST_F(Foreign, MixedChannelAndForeignWorkStress) {
  using Clock = std::chrono::steady_clock;
  const auto run_for = std::chrono::seconds(std::getenv("GORT_TEST_LONG") != nullptr ? 300 : 30);
  const int kWorkers = 8, kProcs = 2;
  Procs procs(kProcs);
  uint64_t seed = gort_test::Seed();
  char tmpl[] = "/tmp/gort-foreign-fsync-XXXXXX";
  int file = mkstemp(tmpl);
  ASSERT_GE(file, 0);
  unlink(tmpl);
  Pipe req, resp;  // a worker writes a request byte; the helper thread answers it
  std::atomic<bool> stop{false};
  std::thread answerer([&] {
    char c;
    while (read(req.fd[0], &c, 1) == 1 && c != 'q') EXPECT_EQ(write(resp.fd[1], "a", 1), 1);
  });
  std::vector<std::atomic<uint8_t>> seen(1 << 22);
  std::atomic<uint64_t> sent{0}, max_threads{0}, foreign_calls{0}, nanosleeps{0}, nanosleep_eintr{0};
  std::atomic<int> dup{0};
  Main([&] {
    gort_chan* c = gort_chan_make(sizeof(uint32_t), 16);
    gort_mutex pipe_mu = GORT_MUTEX_INIT;  // one request/answer at a time on the shared pipes
    gort_test::Group producers, consumers;
    auto foreign = [&](std::mt19937_64& rng) {
      foreign_calls++;
      switch (rng() % 4) {
      case 0: {
        struct timespec ts = {0, static_cast<long>(rng() % 2000) * 1000};
        nanosleeps++;
        int rc = nanosleep(&ts, nullptr);
        if (rc != 0 && errno == EINTR)
          nanosleep_eintr++;  // the race runtime/HACKING.md "Foreign calls" measures
        else
          EXPECT_EQ(rc, 0);
        break;
      }
      case 1: {
        gort_mutex_lock(&pipe_mu);
        char a;
        EXPECT_EQ(write(req.fd[1], "r", 1), 1);
        EXPECT_EQ(read(resp.fd[0], &a, 1), 1);  // blocks until the thread answers
        gort_mutex_unlock(&pipe_mu);
        break;
      }
      case 2: {
        struct addrinfo hints, *res = nullptr;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        int rc = getaddrinfo("localhost", "80", &hints, &res);
        EXPECT_EQ(rc, 0) << gai_strerror(rc);
        if (res != nullptr) freeaddrinfo(res);
        break;
      }
      default:
        EXPECT_EQ(pwrite(file, "abcd", 4, 0), 4);
        EXPECT_EQ(fsync(file), 0);
      }
    };
    for (int w = 0; w < kWorkers / 2; w++) {
      producers.Go([&, w] {
        std::mt19937_64 rng = gort_test::SeededRng(seed, static_cast<uint64_t>(w));
        while (!stop.load()) {
          uint32_t id = static_cast<uint32_t>(sent.fetch_add(1));
          if (id >= seen.size()) break;
          ASSERT_EQ(gort_chan_send(c, &id), 0);
          if (rng() % 8 == 0) foreign(rng);
        }
      });
    }
    for (int w = 0; w < kWorkers / 2; w++) {
      consumers.Go([&, w] {
        std::mt19937_64 rng = gort_test::SeededRng(seed, 100 + static_cast<uint64_t>(w));
        uint32_t id;
        while (gort_chan_recv(c, &id) == 0) {
          if (seen[id].fetch_add(1) != 0) dup++;
          if (rng() % 8 == 0) foreign(rng);
        }
      });
    }
    Clock::time_point end = Clock::now() + run_for;
    while (Clock::now() < end && !stop.load()) {
      gort_sleep(50 * 1000 * 1000);
      gort_stats s;
      gort_stats_get(&s);
      uint64_t t = s.threads, m = max_threads.load();
      while (t > m && !max_threads.compare_exchange_weak(m, t)) {
      }
    }
    stop = true;
    producers.Wait();
    gort_chan_close(c);
    consumers.Wait();
    gort_chan_free(c);
  });
  EXPECT_EQ(write(req.fd[1], "q", 1), 1);
  answerer.join();
  close(file);
  uint64_t n = std::min<uint64_t>(sent.load(), seen.size());
  uint64_t missing = 0;
  for (uint64_t i = 0; i < n; i++) missing += seen[i].load() == 0;
  EXPECT_EQ(dup.load(), 0);
  EXPECT_EQ(missing, 0u);
  EXPECT_GT(foreign_calls.load(), 100u);
  EXPECT_LE(max_threads.load(), static_cast<uint64_t>(2 * kWorkers + kProcs + 4));
  // A goroutine computing for a whole slice that enters a blocking call in
  // the microseconds between sysmon's look and its signal still sees EINTR
  // (HACKING.md): measured here, bounded at 1 in 10,000; the dedicated test
  // above (no computing between calls) sees none.
  fprintf(stderr, "nanosleep: %llu calls, %llu EINTR\n", static_cast<unsigned long long>(nanosleeps.load()),
          static_cast<unsigned long long>(nanosleep_eintr.load()));
  EXPECT_LE(nanosleep_eintr.load() * 10000, nanosleeps.load());
  fprintf(stderr, "messages %llu, foreign calls %llu, most threads %llu\n", static_cast<unsigned long long>(n),
          static_cast<unsigned long long>(foreign_calls.load()), static_cast<unsigned long long>(max_threads.load()));
}

}  // namespace
