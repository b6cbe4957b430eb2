// foreign_death_test.cc — GORT_DEBUG=blockwarn=MS, read at start-up, so
// each case runs in a fresh child (gtest's "fast" death-test style; the
// parent never starts the runtime): a goroutine blocked in a foreign call
// longer than MS ms gets one line on stderr, naming it, how long, and
// (natively) the function that made the call.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "runtime/gort.h"

namespace {

int block_pipe[2];

__attribute__((noinline)) ssize_t BlockedReader(int fd) {
  char c;
  return read(fd, &c, 1);
}

void Reader(void*) { BlockedReader(block_pipe[0]); }

// A named goroutine blocks 400 ms in read(); main releases it.
void BlockFor400ms(void*) {
  gort_go_attr attr = {0, "slow-reader"};
  gort_go_with(Reader, nullptr, &attr);
  gort_sleep(400 * 1000 * 1000);
  if (write(block_pipe[1], "x", 1) != 1) abort();
  gort_sleep(20 * 1000 * 1000);
}

// The child's stderr, captured: the line must appear exactly once.
int CountWarnings(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
  return n;
}

TEST(ForeignDeathTest, BlockwarnReportsALongForeignCallOnce) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "no foreign-call detection under ThreadSanitizer (its own lock waits look like blocked calls)";
#endif
  EXPECT_EXIT(
      {
        setenv("GORT_DEBUG", "blockwarn=50", 1);
        if (pipe(block_pipe) != 0) exit(20);
        int out[2];
        if (pipe(out) != 0) exit(21);
        int saved = dup(2);
        dup2(out[1], 2);
        gort_main(BlockFor400ms, nullptr);
        close(out[1]);
        dup2(saved, 2);
        close(2);
        std::string err;
        char buf[4096];
        ssize_t n;
        while ((n = read(out[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
        dup2(saved, 2);
        fprintf(stderr, "%s", err.c_str());
        int lines = CountWarnings(err, "gort: goroutine ");
        bool named = err.find("\"slow-reader\" blocked in a foreign call for ") != std::string::npos;
        bool where = getenv("GORT_UNDER_QEMU") != nullptr || err.find("BlockedReader") != std::string::npos;
        exit(lines == 1 && named && where ? 0 : 10 + lines);
      },
      ::testing::ExitedWithCode(0), "");
}

// Without the setting, no line.
TEST(ForeignDeathTest, NoBlockwarnNoLine) {
  EXPECT_EXIT(
      {
        unsetenv("GORT_DEBUG");
        if (pipe(block_pipe) != 0) exit(20);
        gort_main(BlockFor400ms, nullptr);
        fprintf(stderr, "done\n");
        exit(0);
      },
      ::testing::ExitedWithCode(0), "^done\n$");
}

}  // namespace
