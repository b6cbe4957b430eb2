// preempt_death_test.cc — preemption and signal behaviour that depends on
// start-up settings or ends the process: each case runs in a fresh child
// (gtest's "fast" death-test style; the parent never starts the runtime).
//   - SIGQUIT prints every goroutine (id, name, state, wait reason, time)
//     and exits 2.
//   - A SIGURG handler installed before gort_init keeps its signals.
//   - GORT_DEBUG=asyncpreemptoff=1: no signals, only cooperative
//     preemption at runtime entries; without it, a call-free loop is
//     preempted.
//   - GORT_DEBUG=schedtrace=MS prints scheduler lines.
//   - Deadlock detection: every goroutine asleep for good (and gort_main
//     waiting) prints "all goroutines are asleep" and the dump, exit 2;
//     a pending timer, or a thread that calls in soon, is no deadlock.
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/gort.h"

namespace {

// Under ThreadSanitizer asynchronous preemption is off (runtime/core/env.c:
// TSan runs signal handlers late, on a copy of the context).
#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

uint64_t Preemptions() {
  gort_stats s;
  gort_stats_get(&s);
  return s.preemptions;
}

std::atomic<bool> stop_spinning{false};
void Spin(void*) {
  while (!stop_spinning.load(std::memory_order_relaxed)) {
  }
}

void ReceiveForever(void* c) {
  int v;
  gort_chan_recv(static_cast<gort_chan*>(c), &v);
}

void QuitWhileOthersWait(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  gort_go_attr a1 = {0, "parked-one"}, a2 = {0, "parked-two"};
  gort_go_with(ReceiveForever, c, &a1);
  gort_go_with(ReceiveForever, c, &a2);
  gort_sleep(20000000);  // let them park (and age 20 ms)
  raise(SIGQUIT);
}

TEST(SignalDeathTest, SigquitDumpsEveryGoroutineAndExits2) {
  EXPECT_EXIT(gort_main(QuitWhileOthersWait, nullptr), ::testing::ExitedWithCode(2),
              "SIGQUIT(.|\n)*goroutine [0-9]+ \"main\" \\[running on M[0-9]+, [0-9]+ ms\\]"
              "(.|\n)*goroutine [0-9]+ \"parked-one\" \\[waiting: chan receive, [0-9]+ ms\\]"
              "(.|\n)*goroutine [0-9]+ \"parked-two\" \\[waiting: chan receive, [0-9]+ ms\\]");
}

std::atomic<int> user_urgs{0};
void OnUserUrg(int) { user_urgs++; }

void SignalWhileSpinning(void*) {
  for (int i = 0; i < gort_maxprocs(0); i++) gort_go(Spin, nullptr);
  for (int i = 0; i < 20; i++) {
    int want = user_urgs.load() + 1;
    kill(getpid(), SIGURG);
    for (int t = 0; t < 5000 && user_urgs.load() < want; t++) gort_sleep(100000);
    gort_sleep(2000000);
  }
  stop_spinning = true;
}

TEST(SignalDeathTest, SigurgHandlerInstalledBeforeInitKeepsItsSignals) {
  if (kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinners keep every P)";
  EXPECT_EXIT(
      {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = OnUserUrg;
        sigaction(SIGURG, &sa, nullptr);
        gort_main(SignalWhileSpinning, nullptr);
        exit(user_urgs.load() == 20 && Preemptions() > 0 ? 0 : 10 + user_urgs.load());
      },
      ::testing::ExitedWithCode(0), "");
}

// One call-free spinner for 100 ms while the main goroutine sleeps.
void SpinFor100ms(void*) {
  gort_go(Spin, nullptr);
  gort_sleep(100000000);
  stop_spinning = true;
  gort_sleep(1000000);
}

TEST(SignalDeathTest, CallFreeLoopIsPreemptedBySignal) {
  if (kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  EXPECT_EXIT(
      {
        setenv("GORT_MAXPROCS", "2", 1);
        gort_main(SpinFor100ms, nullptr);
        exit(Preemptions() > 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// The same, counting only while the main goroutine sleeps: then the
// spinner alone runs, and a call-free loop can be preempted only by a
// signal.  (The main goroutine itself may rightly be preempted at its
// runtime entries, if the OS, or qemu translating code, holds it up for a
// slice.)
std::atomic<uint64_t> spinner_preemptions{0};
void SpinFor100msCounting(void*) {
  gort_go(Spin, nullptr);
  gort_sleep(1000000);  // the spinner runs
  uint64_t before = Preemptions();
  gort_sleep(100000000);
  spinner_preemptions = Preemptions() - before;
  stop_spinning = true;
  gort_sleep(1000000);
}

TEST(SignalDeathTest, AsyncPreemptOffSendsNoSignals) {
  EXPECT_EXIT(
      {
        setenv("GORT_MAXPROCS", "2", 1);
        setenv("GORT_DEBUG", "asyncpreemptoff=1", 1);
        gort_main(SpinFor100msCounting, nullptr);
        exit(spinner_preemptions.load() == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// With signals off, a goroutine that keeps entering the runtime (an
// uncontended mutex) still yields the only P to a sleeper.
void LockLoop(void*) {
  gort_mutex mu = GORT_MUTEX_INIT;
  while (!stop_spinning.load(std::memory_order_relaxed)) {
    gort_mutex_lock(&mu);
    gort_mutex_unlock(&mu);
  }
}

void SleepBesideLockLoop(void*) {
  gort_go(LockLoop, nullptr);
  gort_yield();
  gort_sleep(2000000);  // returns only if LockLoop yields at a runtime entry
  stop_spinning = true;
}

TEST(SignalDeathTest, AsyncPreemptOffStillPreemptsAtRuntimeEntries) {
  EXPECT_EXIT(
      {
        setenv("GORT_MAXPROCS", "1", 1);
        setenv("GORT_DEBUG", "asyncpreemptoff=1", 1);
        gort_main(SleepBesideLockLoop, nullptr);
        exit(Preemptions() > 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

void Sleep60ms(void*) { gort_sleep(60000000); }

TEST(SignalDeathTest, SchedtracePrintsSchedulerLines) {
  EXPECT_EXIT(
      {
        setenv("GORT_DEBUG", "schedtrace=10", 1);
        gort_main(Sleep60ms, nullptr);
        exit(0);
      },
      ::testing::ExitedWithCode(0),
      "gort: sched [0-9]+ms: procs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ spinning=[0-9]+ idlethreads=[0-9]+ "
      "runqueue=[0-9]+ \\[[0-9 ]+\\] preemptions=[0-9]+\n(.|\n)*gort: sched");
}

void ReceiveOnNobodysChannel(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  int v;
  gort_chan_recv(c, &v);
}

TEST(DeadlockDeathTest, MainWaitingOnAChannelNobodySendsTo) {
  EXPECT_EXIT(gort_main(ReceiveOnNobodysChannel, nullptr), ::testing::ExitedWithCode(2),
              "gort: all goroutines are asleep - deadlock!\n\n"
              "(.|\n)*goroutine [0-9]+ \"main\" \\[waiting: chan receive, [0-9]+ ms\\]");
}

// Tracing keeps sysmon awake; it must still find the deadlock.
TEST(DeadlockDeathTest, FoundWithSchedtraceOn) {
  EXPECT_EXIT(
      {
        setenv("GORT_DEBUG", "schedtrace=5", 1);
        gort_main(ReceiveOnNobodysChannel, nullptr);
      },
      ::testing::ExitedWithCode(2), "gort: all goroutines are asleep - deadlock!\n\n");
}

gort_mutex mu_a = GORT_MUTEX_INIT, mu_b = GORT_MUTEX_INIT;
// Hand-made waitgroups (no harness.h): the death-test child's own deadlock.
gort_waitgroup both_locked = GORT_WAITGROUP_INIT, cycle_done = GORT_WAITGROUP_INIT;

void LockAThenB(void*) {
  gort_mutex_lock(&mu_a);
  gort_waitgroup_done(&both_locked);
  gort_waitgroup_wait(&both_locked);
  gort_mutex_lock(&mu_b);
  gort_waitgroup_done(&cycle_done);
}

void LockBThenA(void*) {
  gort_mutex_lock(&mu_b);
  gort_waitgroup_done(&both_locked);
  gort_waitgroup_wait(&both_locked);
  gort_mutex_lock(&mu_a);
  gort_waitgroup_done(&cycle_done);
}

void MutexCycle(void*) {
  gort_waitgroup_add(&both_locked, 2);
  gort_waitgroup_add(&cycle_done, 2);
  gort_go(LockAThenB, nullptr);
  gort_go(LockBThenA, nullptr);
  gort_waitgroup_wait(&cycle_done);
}

TEST(DeadlockDeathTest, TwoGoroutinesInALockCycle) {
  EXPECT_EXIT(gort_main(MutexCycle, nullptr), ::testing::ExitedWithCode(2),
              "all goroutines are asleep - deadlock!(.|\n)*\\[waiting: waitgroup(.|\n)*\\[waiting: ");
}

void SleepThenReturn(void*) { gort_sleep(300000000); }

TEST(DeadlockDeathTest, ASleepingMainIsNoDeadlock) {
  EXPECT_EXIT(
      {
        gort_main(SleepThenReturn, nullptr);
        exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

gort_chan* late_chan;
void* SendAfter(void* ms) {
  usleep((useconds_t)(intptr_t)ms * 1000);
  int v = 7;
  gort_chan_send(late_chan, &v);
  return nullptr;
}

void ReceiveFromLateThread(void*) {
  int v = 0;
  gort_chan_recv(late_chan, &v);
  if (v != 7) exit(3);
}

// A thread that has not called into gort yet, but does within the grace
// period, is not mistaken for a deadlock.
TEST(DeadlockDeathTest, AThreadCallingInSoonIsNoDeadlock) {
  EXPECT_EXIT(
      {
        late_chan = gort_chan_make(sizeof(int), 0);
        pthread_t t;
        pthread_create(&t, nullptr, SendAfter, (void*)(intptr_t)30);
        gort_main(ReceiveFromLateThread, nullptr);
        pthread_join(t, nullptr);
        exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// One that calls in only later is invisible: GORT_DEBUG=deadlock=0 is the
// documented way out.
TEST(DeadlockDeathTest, DeadlockDetectionCanBeTurnedOff) {
  EXPECT_EXIT(
      {
        setenv("GORT_DEBUG", "deadlock=0", 1);
        late_chan = gort_chan_make(sizeof(int), 0);
        pthread_t t;
        pthread_create(&t, nullptr, SendAfter, (void*)(intptr_t)400);
        gort_main(ReceiveFromLateThread, nullptr);
        pthread_join(t, nullptr);
        exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
