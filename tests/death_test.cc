// death_test.cc — the fatal paths: each must print one line naming the
// goroutine and the cause, then die.  This binary never starts the runtime
// in the parent process: every death test starts a fresh one in its child
// (gtest's "fast" style forks, and a forked child has none of the parent's
// threads), which also works under qemu.

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/wait.h>

#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/gort.h"

namespace {

// ASan owns SIGSEGV and reports these faults itself (its own message, its
// own exit code), and its redzones catch a canary overrun first.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

// ThreadSanitizer, likewise, owns SIGSEGV for faults that are not ours.
#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

// Each frame writes all of its 512-byte local, as real code writes its
// locals: a canary is only hit by an overflow that writes over it.
__attribute__((noinline)) int Recurse(int depth, int stop) {
  volatile char frame[512];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (char)depth;
  if (depth == stop) return frame[0];
  return Recurse(depth + 1, stop) + frame[0];  // not a tail call
}

void OverflowForever(void*) { Recurse(0, -1); }

TEST(StackDeathTest, GuardPageOverflowNamesTheGoroutine) {
  // The line, then the dump, whose trace of the goroutine shows the recursion.
  EXPECT_DEATH(gort_main(OverflowForever, nullptr),
               "gort: goroutine [0-9]+ \"main\" stack overflow \\(stack [0-9]+ bytes\\)\n"
               "(.|\n)*\"main\" \\[running on M[0-9]+, [0-9]+ ms\\]:\n +[^ ]*Recurse[^ ]*\\+0x");
}

// Past the guard-page budget a stack is canary-checked at every switch.
// GORT_DEBUG=stackguard=0 makes every stack so.  The goroutine overruns its
// 64 KiB stack by ~12 KiB into the slot below, returns, and yields.  It
// sleeps first so the goroutine below is parked, not running, when its
// stack is trampled (a canary cannot protect a running neighbour).
void OverflowABit(void*) {
  gort_sleep(20 * 1000 * 1000);
  Recurse(0, (76 << 10) / 560);
  gort_yield();
}

void StartAnotherThenOverflow(void*) {
  // The main goroutine holds slot 0 (whose floor is a guard page); this one
  // gets slot 1, whose canary sits at the top of slot 0.
  gort_main(OverflowABit, nullptr);
}

TEST(StackDeathTest, CanaryOverflowNamesTheGoroutine) {
  if (kAsan) GTEST_SKIP() << "AddressSanitizer handles the fault itself";
  EXPECT_DEATH(
      {
        setenv("GORT_DEBUG", "stackguard=0", 1);
        gort_main(StartAnotherThenOverflow, nullptr);
      },
      "gort: goroutine [0-9]+ \"main\" stack overflow \\(stack [0-9]+ bytes, canary clobbered\\)");
}

// Overflow on a custom-size stack (its own mapping and guard page).
void OverflowCustom(void*) {
  gort_go_attr attr = {256 << 10, "custom"};
  // Hand-made (this file does not use harness.h): a death-test child's
  // wait, never done; the overflow ends the process.
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  gort_waitgroup_add(&wg, 1);
  gort_go_with(OverflowForever, nullptr, &attr);
  gort_waitgroup_wait(&wg);
}

TEST(StackDeathTest, CustomStackOverflowIsReported) {
  EXPECT_DEATH(gort_main(OverflowCustom, nullptr),
               "gort: goroutine [0-9]+ \"custom\" stack overflow \\(stack 262144 bytes\\)");
}

// A fault that is not a stack overflow is left to the default action.
// (A PROT_NONE page, not NULL: UBSan would report a null store first.)
void NullDeref(void*) {
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *(volatile int*)page = 1;
}

// The process's address space now, from /proc (linux).
long VmSizeKib() {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  while (f != nullptr && fgets(line, sizeof line, f) != nullptr)
    if (sscanf(line, "VmSize: %ld kB", &kib) == 1) break;
  if (f != nullptr) fclose(f);
  return kib;
}

// A goroutine takes its stack when it first runs, but its spawn claims it
// (stack.c): a stack that cannot be mapped fails the spawn with -ENOMEM,
// instead of aborting later when it first runs.  The 16 MiB stacks make a
// slab of 4 GiB, beyond an address-space limit that leaves room for
// everything else.
TEST(StackDeathTest, NoMemoryForAStackFailsTheSpawn) {
  if (kAsan || kTsan) GTEST_SKIP() << "the sanitizers need far more address space than the limit leaves";
  if (getenv("GORT_UNDER_QEMU") != nullptr)
    GTEST_SKIP() << "qemu-user's own mappings fall under the same limit (it dies silently)";
  EXPECT_EXIT(
      {
        gort_config cfg;
        cfg.maxprocs = 0;
        cfg.stack_size = 16 << 20;
        if (gort_init(&cfg) != 0) exit(100);
        struct rlimit lim;
        getrlimit(RLIMIT_AS, &lim);
        long kib = VmSizeKib();
        lim.rlim_cur = (rlim_t)(kib + (1L << 20)) << 10;  // now + 1 GiB
        if (kib == 0 || setrlimit(RLIMIT_AS, &lim) != 0) exit(101);
        int err = gort_main([](void*) {}, nullptr);
        fprintf(stderr, "gort_main: %s\n", strerror(-err));
        exit(err == -ENOMEM ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "gort_main: Cannot allocate memory\n");
}

// Out of address space with thousands of goroutines parked (a child with
// RLIMIT_AS): gort_go fails cleanly (-ENOMEM/-EAGAIN), or the runtime
// aborts with exactly one "gort:" line and at most one dump; never a
// SIGSEGV, never two reports at once (two Ms out of stack memory used to
// print and dump concurrently, and libdw crashed).  Ten children: the race
// did not show every time.
std::atomic<long> g_oom_parked{0};

void OomPark(void* c) {
  int v;
  g_oom_parked.fetch_add(1);
  gort_chan_recv(static_cast<gort_chan*>(c), &v);
}

void OomSpawner(void*) {
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  for (long i = 0;; i++) {
    int err = gort_go(OomPark, c);
    if (err != 0) {
      // every goroutine spawned so far gets its stack: wait for them
      while (g_oom_parked.load() < i) gort_sleep(1000000);
      fprintf(stderr, "spawn failed: %s after %ld\n", strerror(-err), i);
      fflush(stderr);
      _exit(err == -ENOMEM || err == -EAGAIN ? 0 : 3);
    }
    if (i % 64 == 0) gort_yield();  // let both Ps start what is queued
  }
}

TEST(StackDeathTest, OutOfStackMemoryFailsSpawnOrAbortsOnce) {
  if (kAsan || kTsan) GTEST_SKIP() << "the sanitizers need far more address space than the limit leaves";
  if (getenv("GORT_UNDER_QEMU") != nullptr)
    GTEST_SKIP() << "qemu-user's own mappings fall under the same limit (it dies silently)";
  for (int run = 0; run < 10; run++) {
    char path[] = "/tmp/gort_oom_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(fd, 2);
      gort_config cfg = {2, 0};
      if (gort_init(&cfg) != 0) _exit(100);
      struct rlimit lim;
      getrlimit(RLIMIT_AS, &lim);
      long kib = VmSizeKib();
      lim.rlim_cur = (rlim_t)(kib + (160L << 10)) << 10;  // now + 160 MiB
      if (kib == 0 || setrlimit(RLIMIT_AS, &lim) != 0) _exit(101);
      gort_main(OomSpawner, nullptr);
      _exit(102);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    std::string err;
    char buf[65536];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof buf)) > 0) err.append(buf, (size_t)n);
    close(fd);
    unlink(path);
    size_t lines = 0, dumps = 0;
    for (size_t at = 0; (at = err.find("gort:", at)) != std::string::npos; at++)
      if (at == 0 || err[at - 1] == '\n') lines++;
    for (size_t at = 0; (at = err.find("\ngoroutine ", at)) != std::string::npos; at++)
      if (err.compare(at + 1, std::string::npos, "goroutine 1 ", 0, 12) == 0) dumps++;  // each dump lists the main one
    std::string head = err.substr(0, 400);
    ASSERT_FALSE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << "run " << run << ": SIGSEGV\n" << head;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      EXPECT_EQ(lines, 0u) << "run " << run << "\n" << head;
      EXPECT_NE(err.find("spawn failed: "), std::string::npos) << head;
    } else {
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
          << "run " << run << ": status " << status << "\n" << head;
      EXPECT_EQ(lines, 1u) << "run " << run << "\n" << head;
      EXPECT_LE(dumps, 1u) << "run " << run << "\n" << head;
    }
  }
}

