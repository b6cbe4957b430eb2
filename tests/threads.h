// threads.h — the process's OS thread count, for the tests and benchmarks
// that bound it (harness.h includes it).
//   gort_test::OsThreads()    the process's OS threads now
//   gort_test::ThreadPeak p;  a plain thread sampling OsThreads() every
//     ...  p.Stop();          0.5 ms (or its argument, in us); Stop()
//                             returns the most it saw
#ifndef GORT_TESTS_THREADS_H
#define GORT_TESTS_THREADS_H

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace gort_test {

// The process's OS threads (/proc/self/status Threads:); -1 if unknown.
inline int OsThreads() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return -1;
}

// The most OS threads seen while it runs: a plain thread (a goroutine
// would sample only when it gets a P) reading OsThreads() every
// interval_us (0.5 ms: each look costs about 20 us of CPU).
// Its own thread is among those counted, from the first sample on.
class ThreadPeak {
 public:
  explicit ThreadPeak(useconds_t interval_us = 500) : peak_(OsThreads()), t_([this, interval_us] {
    while (!stop_.load(std::memory_order_relaxed)) {
      int n = OsThreads();
      if (n > peak_.load(std::memory_order_relaxed)) peak_.store(n, std::memory_order_relaxed);
      usleep(interval_us);
    }
  }) {}
  ~ThreadPeak() { Stop(); }
  ThreadPeak(const ThreadPeak&) = delete;
  ThreadPeak& operator=(const ThreadPeak&) = delete;

  int Stop() {
    stop_.store(true);
    if (t_.joinable()) t_.join();
    return peak_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> peak_;
  std::thread t_;
};

}  // namespace gort_test

#endif  // GORT_TESTS_THREADS_H
