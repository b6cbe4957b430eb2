// io_test — the netpoller, system call hand-off and locked threads
// (issue: netpoller, blocking system calls, locked threads).
//   - An echo server on loopback, one goroutine per connection: 1,000
//     clients x 100 messages, every byte checked; a client that leaves
//     mid-message; a slow reader (the server's write parks and resumes).
//   - Timeouts on accept and read; timeout 0 does not wait.
//   - gort_fd_close wakes every goroutine parked on the descriptor, ends
//     calls that arrive while it runs (one P; a reader and a writer in
//     loops, 300 rounds) and plain threads blocked in poll, all with
//     -EBADF; a second close meanwhile is -EBADF and closes nothing.
//   - A call queued behind another of its direction keeps its timeout
//     (0: -EAGAIN; 20 ms: -ETIMEDOUT), for read, write and accept, from a
//     goroutine and from a plain thread.
//   - Plain threads use the same calls (they block in poll).
//   - With one P, a goroutine blocked in a wrapped read() of a pipe does
//     not stop the others (its P is handed off).
//   - A locked goroutine stays on its thread across 10,000 parks.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;
using gort_test::Procs;
using gort_test::Scale;

class Io : public gort_test::Test {};

// A listening socket on 127.0.0.1, any port; returns its fd and port.
int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) return -1;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return gort_fd_open(fd) == 0 ? fd : -1;
}

int Dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int rc = gort_connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a, 5000000000);
  if (rc != 0) {
    gort_fd_close(fd);
    return rc;
  }
  return fd;
}

// Echo everything until EOF or an error, then close.
void EchoConn(int c) {
  char buf[4096];
  for (;;) {
    ssize_t n = gort_read(c, buf, sizeof buf, -1);
    if (n <= 0 || gort_write(c, buf, (size_t)n, -1) != n) break;
  }
  gort_fd_close(c);
}

// Accept until the listener is closed (-EBADF); return when every
// connection's goroutine has.
void Serve(int lfd) {
  gort_test::Group conns;
  for (;;) {
    int c = gort_accept(lfd, nullptr, nullptr, -1);
    if (c < 0) break;
    conns.Go([c] { EchoConn(c); });
  }
  conns.Wait();
}

TEST_F(Io, EchoThousandConnectionsEveryByteChecked) {
  const int kClients = (int)Scale(1000), kMessages = 100;
  std::atomic<long> bad{0}, echoed{0};
  Main([&] {
    uint16_t port;
    int lfd = Listen(&port);
    ASSERT_GE(lfd, 0);
    gort_test::Group server, clients;
    server.Go([&] { Serve(lfd); });
    for (int i = 0; i < kClients; i++) {
      clients.Go([&, i] {
        int fd = Dial(port);
        if (fd < 0) {
          bad++;
          return;
        }
        char out[64], in[64];
        for (int m = 0; m < kMessages; m++) {
          for (int k = 0; k < 64; k++) out[k] = (char)(i * 31 + m * 7 + k);
          if (gort_write(fd, out, sizeof out, -1) != (ssize_t)sizeof out) {
            bad++;
            break;
          }
          size_t got = 0;
          while (got < sizeof in) {
            ssize_t n = gort_read(fd, in + got, sizeof in - got, -1);
            if (n <= 0) break;
            got += (size_t)n;
          }
          if (got != sizeof in || memcmp(in, out, sizeof in) != 0) {
            bad++;
            break;
          }
          echoed++;
        }
        gort_fd_close(fd);
      });
    }
    clients.Wait();
    gort_fd_close(lfd);  // wakes Serve's accept with -EBADF
    server.Wait();
  });
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(echoed.load(), (long)kClients * kMessages);
}