TEST(StackDeathTest, OtherFaultsAreNotCalledOverflow) {
  if (kAsan) GTEST_SKIP() << "AddressSanitizer handles the fault itself";
  if (kTsan) GTEST_SKIP() << "ThreadSanitizer handles the fault itself";
  EXPECT_EXIT(gort_main(NullDeref, nullptr), ::testing::KilledBySignal(SIGSEGV),
              ::testing::Not(::testing::HasSubstr("stack overflow")));
}

// ---- start-up configuration: each case runs in a fresh child process ----

TEST(StartupDeathTest, MaxprocsFromEnvironment) {
  EXPECT_EXIT(
      {
        setenv("GORT_MAXPROCS", "3", 1);
        exit(gort_maxprocs(0));
      },
      ::testing::ExitedWithCode(3), "");
}

TEST(StartupDeathTest, MaxprocsDefaultsToTheAffinityMask) {
  EXPECT_EXIT(
      {
        unsetenv("GORT_MAXPROCS");
        cpu_set_t one;
        CPU_ZERO(&one);
        sched_getaffinity(0, sizeof one, &one);
        int first = 0;
        while (!CPU_ISSET(first, &one)) first++;
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) exit(100);
        exit(gort_maxprocs(0));
      },
      ::testing::ExitedWithCode(1), "");
}

