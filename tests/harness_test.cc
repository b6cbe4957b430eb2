// harness_test.cc — tests/harness.h: a failing ASSERT inside a
// gort_test::Group goroutine fails the test cleanly (googletest's exit
// status 1 and the assertion's message), where a hand-made waitgroup
// done after the ASSERT ends in the runtime's deadlock exit (2).
//
// Each case runs tests/harness_child.cc (a googletest program whose tests
// fail on purpose) with one --gtest_filter, in gtest's death-test child
// (fork, then exec); the parent never starts the runtime.  Under qemu the
// child is exec'ed through qemu-aarch64 (no binfmt_misc needed).
//
// argv[1]: the path of harness_child (tests/BUILD.bazel).

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

std::string child_path;

bool UnderQemu() { return std::getenv("GORT_UNDER_QEMU") != nullptr; }

// Runs harness_child with one test selected, its stdout (where googletest
// prints failures) joined to stderr (what a death test matches).
[[noreturn]] void RunChild(const char* filter) {
  std::string f = std::string("--gtest_filter=") + filter;
  std::vector<const char*> argv;
  if (UnderQemu()) {
    argv = {"/usr/bin/qemu-aarch64", "-L", "/"};
  }
  argv.push_back(child_path.c_str());
  argv.push_back(f.c_str());
  argv.push_back(nullptr);
  dup2(2, 1);
  execv(argv[0], const_cast<char* const*>(argv.data()));
  _exit(127);
}

TEST(Harness, AssertInAGroupGoroutineFailsTheTestCleanly) {
  ASSERT_FALSE(child_path.empty());
  EXPECT_EXIT(RunChild("HarnessChild.AssertInAGroupGoroutine"), testing::ExitedWithCode(1),
              "Expected equality of these values:(.|\n)*answer(.|\n)*planted failure in a "
              "goroutine(.|\n)*FAILED  \\] HarnessChild.AssertInAGroupGoroutine");
}

// The control: the same ASSERT before a hand-made waitgroup_done is the
// runtime's deadlock, exit 2 (what the Group is for).
TEST(Harness, AssertBeforeAHandMadeDoneIsADeadlock) {
  ASSERT_FALSE(child_path.empty());
  EXPECT_EXIT(RunChild("HarnessChild.AssertBeforeAHandMadeDone"), testing::ExitedWithCode(2),
              "planted failure in a goroutine(.|\n)*all goroutines are asleep - deadlock!");
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1) child_path = argv[1];
  return RUN_ALL_TESTS();
}