TEST_F(Io, ClientLeavingMidMessageEndsOnlyItsConnection) {
  Main([] {
    uint16_t port;
    int lfd = Listen(&port);
    ASSERT_GE(lfd, 0);
    std::atomic<ssize_t> last{1};
    gort_test::Group wg;
    wg.Go([&] {
      int c = gort_accept(lfd, nullptr, nullptr, -1);
      char buf[64];
      ssize_t n, total = 0;
      while ((n = gort_read(c, buf, sizeof buf, -1)) > 0) total += n;
      last = n;  // 0 (EOF) or -ECONNRESET
      EXPECT_EQ(total, 10);
      gort_fd_close(c);
    });
    int fd = Dial(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(gort_write(fd, "half a mes", 10, -1), 10);
    gort_fd_close(fd);
    wg.Wait();
    EXPECT_TRUE(last == 0 || last == -ECONNRESET) << last;
    gort_fd_close(lfd);
  });
}

// The server writes 8 MiB to a client that reads 4 KiB at a time with
// pauses: the server's write parks when the socket buffer fills, and
// resumes; every byte arrives in order.
TEST_F(Io, SlowReaderParksTheWriter) {
  const size_t kBytes = 8u << 20;
  Main([&] {
    uint16_t port;
    int lfd = Listen(&port);
    ASSERT_GE(lfd, 0);
    gort_test::Group wg;
    wg.Go([&] {
      int c = gort_accept(lfd, nullptr, nullptr, -1);
      std::string data(kBytes, 0);
      for (size_t i = 0; i < kBytes; i++) data[i] = (char)(i * 131 >> 3);
      EXPECT_EQ(gort_write(c, data.data(), data.size(), -1), (ssize_t)kBytes);
      gort_fd_close(c);
    });
    int fd = Dial(port);
    ASSERT_GE(fd, 0);
    size_t got = 0;
    bool same = true;
    char buf[4096];
    for (int reads = 0;; reads++) {
      ssize_t n = gort_read(fd, buf, sizeof buf, -1);
      if (n <= 0) break;
      for (ssize_t k = 0; k < n; k++) same &= buf[k] == (char)((got + (size_t)k) * 131 >> 3);
      got += (size_t)n;
      if (reads % 256 == 0) gort_sleep(1000000);  // slow
    }
    EXPECT_EQ(got, kBytes);
    EXPECT_TRUE(same);
    gort_fd_close(fd);
    wg.Wait();
    gort_fd_close(lfd);
  });
}

TEST_F(Io, TimeoutsOnAcceptAndRead) {
  Main([] {
    uint16_t port;
    int lfd = Listen(&port);
    ASSERT_GE(lfd, 0);
    EXPECT_EQ(gort_accept(lfd, nullptr, nullptr, 0), -EAGAIN);
    int64_t t0 = gort_now();
    EXPECT_EQ(gort_accept(lfd, nullptr, nullptr, 20000000), -ETIMEDOUT);
    EXPECT_GE(gort_now() - t0, 20000000);
    int fd = Dial(port);
    ASSERT_GE(fd, 0);
    int c = gort_accept(lfd, nullptr, nullptr, -1);
    ASSERT_GE(c, 0);
    char b;
    EXPECT_EQ(gort_read(c, &b, 1, 0), -EAGAIN);
    t0 = gort_now();
    EXPECT_EQ(gort_read(c, &b, 1, 20000000), -ETIMEDOUT);
    EXPECT_GE(gort_now() - t0, 20000000);
    // After a timeout the descriptor still works.
    ASSERT_EQ(gort_write(fd, "x", 1, -1), 1);
    EXPECT_EQ(gort_read(c, &b, 1, 1000000000), 1);
    EXPECT_EQ(b, 'x');
    gort_fd_close(c);
    gort_fd_close(fd);
    gort_fd_close(lfd);
  });
}

TEST_F(Io, CloseWakesEveryParkedGoroutine) {
  Main([] {
    uint16_t port;
    int lfd = Listen(&port);
    ASSERT_GE(lfd, 0);
    int fd = Dial(port);
    ASSERT_GE(fd, 0);
    int c = gort_accept(lfd, nullptr, nullptr, -1);
    std::atomic<int> ebadf{0};
    gort_test::Group wg;
    for (int i = 0; i < 3; i++) {  // one in read, two queued behind it
      wg.Go([&] {
        char b;
        if (gort_read(c, &b, 1, -1) == -EBADF) ebadf++;
      });
    }
    wg.Go([&] {
      if (gort_accept(lfd, nullptr, nullptr, -1) == -EBADF) ebadf++;
    });
    gort_sleep(20000000);  // let them park
    EXPECT_EQ(gort_fd_close(c), 0);
    EXPECT_EQ(gort_fd_close(lfd), 0);
    wg.Wait();
    EXPECT_EQ(ebadf.load(), 4);
    gort_fd_close(fd);
  });
}

TEST_F(Io, BadArguments) {
  char b;
  EXPECT_EQ(gort_read(-1, &b, 1, -1), -EBADF);
  EXPECT_EQ(gort_write(-1, &b, 1, -1), -EBADF);
  EXPECT_EQ(gort_fd_open(-5), -EBADF);
  EXPECT_EQ(gort_accept(-1, nullptr, nullptr, -1), -EBADF);
  EXPECT_EQ(gort_connect(-1, nullptr, 0, -1), -EBADF);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(gort_read(p[0], nullptr, 1, -1), -EFAULT);
  EXPECT_EQ(gort_connect(p[0], nullptr, 0, -1), -EFAULT);
  EXPECT_EQ(gort_accept(p[0], nullptr, nullptr, 0), -ENOTSOCK);
  gort_fd_close(p[0]);
  gort_fd_close(p[1]);
  uint16_t port;
  Main([&] {
    int lfd = Listen(&port);
    gort_fd_close(lfd);  // nobody listens there now
    EXPECT_EQ(Dial(port), -ECONNREFUSED);
  });
}

// A pipe whose reader is gone: -EPIPE, as for a socket, and no SIGPIPE
// (which would kill the process) left raised or pending — from a goroutine
// and from a plain thread.  A SIGPIPE already pending stays pending.
TEST_F(Io, WriteToABrokenPipeIsEpipeNotSigpipe) {
  // pending_after: whether SIGPIPE must be pending after the write (only
  // when it already was).
  auto check = [](bool pending_after) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(gort_fd_open(p[1]), 0);
    close(p[0]);
    char b = 'x';
    EXPECT_EQ(gort_write(p[1], &b, 1, -1), -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE) == 1, pending_after);
    gort_fd_close(p[1]);
  };
  Main([&] { check(false); });
  check(false);
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  pthread_kill(pthread_self(), SIGPIPE);  // the program's own, pending
  check(true);
  int sig;
  sigwait(&pipe_set, &sig);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// A plain thread on one end of a socket pair, a goroutine on the other.
