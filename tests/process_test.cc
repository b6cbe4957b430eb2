// process_test.cc — behaviours of the whole process: deadlock detection
// with plain threads and signals around, and fork().  Each test runs its
// program in a fresh child (gtest's death-test fork); the parent never
// starts the runtime, so each child starts its own.

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include "runtime/gort.h"

namespace {

constexpr int64_t kMs = 1000 * 1000;

// ThreadSanitizer runs a signal handler only when the thread that took
// the signal next enters one of its interceptors, and an idle M sleeps in
// a raw futex call, which is not one: a signal can wait there for good.
// It also does not support fork() in a multi-threaded process.
#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

gort_chan* wake;  // int, unbuffered: main waits on it

// main waits on `wake`; nothing else runs but a plain thread that will
// send on it after doing `before` for 300 ms.  Exits 0, or 2 by the
// runtime's "all goroutines are asleep" report.
void MainWaits(void*) {
  int v = 0;
  if (gort_chan_recv(wake, &v) != 0 || v != 7) _exit(1);
}

int RunWithPlainThread(void* (*thread)(void*)) {
  wake = gort_chan_make(sizeof(int), 0);
  pthread_t t;
  pthread_create(&t, nullptr, thread, nullptr);
  if (gort_main(MainWaits, nullptr) != 0) return 1;
  pthread_join(t, nullptr);
  return 0;
}

void* SleepThenSend(void*) {
  gort_sleep(300 * kMs);
  int v = 7;
  gort_chan_send(wake, &v);
  return nullptr;
}

void* ReadThenSend(void*) {
  int p[2];
  if (pipe(p) != 0) _exit(1);
  char c;
  if (gort_read(p[0], &c, 1, 300 * kMs) != -ETIMEDOUT) _exit(1);  // nobody writes
  int v = 7;
  gort_chan_send(wake, &v);
  return nullptr;
}

TEST(DeadlockTest, NotReportedWhileAPlainThreadSleepsInGort) {
  EXPECT_EXIT(exit(RunWithPlainThread(SleepThenSend)), testing::ExitedWithCode(0), "");
}

TEST(DeadlockTest, NotReportedWhileAPlainThreadReadsInGort) {
  EXPECT_EXIT(exit(RunWithPlainThread(ReadThenSend)), testing::ExitedWithCode(0), "");
}

// A program that waits only for a signal (a server waiting for SIGTERM) is
// not deadlocked: a thread that never called gort sends it.
void* KillLater(void*) {
  usleep(300 * 1000);
  kill(getpid(), SIGUSR1);
  return nullptr;
}

void WaitForSignal(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 1);
  if (gort_signal_notify(SIGUSR1, c) != 0) _exit(1);
  pthread_t t;
  pthread_create(&t, nullptr, KillLater, nullptr);
  int sig = 0;
  if (gort_chan_recv(c, &sig) != 0 || sig != SIGUSR1) _exit(1);
  pthread_join(t, nullptr);
}

TEST(DeadlockTest, NotReportedWhileWaitingForASignal) {
  if (kTsan) GTEST_SKIP() << "TSan may never run the handler (see kTsan)";
  EXPECT_EXIT(exit(gort_main(WaitForSignal, nullptr)), testing::ExitedWithCode(0), "");
}

// The true deadlock is still reported once the signal is no longer wanted.
void StopThenWaitForever(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 1);
  gort_signal_notify(SIGUSR1, c);
  gort_signal_stop(SIGUSR1, c);
  int v;
  gort_chan_recv(c, &v);
}

TEST(DeadlockTest, ReportedOnceNoSignalIsWanted) {
  EXPECT_EXIT(gort_main(StopThenWaitForever, nullptr), testing::ExitedWithCode(2),
              "all goroutines are asleep - deadlock!");
}

// ---- fork ---------------------------------------------------------------

// In the child of a process running gort: every call that would wait or
// start goroutines fails at once with -ENOTRECOVERABLE; none hangs (an
// alarm ends a hang as a failure).  Returns the number of wrong answers.
int ChildChecks() {
  alarm(20);
  int bad = 0;
  bad += gort_sleep(kMs) != -ENOTRECOVERABLE;
  bad += gort_go([](void*) {}, nullptr) != -ENOTRECOVERABLE;
  bad += gort_main([](void*) {}, nullptr) != -ENOTRECOVERABLE;
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  int v = 1;
  bad += c == nullptr;
  bad += gort_chan_recv(c, &v) != -ENOTRECOVERABLE;
  bad += gort_chan_send_timeout(c, &v, 10 * kMs) != -ENOTRECOVERABLE;
  bad += gort_chan_send_timeout(c, &v, 0) != -EAGAIN;  // a try never waits: as ever
  gort_case cases[1] = {{c, GORT_RECV, &v, 0}};
  bad += gort_select(cases, 1, -1) != -ENOTRECOVERABLE;
  errno = 0;
  bad += gort_timer_start(kMs, 0) != nullptr || errno != ENOTRECOVERABLE;
  int p[2];
  bad += pipe(p) != 0;
  char ch;
  bad += gort_read(p[0], &ch, 1, -1) != -ENOTRECOVERABLE;
  bad += gort_maxprocs(3) != -ENOTRECOVERABLE;
  gort_yield();  // returns
  gort_dump(2);  // says why there is none
  gort_mutex m = GORT_MUTEX_INIT;
  bad += gort_mutex_lock(&m) != 0 || gort_mutex_unlock(&m) != 0;  // uncontended: no wait
  return bad;
}

int ForkAndCheck() {
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) _exit(ChildChecks());
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void ForkFromAGoroutine(void*) {
  for (int i = 0; i < 8; i++) gort_go([](void*) { gort_sleep(50 * kMs); }, nullptr);
  gort_sleep(kMs);
  int r = ForkAndCheck();
  if (r != 0) {
    fprintf(stderr, "child: %d wrong\n", r);
    _exit(1);
  }
  gort_sleep(60 * kMs);  // the parent's runtime is untouched
}

TEST(ForkTest, ChildOfAGoroutineFailsClearlyAndNeverHangs) {
  if (kTsan) GTEST_SKIP() << "TSan does not support fork() of a multi-threaded process";
  EXPECT_EXIT(exit(gort_main(ForkFromAGoroutine, nullptr)), testing::ExitedWithCode(0),
              "gort: the runtime does not survive fork\\(\\) without exec");
}

TEST(ForkTest, ChildOfAPlainThreadFailsClearly) {
  if (kTsan) GTEST_SKIP() << "TSan does not support fork() of a multi-threaded process";
  EXPECT_EXIT(
      {
        gort_init(nullptr);
        gort_go([](void*) { gort_sleep(50 * kMs); }, nullptr);
        exit(ForkAndCheck());
      },
      testing::ExitedWithCode(0), "ENOTRECOVERABLE");
}

// Before the runtime starts, a forked child may start its own.
TEST(ForkTest, ForkBeforeTheRuntimeStartsIsFine) {
  if (kTsan) GTEST_SKIP() << "TSan does not support fork() of a multi-threaded process";
  EXPECT_EXIT(
      {
        pid_t pid = fork();
        if (pid == 0) _exit(gort_main([](void*) { gort_sleep(kMs); }, nullptr));
        int st = 0;
        waitpid(pid, &st, 0);
        exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
