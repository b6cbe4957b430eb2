// dump_test.cc — stack traces in the goroutine dump (runtime/core/traceback.c):
// every goroutine's trace names the functions it is in, with file:line
// where there is debug info, whether it is parked, runnable after a
// preemption, running on another M, or the caller itself; and a dump taken
// over and over while goroutines run, park and exit loses nothing.
// The fatal reports (SIGQUIT, deadlock) with traces: the death tests below.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/harness.h"

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// C names (no mangling), never inlined, and never a tail call, so each is a
// frame of its own that the dump must name.
extern "C" {
std::atomic<bool> dump_test_stop{false};
std::atomic<int> dump_test_spinning{0};

__attribute__((noinline)) void dump_test_parked_in_recv(void* c) {
  int v = 0;
  gort_chan_recv(static_cast<gort_chan*>(c), &v);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void dump_test_spin(void*) {
  dump_test_spinning++;
  while (!dump_test_stop.load(std::memory_order_relaxed)) {
  }
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void dump_test_not_started(void* wg) {
  gort_waitgroup_done(static_cast<gort_waitgroup*>(wg));
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) std::string dump_test_dump_here() {
  FILE* f = tmpfile();
  gort_dump(fileno(f));
  std::string s;
  rewind(f);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  asm volatile("" ::: "memory");
  return s;
}
}

// The block of lines of the goroutine named name (its header to the blank line).
std::string TraceOf(const std::string& dump, const std::string& name) {
  size_t at = dump.find("\"" + name + "\" [");
  if (at == std::string::npos) return "";
  size_t end = dump.find("\n\n", at);
  return dump.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

class DumpTest : public gort_test::Test {};

// A goroutine named "parked", waiting in dump_test_parked_in_recv for the
// life of this object (run inside gort_test::Main).
class ParkedReceiver {
 public:
  ParkedReceiver() : c_(gort_chan_make(sizeof(int), 0)) {
    gort_go_attr a = {0, "parked"};
    wg_.Go([this] { dump_test_parked_in_recv(c_); }, &a);
    for (int i = 0; i < 1000 && TraceOf(dump_test_dump_here(), "parked").find("[waiting") == std::string::npos; i++)
      gort_sleep(1000000);
  }
  ~ParkedReceiver() {
    int v = 1;
    gort_chan_send(c_, &v);
    wg_.Wait();
    gort_chan_free(c_);
  }

 private:
  gort_chan* c_;
  gort_test::Group wg_;
};

TEST_F(DumpTest, ParkedGoroutinesShowWhereTheyWait) {
  gort_test::Main([] {
    ParkedReceiver parked;
    std::string t = TraceOf(dump_test_dump_here(), "parked");
    EXPECT_THAT(t, HasSubstr("[waiting: chan receive"));
    EXPECT_THAT(t, ContainsRegex("at runtime/core/chan.c:[0-9]+"));
    EXPECT_THAT(t, ContainsRegex("dump_test_parked_in_recv\\+0x[0-9a-f]+ at [^ ]*tests/dump_test.cc:[0-9]+"));
  });
}

// A goroutine spawned but not yet run has no stack (stack.c): the dump
// shows it runnable at its entry function.  With one P, the spawner keeps
// it until the spawner parks.
TEST_F(DumpTest, NotStartedGoroutinesShowTheirEntry) {
  gort_test::Procs one(1);
  gort_test::Main([] {
    gort_yield();  // off a P beyond the new limit (retired at a switch): on the only one
    // A hand-made waitgroup: the goroutine's entry must be the C function
    // the dump is to show, not a gort_test::Group's wrapper.
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_go_attr a = {0, "not-started"};
    gort_waitgroup_add(&wg, 1);
    ASSERT_EQ(gort_go_with(dump_test_not_started, &wg, &a), 0);
    std::string trace = TraceOf(dump_test_dump_here(), "not-started");
    gort_waitgroup_wait(&wg);
    if (trace.find("[runnable") == std::string::npos)
      GTEST_SKIP() << "it ran before the dump (preempted spawner): " << trace;
    EXPECT_THAT(trace, ContainsRegex("\\[runnable, [0-9]+ ms\\]:\n +dump_test_not_started"));
  });
}

TEST_F(DumpTest, TheCallerSeesItself) {
  if (gort_test::kTsan) GTEST_SKIP() << "ThreadSanitizer runs the dump's SIGURG handler late, on a copy of the context: the caller's frames are overwritten by then";
  gort_test::Main([] {
    std::string t = TraceOf(dump_test_dump_here(), "main");
    EXPECT_THAT(t, HasSubstr("[running on M"));
    EXPECT_THAT(t, HasSubstr("gort_dump+0x"));
    EXPECT_THAT(t, HasSubstr("dump_test_dump_here+0x"));
  });
}

// One spinner per P beyond the caller's, plus one more: each is either
// running on another M (unwound by that M's signal handler) or runnable
// after a preemption (unwound from its saved context, through the
// preemption trampoline).  Either way the trace names the spin loop.
TEST_F(DumpTest, RunningAndPreemptedGoroutinesShowTheirLoop) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer, and the running spinners' Ms answer the dump's SIGURG only late";
  gort_test::Procs procs(2);
  gort_test::Main([] {
    dump_test_stop = false;
    dump_test_spinning = 0;
    gort_test::Group wg;
    gort_go_attr a = {0, "spinner"};
    for (int i = 0; i < 2; i++) wg.Go([] { dump_test_spin(nullptr); }, &a);
    while (dump_test_spinning.load() < 2) gort_sleep(1000000);
    bool seen_running = false, seen_preempted = false;
    std::string d;
    for (int i = 0; i < 500 && !(seen_running && seen_preempted); i++) {
      d = dump_test_dump_here();
      for (size_t at = 0; (at = d.find("\"spinner\" [", at)) != std::string::npos; at++) {
        std::string t = d.substr(at, d.find("\n\n", at) - at);
        EXPECT_THAT(t, HasSubstr("dump_test_spin+0x"));
        seen_running |= t.find("[running on M") != std::string::npos;
        seen_preempted |= t.find("[runnable") != std::string::npos && t.find("gort_async_preempt") != std::string::npos;
      }
      gort_sleep(2000000);
    }
    EXPECT_TRUE(seen_running) << d;
    EXPECT_TRUE(seen_preempted) << d;
    dump_test_stop = true;
    wg.Wait();
  });
}

TEST_F(DumpTest, FromAPlainThread) {
  gort_test::Main([] {
    ParkedReceiver parked;
    std::string d;
    gort_syscall_enter();
    std::thread([&] { d = dump_test_dump_here(); }).join();
    gort_syscall_exit();
    EXPECT_THAT(TraceOf(d, "parked"), HasSubstr("dump_test_parked_in_recv+0x"));
  });
}

int OpenDescriptors() {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++) n += fcntl(fd, F_GETFD) != -1;
  return n;
}

// The symbolizer's files are closed again when the dump ends.
TEST_F(DumpTest, LeavesNoDescriptorOpen) {
  gort_test::Main([] {
    dump_test_dump_here();  // the first loads libunwind/libdw
    int before = OpenDescriptors();
    for (int i = 0; i < 5; i++) dump_test_dump_here();
    EXPECT_EQ(OpenDescriptors(), before);
  });
}

// Dumps while goroutines ping-pong, spawn and exit on every P: nothing is
// lost or stuck, and every dump is whole.
TEST_F(DumpTest, DumpingUnderLoadLosesNothing) {
  gort_test::Main([] {
    // Under TSan most Ms answer a dump's SIGURG late or never, so each dump
    // stops the world for its whole 100 ms wait: fewer rounds.
    const long rounds = gort_test::Scale(gort_test::kTsan ? 2000 : 20000);
    std::atomic<long> done{0};
    gort_test::Group wg;
    for (int pair = 0; pair < 4; pair++) {
      gort_chan* ping = gort_chan_make(sizeof(long), 0);
      gort_chan* pong = gort_chan_make(sizeof(long), 0);
      wg.Go([&, ping, pong] {
        for (long i = 0; i < rounds; i++) {
          long v = 0;
          gort_chan_recv(ping, &v);
          v++;
          gort_chan_send(pong, &v);
        }
      });
      wg.Go([&, ping, pong] {
        long v = 0;
        for (long i = 0; i < rounds; i++) {
          gort_chan_send(ping, &v);
          gort_chan_recv(pong, &v);
          if (i % 100 == 0) gort_go([](void*) {}, nullptr);  // short-lived goroutines
        }
        EXPECT_EQ(v, rounds);
        done++;
        gort_chan_free(ping);
        gort_chan_free(pong);
      });
    }
    int dumps = 0;
    while (done.load() < 4) {
      std::string d = dump_test_dump_here();
      EXPECT_THAT(d, HasSubstr("\"main\" [running"));
      dumps++;
      gort_sleep(200000);
    }
    wg.Wait();
    EXPECT_GT(dumps, 0);
  });
}

// ---- the fatal reports: in a fresh child each ------------------------------

void QuitWithParked(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  gort_go_attr a = {0, "parked"};
  gort_go_with(dump_test_parked_in_recv, c, &a);
  gort_sleep(20000000);  // let it park before a spinner may take its P
  gort_go_with(dump_test_spin, nullptr, nullptr);
  while (dump_test_spinning.load() == 0) gort_sleep(1000000);
  raise(SIGQUIT);
}

TEST(DumpDeathTest, SigquitPrintsTraces) {
  EXPECT_EXIT(gort_main(QuitWithParked, nullptr), ::testing::ExitedWithCode(2),
              "SIGQUIT(.|\n)*\"parked\" \\[waiting: chan receive, [0-9]+ ms\\]:\n"
              "(.|\n)*dump_test_parked_in_recv\\+0x[0-9a-f]+ at [^ ]*tests/dump_test.cc:[0-9]+");
}

void Deadlock(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  gort_go_attr a = {0, "parked"};
  gort_go_with(dump_test_parked_in_recv, c, &a);
  dump_test_parked_in_recv(c);
}

TEST(DumpDeathTest, DeadlockPrintsTraces) {
  EXPECT_EXIT(gort_main(Deadlock, nullptr), ::testing::ExitedWithCode(2),
              "all goroutines are asleep - deadlock!(.|\n)*\"main\" \\[waiting: chan receive, [0-9]+ ms\\]:\n"
              "(.|\n)*dump_test_parked_in_recv\\+0x(.|\n)*\"parked\" \\[waiting"
              "(.|\n)*dump_test_parked_in_recv\\+0x");
}