TEST_F(Io, PlainThreadsBlockInPoll) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::thread t([&] {
    char buf[5];
    size_t got = 0;
    while (got < 5) {
      ssize_t n = gort_read(sv[0], buf + got, 5 - got, -1);
      ASSERT_GT(n, 0);
      got += (size_t)n;
    }
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_EQ(gort_write(sv[0], "world", 5, -1), 5);
    char b;
    EXPECT_EQ(gort_read(sv[0], &b, 1, 10000000), -ETIMEDOUT);
  });
  Main([&] {
    gort_sleep(10000000);
    EXPECT_EQ(gort_write(sv[1], "hello", 5, -1), 5);
    char buf[5];
    size_t got = 0;
    while (got < 5) {
      ssize_t n = gort_read(sv[1], buf + got, 5 - got, -1);
      ASSERT_GT(n, 0);
      got += (size_t)n;
    }
    EXPECT_EQ(std::string(buf, 5), "world");
  });
  t.join();
  gort_fd_close(sv[0]);
  gort_fd_close(sv[1]);
}

// What a thread wrote before writing to a pipe happens before what the
// goroutine reading the pipe does next, both ways, as with libc's read and
// write (ThreadSanitizer checks it: the runtime's calls carry TSan's
// descriptor edges, os/sys.h).
TEST_F(Io, DataHandedOverThroughAPipeIsOrdered) {
  int to_g[2], from_g[2];
  ASSERT_EQ(pipe(to_g), 0);
  ASSERT_EQ(pipe(from_g), 0);
  std::vector<int> plain(1024, 0);  // not atomic: the pipe orders it
  std::thread t([&] {
    usleep(20000);  // the goroutine parks first
    for (int i = 0; i < 1024; i++) plain[i] = i;
    ASSERT_EQ(write(to_g[1], "a", 1), 1);
    char b;
    ASSERT_EQ(read(from_g[0], &b, 1), 1);
    for (int i = 0; i < 1024; i++) EXPECT_EQ(plain[i], 2 * i);
  });
  Main([&] {
    char b;
    EXPECT_EQ(gort_read(to_g[0], &b, 1, -1), 1);
    for (int i = 0; i < 1024; i++) {
      EXPECT_EQ(plain[i], i);
      plain[i] = 2 * i;
    }
    EXPECT_EQ(gort_write(from_g[1], "b", 1, -1), 1);
  });
  t.join();
  gort_fd_close(to_g[0]);
  gort_fd_close(from_g[1]);
  close(to_g[1]);
  close(from_g[0]);
}