TEST(StartupDeathTest, MalformedSettingsAreIgnoredWithAWarning) {
  EXPECT_EXIT(
      {
        setenv("GORT_MAXPROCS", "lots", 1);
        setenv("GORT_STACK_SIZE", "12", 1);
        setenv("GORT_DEBUG", "nosuchknob=1", 1);
        exit(gort_maxprocs(0) >= 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "gort: ignoring GORT_MAXPROCS=lots\n.*gort: ignoring GORT_STACK_SIZE=12\n.*gort: ignoring GORT_DEBUG item \"nosuchknob=1\"");
}

// GORT_STACK_SIZE sets the default stack: 256 KiB lets a goroutine use
// 160 KiB, which overflows the 64 KiB default (the next test).
void UseStack(void*) { Recurse(0, (160 << 10) / 560); }

TEST(StartupDeathTest, StackSizeFromEnvironment) {
  EXPECT_EXIT(
      {
        setenv("GORT_STACK_SIZE", "256k", 1);
        exit(gort_main(UseStack, nullptr) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_DEATH(
      {
        unsetenv("GORT_STACK_SIZE");
        gort_main(UseStack, nullptr);
      },
      "stack overflow \\(stack [0-9]+ bytes\\)");
}

// gort_init with a config before anything else starts the runtime with it.
TEST(StartupDeathTest, InitTakesAConfig) {
  EXPECT_EXIT(
      {
        gort_config cfg;  // (no braces: the comma would split the macro)
        cfg.maxprocs = 5;
        cfg.stack_size = 128 << 10;
        if (gort_init(&cfg) != 0) exit(100);
        if (gort_init(&cfg) != 0) exit(101);  // same config again: fine
        exit(gort_maxprocs(0));
      },
      ::testing::ExitedWithCode(5), "");
}

}  // namespace
