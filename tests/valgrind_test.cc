// valgrind_test.cc — runs //tests:valgrind_prog under valgrind's memcheck.
//
//   valgrind_test PROG SUPPRESSIONS     (BUILD passes both as rootpaths)
//
// The program must run clean: exit 0, no memcheck error, no "client
// switching stacks?" warning (every stack the runtime switches to is
// registered: runtime/valgrind.h), and nothing "definitely lost".  Leaks:
// the runtime's Ms, Ps, Gs and their stacks live as long as the process
// and stay reachable from its globals ("still reachable", not an error);
// glibc's per-thread TLS blocks of the Ms, which never exit, are pointed
// to only from inside (dtv + 1), so memcheck calls them "possibly lost"
// (also not an error; the summary still counts them).  One suppression:
// libunwind's page probe during gort_dump (tools/valgrind/gort.supp).  A
// second run with a planted invalid read and leak checks that memcheck
// really looks.
//
// Async preemption stays on: valgrind runs one thread at a time and
// delivers a signal only between the blocks it translates, but SIGURG,
// the handler's edit of the context and the trampoline's frame all work
// (the program checks that a spinning goroutine is preempted), and that
// frame is exactly what memcheck should see.
//
// Skipped where valgrind cannot run the program: valgrind not on PATH,
// under qemu (the arm64 config sets GORT_UNDER_QEMU; an x86 valgrind
// cannot run an arm64 binary), and under ASan or TSan (their runtimes
// replace malloc, as valgrind does, and map shadow memory at fixed
// addresses; ASan's refuses to start under valgrind).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif
#else
constexpr bool kSanitizer = false;
#endif

int g_argc;
char** g_argv;

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

struct Outcome {
  int status = -1;  // the exit status, or -1 if it did not exit
  std::string output;
};

// valgrind [memcheck flags] PROG [extra]: its exit status and everything it
// and the program wrote (stdout and stderr, in order).
Outcome RunUnderValgrind(const std::string& valgrind, const std::string& prog, const std::string& supp,
                         const std::vector<std::string>& extra) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string out = std::string(tmp != nullptr ? tmp : "/tmp") + "/valgrind.out";
  std::vector<std::string> args = {
      valgrind,
      "--tool=memcheck",
      "--error-exitcode=1",
      "--leak-check=full",
      "--errors-for-leak-kinds=definite",
      "--show-leak-kinds=definite",  // the glibc TLS blocks above would be noise
      "--suppressions=" + supp,      // tools/valgrind/gort.supp says why each
      prog,
  };
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  Outcome r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int err = posix_spawn(&pid, valgrind.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) {
    r.output = "posix_spawn " + valgrind + " failed: " + std::to_string(err);
    return r;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
  }
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  std::ifstream f(out);
  r.output.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return r;
}

class Valgrind : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kSanitizer) GTEST_SKIP() << "built with a sanitizer: valgrind cannot run it";
    if (std::getenv("GORT_UNDER_QEMU") != nullptr) GTEST_SKIP() << "under qemu: valgrind cannot run here";
    valgrind_ = FindOnPath("valgrind");
    if (valgrind_.empty()) GTEST_SKIP() << "valgrind is not on PATH (tools/bazel installs it)";
    ASSERT_EQ(g_argc, 3) << "usage: valgrind_test PROG SUPPRESSIONS";
    prog_ = g_argv[1];
    supp_ = g_argv[2];
  }

  std::string valgrind_, prog_, supp_;
};

TEST_F(Valgrind, ProgramRunsClean) {
  Outcome r = RunUnderValgrind(valgrind_, prog_, supp_, {});
  std::printf("%s", r.output.c_str());  // in the test log: valgrind's summary
  EXPECT_EQ(r.status, 0) << "valgrind or the program failed (output above)";
  EXPECT_NE(r.output.find("valgrind_prog: ok"), std::string::npos) << "the program did not finish";
  EXPECT_NE(r.output.find("ERROR SUMMARY: 0 errors"), std::string::npos) << "memcheck errors (output above)";
  EXPECT_EQ(r.output.find("client switching stacks?"), std::string::npos)
      << "a switch to a stack valgrind does not know (runtime/valgrind.h)";
  EXPECT_EQ(r.output.find("definitely lost in"), std::string::npos) << "a leak (output above)";
}

TEST_F(Valgrind, CatchesAPlantedBug) {
  Outcome r = RunUnderValgrind(valgrind_, prog_, supp_, {"--bug"});
  EXPECT_EQ(r.status, 1) << r.output;  // --error-exitcode; the program itself exits 0
  EXPECT_NE(r.output.find("Invalid read of size 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("definitely lost: 16 bytes in 1 blocks"), std::string::npos) << r.output;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_argc = argc;
  g_argv = argv;
  return RUN_ALL_TESTS();
}