// Regular files cannot be polled: gort_read/gort_write still work on them.
TEST_F(Io, RegularFiles) {
  char path[] = "/tmp/gort_io_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  Main([&] {
    std::string data(100000, 'z');
    EXPECT_EQ(gort_write(fd, data.data(), data.size(), -1), (ssize_t)data.size());
    lseek(fd, 0, SEEK_SET);
    std::string back(100000, 0);
    size_t got = 0;
    ssize_t n;
    while ((n = gort_read(fd, &back[got], back.size() - got, -1)) > 0) got += (size_t)n;
    EXPECT_EQ(n, 0);
    EXPECT_EQ(back, data);
  });
  EXPECT_EQ(gort_fd_close(fd), 0);
}

// With one P, a goroutine blocked in a plain read() of a pipe, wrapped in
// gort_syscall_enter/exit, does not stop two others doing 1,000 channel
// round trips: sysmon hands its P to another thread.
TEST_F(Io, BlockedSystemCallHandsOffItsP) {
  Procs one(1);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  Main([&] {
    std::atomic<bool> reader_done{false};
    gort_test::Group wg;
    wg.Go([&] {
      char b;
      gort_syscall_enter();
      ssize_t n = read(p[0], &b, 1);  // blocks until the write below
      gort_syscall_exit();
      EXPECT_EQ(n, 1);
      reader_done = true;
    });
    gort_sleep(5000000);  // the reader is in read() now
    gort_chan *ping = gort_chan_make(sizeof(int), 0), *pong = gort_chan_make(sizeof(int), 0);
    gort_chan* done = gort_chan_make(sizeof(int), 1);
    gort_test::Group pair;  // both gone before the frees
    pair.Go([&] {
      int v;
      for (int i = 0; i < 1000; i++) {
        gort_chan_recv(ping, &v);
        gort_chan_send(pong, &v);
      }
    });
    pair.Go([&] {
      for (int i = 0; i < 1000; i++) {
        int v = i;
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
      }
      int one = 1;
      gort_chan_send(done, &one);
    });
    int v;
    // Generous: without the hand-off this never completes.
    EXPECT_EQ(gort_chan_recv_timeout(done, &v, 30000000000), 0);
    EXPECT_FALSE(reader_done.load());
    ASSERT_EQ(write(p[1], "x", 1), 1);
    wg.Wait();
    pair.Wait();
    EXPECT_TRUE(reader_done.load());
    gort_chan_free(ping);
    gort_chan_free(pong);
    gort_chan_free(done);
  });
  close(p[0]);
  close(p[1]);
}

// Timeouts of a few nanoseconds race the publication of the waiter: each
// must still end the wait (a lost timeout would hang this test).
TEST_F(Io, TinyTimeoutsAlwaysEndTheWait) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Main([&] {
    gort_test::Group wg;
    std::atomic<int> bad{0};
    for (int g = 0; g < 4; g++) {
      wg.Go([&, g] {
        char b;
        for (int i = 0; i < (int)Scale(2000); i++) {
          ssize_t r = gort_read(sv[g % 2], &b, 1, 1 + i % 3000);
          if (r != -ETIMEDOUT) bad++;
        }
      });
    }
    wg.Wait();
    EXPECT_EQ(bad.load(), 0);
  });
  gort_fd_close(sv[0]);
  gort_fd_close(sv[1]);
}

long Tid() { return (long)syscall(SYS_gettid); }

// A locked goroutine whose P was retaken during a system call, with no
// idle P when the call ends, waits for its own thread to get a P back.
TEST_F(Io, LockedGoroutineSurvivesASyscallHandoff) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinner keeps the only P)";
  Procs one(1);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  Main([&] {
    std::atomic<bool> stop{false};
    std::atomic<long> tid_before{0}, tid_after{0};
    gort_test::Group wg;
    wg.Go([&] {
      gort_lock_os_thread();
      tid_before = Tid();
      char b;
      gort_syscall_enter();
      ssize_t n = read(p[0], &b, 1);  // its P is handed off meanwhile
      gort_syscall_exit();
      EXPECT_EQ(n, 1);
      tid_after = Tid();
      gort_unlock_os_thread();
      stop = true;
    });
    wg.Go([&] {  // keeps the only P busy; preemption lets the locked one back
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
    gort_sleep(20000000);
    ASSERT_EQ(write(p[1], "x", 1), 1);
    wg.Wait();
    EXPECT_EQ(tid_before.load(), tid_after.load());
  });
  close(p[0]);
  close(p[1]);
}

// A locked goroutine keeps its goroutine id and OS thread across 10,000
// parks, and its thread runs no other goroutine meanwhile.
TEST_F(Io, LockedGoroutineStaysOnItsThread) {
  const int kParks = 10000;
  std::atomic<long> locked_tid{0};
  std::atomic<int> moved{0}, intruders{0};
  Main([&] {
    gort_chan *ping = gort_chan_make(sizeof(int), 0), *pong = gort_chan_make(sizeof(int), 0);
    gort_test::Group wg;
    wg.Go([&] {
      EXPECT_EQ(gort_lock_os_thread(), 0);
      uint64_t self = gort_self();
      locked_tid = Tid();
      int v;
      for (int i = 0; i < kParks; i++) {
        gort_chan_recv(ping, &v);  // parks
        if (Tid() != locked_tid.load() || gort_self() != self) moved++;
        gort_chan_send(pong, &v);
      }
      EXPECT_EQ(gort_unlock_os_thread(), 0);
      EXPECT_EQ(gort_unlock_os_thread(), -EPERM);
    });
    wg.Go([&] {
      for (int i = 0; i < kParks; i++) {
        int v = i;
        gort_chan_send(ping, &v);
        if (Tid() == locked_tid.load()) intruders++;
        gort_chan_recv(pong, &v);
      }
    });
    wg.Wait();
    gort_chan_free(ping);
    gort_chan_free(pong);
  });
  EXPECT_EQ(moved.load(), 0);
  EXPECT_EQ(intruders.load(), 0);
  EXPECT_EQ(gort_lock_os_thread(), -EPERM);  // a plain thread
}

// ---- gort_fd_close against calls in flight, and queued calls' timeouts ----

constexpr int64_t kMs = 1000000;

// Waits (from a goroutine) at most 10 s for one value on done; on timeout
// the test fails, rescue() unsticks whatever hung, and the wait goes on, so
// a regression fails the test instead of hanging it.
void AwaitOrRescue(gort_chan* done, const char* what, const std::function<void()>& rescue) {
  if (gort_chan_recv_timeout(done, nullptr, 10000 * kMs) == 0) return;
  ADD_FAILURE() << what << " did not return within 10 s";
  rescue();
  gort_chan_recv(done, nullptr);
}

// Runs fn on a new goroutine, or on a new plain thread, signalling done.
void Start(bool thread, gort_chan* done, std::function<void()> fn, std::vector<std::thread>* threads) {
  auto body = [done, fn] {
    fn();
    gort_chan_send(done, nullptr);
  };
  if (thread)
    threads->emplace_back(body);
  else
    ASSERT_EQ(Go(body), 0);
}

// With one P: goroutine A is parked reading fd, gort_fd_close(fd) wakes it
// and waits for it, and goroutine B calls gort_read(fd) meanwhile.  Both
// get -EBADF and the close returns 0; B's call must not register the
// descriptor afresh (the close then waited for B for ever).  The number,
// reused by the next socketpair, is then a working descriptor.
TEST_F(Io, CloseWhileANewCallArrivesOneP) {
  Procs one(1);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  const int fd = sv[0];
  Main([&] {
    ASSERT_EQ(gort_fd_open(fd), 0);
    gort_chan* done = gort_chan_make(0, 3);
    std::atomic<ssize_t> ra{1}, rb{1};
    std::atomic<int> rc{1};
    ASSERT_EQ(Go([&] {
                char b;
                ra = gort_read(fd, &b, 1, -1);
                gort_chan_send(done, nullptr);
              }),
              0);
    gort_sleep(10 * kMs);  // A parks
    ASSERT_EQ(Go([&] {     // B: queued; runs once the closer yields
                char b;
                rb = gort_read(fd, &b, 1, -1);
                gort_chan_send(done, nullptr);
              }),
              0);
    ASSERT_EQ(Go([&] {  // the closer: runs first (runnext)
                rc = gort_fd_close(fd);
                gort_chan_send(done, nullptr);
              }),
              0);
    for (int i = 0; i < 3; i++)
      AwaitOrRescue(done, "a call or the close", [&] { EXPECT_EQ(write(sv[1], "x", 1), 1); });
    EXPECT_EQ(ra.load(), -EBADF);
    EXPECT_EQ(rb.load(), -EBADF);
    EXPECT_EQ(rc.load(), 0);
    gort_chan_free(done);
    close(sv[1]);
    // The lowest free numbers again: fd is one end of the new pair.
    int nv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0);
    EXPECT_TRUE(nv[0] == fd || nv[1] == fd);
    char b = 0;
    EXPECT_EQ(gort_write(nv[1], "y", 1, 1000 * kMs), 1);
    EXPECT_EQ(gort_read(nv[0], &b, 1, 1000 * kMs), 1);
    EXPECT_EQ(gort_write(nv[0], "z", 1, 1000 * kMs), 1);
    EXPECT_EQ(gort_read(nv[1], &b, 1, 1000 * kMs), 1);
    EXPECT_EQ(b, 'z');
    EXPECT_EQ(gort_fd_close(nv[0]), 0);
    EXPECT_EQ(gort_fd_close(nv[1]), 0);
  });
}

// Two gort_fd_close of one descriptor: the second, made while the first
// waits for a woken reader, is -EBADF and closes nothing; in particular not
// the number, which a socketpair made meanwhile would have been given.
TEST_F(Io, SecondCloseDuringTheFirstIsEbadfAndClosesNothing) {
  Procs one(1);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  const int fd = sv[0];
  Main([&] {
    ASSERT_EQ(gort_fd_open(fd), 0);
    gort_chan* done = gort_chan_make(0, 2);
    std::atomic<ssize_t> ra{1};
    std::atomic<int> rc{1};
    ASSERT_EQ(Go([&] {
                char b;
                ra = gort_read(fd, &b, 1, -1);
                gort_chan_send(done, nullptr);
              }),
              0);
    gort_sleep(10 * kMs);  // the reader parks
    ASSERT_EQ(Go([&] {
                rc = gort_fd_close(fd);
                gort_chan_send(done, nullptr);
              }),
              0);
    gort_yield();  // the first close wakes the reader and waits for it
    EXPECT_EQ(gort_fd_close(fd), -EBADF);
    int nv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0);
    for (int i = 0; i < 2; i++) AwaitOrRescue(done, "the reader or the first close", [&] { close(sv[1]); });
    EXPECT_EQ(ra.load(), -EBADF);
    EXPECT_EQ(rc.load(), 0);
    EXPECT_NE(fcntl(nv[0], F_GETFD), -1) << "a close closed a reused number";
    EXPECT_NE(fcntl(nv[1], F_GETFD), -1) << "a close closed a reused number";
    gort_chan_free(done);
    close(sv[1]);
    EXPECT_EQ(gort_fd_close(nv[0]), 0);
    EXPECT_EQ(gort_fd_close(nv[1]), 0);
  });
}

// Rounds of: a goroutine reading fd in a loop and another writing to it in
// a loop (a peer on the other end feeds the one and drains the other), and
// a close at a varying moment.  Each loop ends with -EBADF (a call parked
// or running when the close came, or arriving while it ran, or after it),
// and every close returns 0; none registers the descriptor again.
TEST_F(Io, CloseWhileOneReadsAndAnotherWrites) {
  const int kRounds = (int)Scale(300);
  Main([&] {
    gort_chan* done = gort_chan_make(0, 5);
    for (int round = 0; round < kRounds; round++) {
      int sv[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
      // Registered (and the poller started) now: a call that comes only
      // after the close returned then finds a closed number (-EBADF), not
      // one the poller's start reused.
      ASSERT_EQ(gort_fd_open(sv[0]), 0);
      ASSERT_EQ(gort_fd_open(sv[1]), 0);
      std::atomic<ssize_t> r{1}, w{1};
      auto loop = [&](bool writing, int fd, std::atomic<ssize_t>* last) {
        return [=, &done] {
          char buf[4096] = {0};
          ssize_t n;
          do {
            n = writing ? gort_write(fd, buf, sizeof buf, -1) : gort_read(fd, buf, sizeof buf, -1);
          } while (n > 0);
          if (last != nullptr) *last = n;
          gort_chan_send(done, nullptr);
        };
      };
      ASSERT_EQ(Go(loop(false, sv[0], &r)), 0);
      ASSERT_EQ(Go(loop(true, sv[0], &w)), 0);
      ASSERT_EQ(Go(loop(false, sv[1], nullptr)), 0);  // the peer: ends at EOF
      ASSERT_EQ(Go(loop(true, sv[1], nullptr)), 0);   // ... or at EPIPE
      for (int i = 0; i < round % 5; i++) gort_yield();
      if (round % 8 == 7) gort_sleep(1 * kMs);
      std::atomic<int> rc{1};
      ASSERT_EQ(Go([&] {  // the close, bounded
                  rc = gort_fd_close(sv[0]);
                  gort_chan_send(done, nullptr);
                }),
                0);
      for (int i = 0; i < 5; i++) AwaitOrRescue(done, "a call or the close", [&] { shutdown(sv[1], SHUT_RDWR); });
      EXPECT_EQ(r.load(), -EBADF) << "round " << round;
      EXPECT_EQ(w.load(), -EBADF) << "round " << round;
      EXPECT_EQ(rc.load(), 0) << "round " << round;
      EXPECT_EQ(gort_fd_close(sv[1]), 0);
      if (::testing::Test::HasFailure()) break;
    }
    gort_chan_free(done);
  });
}

// A plain thread blocked in gort_read (then in gort_write of a full
// socket) is woken by gort_fd_close with -EBADF, and the close returns.
TEST_F(Io, CloseWakesAPlainThreadBlockedInReadOrWrite) {
  for (bool writing : {false, true}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ASSERT_EQ(gort_fd_open(sv[0]), 0);
    std::atomic<ssize_t> r{1};
    std::atomic<bool> returned{false};
    std::string big(4u << 20, 'w');
    std::thread t([&] {
      char b;
      r = writing ? gort_write(sv[0], big.data(), big.size(), -1) : gort_read(sv[0], &b, 1, -1);
      returned = true;
    });
    gort_sleep(30 * kMs);  // it blocks in poll
    EXPECT_FALSE(returned.load());
    std::atomic<int> rc{1};
    std::atomic<bool> closed{false};
    std::thread closer([&] {
      rc = gort_fd_close(sv[0]);
      closed = true;
    });
    for (int i = 0; i < 10000 && !closed.load(); i++) gort_sleep(1 * kMs);
    EXPECT_TRUE(closed.load()) << (writing ? "write" : "read") << ": the close did not return within 10 s";
    if (!closed.load()) shutdown(sv[1], SHUT_RDWR);  // unstick the thread, and with it the close
    closer.join();
    t.join();
    EXPECT_EQ(r.load(), -EBADF) << (writing ? "write" : "read");
    EXPECT_EQ(rc.load(), 0);
    close(sv[1]);
  }
}

// While a call with no timeout waits on a descriptor, a second call of the
// same direction queues behind it: timeout 0 does not wait (-EAGAIN) and a
// timeout of 20 ms ends it with -ETIMEDOUT, from a goroutine and from a
// plain thread, for read, write and accept.  The first call stays parked,
// then completes, and the descriptor works afterwards.
enum class Kind { kRead, kWrite, kAccept };

void QueuedCallTimesOut(Kind kind) {
  const char* name = kind == Kind::kRead ? "read" : kind == Kind::kWrite ? "write" : "accept";
  Main([&] {
    uint16_t port = 0;
    int lfd = -1, sv[2] = {-1, -1};
    if (kind == Kind::kAccept) {
      lfd = Listen(&port);
      ASSERT_GE(lfd, 0);
    } else {
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
      ASSERT_EQ(gort_fd_open(sv[0]), 0);
    }
    const int fd = kind == Kind::kAccept ? lfd : sv[0];
    std::string big(4u << 20, 'w');
    auto call = [&](int64_t timeout) -> ssize_t {
      char b = 'q';
      switch (kind) {
        case Kind::kRead: return gort_read(fd, &b, 1, timeout);
        case Kind::kWrite: return gort_write(fd, &b, 1, timeout);
        default: {
          int c = gort_accept(fd, nullptr, nullptr, timeout);
          if (c >= 0) gort_fd_close(c);
          return c;
        }
      }
    };
    // Whatever lets the first call complete.
    std::atomic<int> peer{-1};
    std::thread drainer;
    auto unblock_first = [&] {
      if (kind == Kind::kRead) {
        EXPECT_EQ(write(sv[1], "abc", 3), 3);
      } else if (kind == Kind::kWrite) {
        if (drainer.joinable()) return;
        drainer = std::thread([&] {  // drain everything the first write sends
          std::vector<char> buf(1 << 16);
          size_t got = 0;
          while (got < big.size()) {
            ssize_t n = read(sv[1], buf.data(), buf.size());
            if (n <= 0) break;
            got += (size_t)n;
          }
        });
      } else {
        peer = Dial(port);
      }
    };
    gort_chan* done = gort_chan_make(0, 1);
    std::atomic<ssize_t> first{1};
    std::atomic<bool> first_done{false};
    ASSERT_EQ(Go([&] {
                first = kind == Kind::kWrite ? gort_write(fd, big.data(), big.size(), -1) : call(-1);
                first_done = true;
                gort_chan_send(done, nullptr);
              }),
              0);
    gort_sleep(20 * kMs);  // the first call parks (a write: once the socket is full)
    ASSERT_FALSE(first_done.load());
    gort_chan* second_done = gort_chan_make(0, 1);
    std::vector<std::thread> threads;
    for (bool thread : {false, true}) {
      const char* who = thread ? "a plain thread" : "a goroutine";
      std::atomic<ssize_t> r0{1}, r20{1};
      std::atomic<int64_t> waited{0};
      Start(thread, second_done,
            [&] {
              r0 = call(0);
              int64_t t0 = gort_now();
              r20 = call(20 * kMs);
              waited = gort_now() - t0;
            },
            &threads);
      AwaitOrRescue(second_done, "a queued call with a timeout", unblock_first);
      EXPECT_EQ(r0.load(), -EAGAIN) << name << " from " << who;
      EXPECT_EQ(r20.load(), -ETIMEDOUT) << name << " from " << who;
      EXPECT_GE(waited.load(), 20 * kMs) << name << " from " << who;
      EXPECT_LT(waited.load(), 5000 * kMs) << name << " from " << who;
      EXPECT_FALSE(first_done.load()) << name << ": the first call stopped waiting";
    }
    for (auto& t : threads) t.join();
    threads.clear();
    if (!first_done.load()) unblock_first();
    AwaitOrRescue(done, "the first call", [&] {});
    if (kind == Kind::kRead) {
      EXPECT_EQ(first.load(), 1);
    } else if (kind == Kind::kWrite) {
      EXPECT_EQ(first.load(), (ssize_t)big.size());
    } else {
      EXPECT_GE(first.load(), 0);
    }
    // The descriptor works afterwards, for both kinds of caller.
    for (bool thread : {false, true}) {
      std::atomic<ssize_t> r{-1};
      int extra = -1;
      if (kind == Kind::kAccept) extra = Dial(port);
      Start(thread, second_done, [&] { r = call(1000 * kMs); }, &threads);
      AwaitOrRescue(second_done, "a call after the timeouts", [&] {});
      EXPECT_GE(r.load(), kind == Kind::kAccept ? 0 : 1) << name << " afterwards, thread " << thread;
      if (kind == Kind::kRead) {
        EXPECT_EQ(write(sv[1], "d", 1), 1);  // for the next round's read
      }
      if (extra >= 0) gort_fd_close(extra);
    }
    for (auto& t : threads) t.join();
    if (drainer.joinable()) drainer.join();
    if (peer.load() >= 0) gort_fd_close(peer.load());
    gort_chan_free(done);
    gort_chan_free(second_done);
    gort_fd_close(fd);
    if (sv[1] >= 0) close(sv[1]);
  });
}

TEST_F(Io, QueuedReadTimesOut) { QueuedCallTimesOut(Kind::kRead); }
TEST_F(Io, QueuedWriteTimesOut) { QueuedCallTimesOut(Kind::kWrite); }
TEST_F(Io, QueuedAcceptTimesOut) { QueuedCallTimesOut(Kind::kAccept); }

}  // namespace
