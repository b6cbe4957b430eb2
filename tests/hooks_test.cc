// hooks_test — //runtime:gort_hooks: libc's blocking calls, made from a
// goroutine, park it instead of its thread, and give exactly libc's
// results and errno (the same sequence of calls gives the same answers on
// a plain thread and on a goroutine).  Real libraries: hooks_curl_test,
// hooks_redis_test; LD_PRELOAD and pkg-config: .ci/run's install step.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness.h"

extern "C" int* gort_test_read_keeping_errno(int fd, void* buf, size_t n);

namespace {

using gort_test::Main;
using gort_test::OsThreads;
using gort_test::Procs;

class Hooks : public gort_test::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
};

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
  }
};

void MakePipe(Fds* p) { ASSERT_EQ(pipe(p->fd), 0); }
void MakeSocketPair(Fds* p, int type = SOCK_STREAM) { ASSERT_EQ(socketpair(AF_UNIX, type, 0, p->fd), 0); }

// A TCP listener on 127.0.0.1 on a port the kernel picks.
int Listen(int* port, bool nonblocking = false) {
  int s = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || bind(s, (sockaddr*)&a, sizeof a) != 0 || listen(s, 128) != 0 ||
      getsockname(s, (sockaddr*)&a, &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return s;
}

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  return a;
}

// With one P, goroutines blocked in plain read() of empty pipes leave the
// P to the others: the writer goroutine runs, and every reader gets its
// byte, on no more threads than with no reader blocked.  Without the
// hooks each read holds a thread (and, from the first ms, a lent P).
TEST_F(Hooks, ReadsOfPipesParkTheirGoroutine) {
  Procs scope(1);
  constexpr int kReaders = 200;
  std::vector<Fds> pipes(kReaders);
  for (auto& p : pipes) MakePipe(&p);
  int before = OsThreads();
  int most = 0;
  Main([&] {
    gort_test::Group readers;
    std::atomic<int> got{0};
    for (int i = 0; i < kReaders; i++) {
      int fd = pipes[i].fd[0];
      readers.Go([fd, i, &got] {
        char c = 0;
        ASSERT_EQ(read(fd, &c, 1), 1);
        EXPECT_EQ(c, (char)('a' + i % 26));
        got++;
      });
    }
    gort_sleep(20 * 1000 * 1000);  // every reader is parked by now
    most = OsThreads();
    EXPECT_EQ(got.load(), 0);
    for (int i = 0; i < kReaders; i++) {
      char c = (char)('a' + i % 26);
      ASSERT_EQ(write(pipes[i].fd[1], &c, 1), 1);
    }
    readers.Wait();
    EXPECT_EQ(got.load(), kReaders);
  });
  // The runtime's own threads: the one M with the P, sysmon, the timer
  // sleeper, and one spare (a parking M starting another).
  EXPECT_LE(most - before, 4) << "threads before " << before << ", with " << kReaders << " readers parked " << most;
}

// (result, errno) of each call in a fixed sequence.
using Answers = std::vector<std::pair<long, int>>;

// errno through a fresh lookup: a caller that took errno's address before
// a hooked call that parked, and kept it on its stack, would read the
// first thread's (docs/blocking.md; registers are moved: below).
void Record(Answers* a, long r) { a->push_back({r, r < 0 ? gort_test::ReadErrno() : 0}); }

// The sequence: every hooked call in the cases where libc's answer is
// easy to get wrong (EAGAIN on descriptors the program made non-blocking,
// EPIPE, ECONNREFUSED, EBADF, socket timeouts, partial reads and writes,
// poll/select answers and timeouts, bad arguments).
Answers Sequence() {
  Answers a;
  char buf[256];
  errno = 0;
  {  // a pipe: partial read, end of file, EPIPE
    Fds p;
    MakePipe(&p);
    Record(&a, write(p.fd[1], "hello", 5));
    Record(&a, read(p.fd[0], buf, sizeof buf));
    close(p.fd[1]);
    p.fd[1] = -1;
    Record(&a, read(p.fd[0], buf, sizeof buf));
    Fds q;
    MakePipe(&q);
    close(q.fd[0]);
    q.fd[0] = -1;
    Record(&a, write(q.fd[1], "x", 1));  // EPIPE (SIGPIPE ignored)
  }
  {  // made non-blocking by the program: fcntl, ioctl FIONBIO, SOCK_NONBLOCK
    Fds p;
    MakePipe(&p);
    fcntl(p.fd[0], F_SETFL, fcntl(p.fd[0], F_GETFL) | O_NONBLOCK);
    Record(&a, read(p.fd[0], buf, 1));
    Fds s;
    MakeSocketPair(&s);
    int on = 1;
    ioctl(s.fd[0], FIONBIO, &on);
    Record(&a, recv(s.fd[0], buf, 1, 0));
    Record(&a, read(s.fd[0], buf, 1));
    Fds t;
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t.fd), 0);
    Record(&a, recvfrom(t.fd[0], buf, 1, 0, nullptr, nullptr));
    struct pollfd pf = {t.fd[0], POLLIN, 0};
    Record(&a, poll(&pf, 1, 0));
    Record(&a, recv(s.fd[1], buf, 1, MSG_DONTWAIT));  // blocking socket, non-blocking call
    // A full non-blocking socket: a partial write, then EAGAIN.
    int small = 4096;
    setsockopt(s.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    std::vector<char> big(1 << 20, 'z');
    long w = write(s.fd[0], big.data(), big.size());
    a.push_back({w > 0 && w < (long)big.size(), 0});
    Record(&a, write(s.fd[0], big.data(), big.size()));
  }
  {  // socket timeouts: SO_RCVTIMEO read, SO_SNDTIMEO write of a full buffer
    Fds s;
    MakeSocketPair(&s);
    timeval tv = {0, 30 * 1000};
    setsockopt(s.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    Record(&a, read(s.fd[0], buf, 1));
    Record(&a, recv(s.fd[0], buf, 1, 0));
    setsockopt(s.fd[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::vector<char> big(8 << 20, 'z');
    long w = write(s.fd[0], big.data(), big.size());  // partial: the count so far
    a.push_back({w > 0 && w < (long)big.size(), 0});
    Record(&a, send(s.fd[0], big.data(), big.size(), 0));  // nothing fits: EAGAIN
  }
  {  // datagrams: one each, MSG_WAITALL on a stream
    Fds s;
    MakeSocketPair(&s, SOCK_DGRAM);
    Record(&a, send(s.fd[1], "abc", 3, 0));
    Record(&a, send(s.fd[1], "de", 2, 0));
    Record(&a, recv(s.fd[0], buf, sizeof buf, 0));
    Record(&a, recv(s.fd[0], buf, sizeof buf, 0));
    Fds t;
    MakeSocketPair(&t);
    Record(&a, write(t.fd[1], "0123456789", 10));
    Record(&a, recv(t.fd[0], buf, 10, MSG_WAITALL));
    Record(&a, memcmp(buf, "0123456789", 10));
  }
  {  // readv / writev, sendmsg / recvmsg, with a descriptor passed along
    Fds s;
    MakeSocketPair(&s);
    char x[3] = {'a', 'b', 'c'}, y[4] = {'d', 'e', 'f', 'g'};
    iovec out[2] = {{x, 3}, {y, 4}};
    Record(&a, writev(s.fd[1], out, 2));
    char r1[2], r2[10];
    iovec in[2] = {{r1, 2}, {r2, 10}};
    Record(&a, readv(s.fd[0], in, 2));
    Record(&a, memcmp(r2, "cdefg", 5));
    Fds p;
    MakePipe(&p);
    union {
      char b[CMSG_SPACE(sizeof(int))];
      cmsghdr align;
    } ctl{};
    msghdr m{};
    iovec one = {x, 1};
    m.msg_iov = &one;
    m.msg_iovlen = 1;
    m.msg_control = ctl.b;
    m.msg_controllen = sizeof ctl.b;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p.fd[1], sizeof(int));
    Record(&a, sendmsg(s.fd[1], &m, 0));
    msghdr rm{};
    char got;
    iovec gi = {&got, 1};
    rm.msg_iov = &gi;
    rm.msg_iovlen = 1;
    union {
      char b[CMSG_SPACE(sizeof(int))];
      cmsghdr align;
    } rctl{};
    rm.msg_control = rctl.b;
    rm.msg_controllen = sizeof rctl.b;
    Record(&a, recvmsg(s.fd[0], &rm, 0));
    int passed = -1;
    if (CMSG_FIRSTHDR(&rm) != nullptr) memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&rm)), sizeof(int));
    Record(&a, write(passed, "q", 1));  // the pipe's write end, passed
    Record(&a, read(p.fd[0], buf, 1));
    close(passed);
  }
  {  // TCP: ECONNREFUSED, connect/accept, EPIPE after the peer closed
    int port = 0;
    int l = Listen(&port);
    Record(&a, l >= 0);
    close(l);  // nobody listens on port now
    int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to = Loopback(port);
    Record(&a, connect(c, (sockaddr*)&to, sizeof to));
    close(c);
    l = Listen(&port);
    to = Loopback(port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    Record(&a, connect(c, (sockaddr*)&to, sizeof to));
    int s = accept(l, nullptr, nullptr);
    Record(&a, s >= 0);
    Record(&a, send(c, "ping", 4, 0));
    Record(&a, recv(s, buf, sizeof buf, 0));
    close(s);
    usleep(20 * 1000);  // the FIN arrives
    Record(&a, send(c, "x", 1, 0));  // the peer's reset comes back...
    usleep(20 * 1000);
    long r = send(c, "x", 1, 0);  // ...and then EPIPE (or ECONNRESET)
    int e = gort_test::ReadErrno();
    a.push_back({r, r < 0 && (e == EPIPE || e == ECONNRESET) ? EPIPE : e});
    close(c);
    {  // a connect past SO_SNDTIMEO (a listener whose backlog is full): EINPROGRESS
      int full = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in fa = Loopback(0);
      socklen_t fl = sizeof fa;
      bind(full, (sockaddr*)&fa, sizeof fa);
      listen(full, 0);
      getsockname(full, (sockaddr*)&fa, &fl);
      std::vector<int> fill;
      for (int i = 0; i < 4; i++) {  // non-blocking: they never wait
        int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(f, (sockaddr*)&fa, sizeof fa);
        fill.push_back(f);
      }
      usleep(20 * 1000);
      int late = socket(AF_INET, SOCK_STREAM, 0);
      timeval tv = {0, 50 * 1000};
      setsockopt(late, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      Record(&a, connect(late, (sockaddr*)&fa, sizeof fa));
      close(late);
      for (int f : fill) close(f);
      close(full);
    }
    int nl = Listen(&port, true);
    Record(&a, accept(nl, nullptr, nullptr));  // non-blocking: EAGAIN
    Record(&a, accept4(nl, nullptr, nullptr, SOCK_CLOEXEC));
    close(nl);
    close(l);
  }
  {  // poll, ppoll, select: answers and timeouts
    Fds p;
    MakePipe(&p);
    struct pollfd pf[2] = {{p.fd[0], POLLIN, 0}, {p.fd[1], POLLOUT, 0}};
    Record(&a, poll(pf, 2, 20));
    Record(&a, pf[0].revents | pf[1].revents << 8);
    pf[1].events = 0;
    Record(&a, poll(pf, 2, 20));  // nothing: the timeout
    timespec ts = {0, 20 * 1000 * 1000};
    Record(&a, ppoll(pf, 1, &ts, nullptr));
    write(p.fd[1], "x", 1);
    Record(&a, poll(pf, 1, -1));
    Record(&a, pf[0].revents);
    read(p.fd[0], buf, 1);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p.fd[0], &rd);
    timeval tv = {0, 20 * 1000};
    Record(&a, select(p.fd[0] + 1, &rd, nullptr, nullptr, &tv));
    Record(&a, FD_ISSET(p.fd[0], &rd) != 0);
    Record(&a, tv.tv_sec == 0 && tv.tv_usec == 0);  // linux: the time not slept
    FD_SET(p.fd[0], &rd);
    write(p.fd[1], "x", 1);
    tv = {5, 0};
    Record(&a, select(p.fd[0] + 1, &rd, nullptr, nullptr, &tv));
    Record(&a, FD_ISSET(p.fd[0], &rd) != 0);
    struct pollfd bad = {1 << 20, POLLIN, 0};
    Record(&a, poll(&bad, 1, 10));
    Record(&a, bad.revents);
    Record(&a, poll(nullptr, 0, 10));  // poll as a sleep
  }
  {  // epoll_wait, epoll_pwait, pselect: answers, timeouts, bad arguments
    Fds p;
    MakePipe(&p);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    Record(&a, epoll_ctl(ep, EPOLL_CTL_ADD, p.fd[0], &ev));
    epoll_event out[4] = {};
    Record(&a, epoll_wait(ep, out, 4, 20));  // nothing: the timeout
    write(p.fd[1], "x", 1);
    Record(&a, epoll_wait(ep, out, 4, -1));
    Record(&a, (long)out[0].data.u64);
    Record(&a, epoll_pwait(ep, out, 4, 20, nullptr));  // level-triggered: still ready
    read(p.fd[0], buf, 1);
    Record(&a, epoll_pwait(ep, out, 4, 20, nullptr));
    Record(&a, epoll_wait(ep, out, 0, 10));         // EINVAL
    Record(&a, epoll_wait(p.fd[0], out, 4, 10));    // EINVAL: not an epoll instance
    Record(&a, epoll_wait(1 << 20, out, 4, 10));    // EBADF
    close(ep);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p.fd[0], &rd);
    timespec ts = {0, 20 * 1000 * 1000};
    Record(&a, pselect(p.fd[0] + 1, &rd, nullptr, nullptr, &ts, nullptr));
    Record(&a, FD_ISSET(p.fd[0], &rd) != 0);
    Record(&a, ts.tv_nsec);  // pselect leaves its timeout alone
    FD_SET(p.fd[0], &rd);
    write(p.fd[1], "x", 1);
    Record(&a, pselect(p.fd[0] + 1, &rd, nullptr, nullptr, nullptr, nullptr));
    Record(&a, FD_ISSET(p.fd[0], &rd) != 0);
    timespec bad = {0, -1};
    Record(&a, pselect(p.fd[0] + 1, &rd, nullptr, nullptr, &bad, nullptr));  // EINVAL
    Record(&a, pselect(-1, nullptr, nullptr, nullptr, &ts, nullptr));         // EINVAL
  }
  {  // clock_nanosleep: its answer is the error number, errno untouched
    auto record = [&a](int r) { a.push_back({r, gort_test::ReadErrno()}); };
    gort_test::WriteErrno(0);  // (errno's address may be this function's stale copy)
    timespec ms = {0, 1000 * 1000};
    record(clock_nanosleep(CLOCK_MONOTONIC, 0, &ms, nullptr));
    record(clock_nanosleep(CLOCK_REALTIME, 0, &ms, nullptr));
    timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_nsec += 2 * 1000 * 1000;
    if (at.tv_nsec >= 1000000000) at.tv_sec++, at.tv_nsec -= 1000000000;
    record(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr));
    timespec past = {1, 0};
    record(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, nullptr));
    timespec bad = {0, 1000000000};
    record(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr));          // EINVAL
    record(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ms, nullptr));   // EINVAL
    record(clock_nanosleep(CLOCK_MONOTONIC, 0x100, &ms, nullptr));       // other flag bits: ignored (libc's call)
  }
  {  // bad descriptors and arguments
    Record(&a, read(-1, buf, 1));
    Record(&a, write(1 << 20, buf, 1));
    Record(&a, recv(1 << 20, buf, 1, 0));
    Record(&a, close(1 << 20));
    Fds p;
    MakePipe(&p);
    Record(&a, recv(p.fd[0], buf, 1, 0));  // ENOTSOCK
    Record(&a, connect(p.fd[0], nullptr, 0));
    timespec bad = {0, 1000000000};
    Record(&a, nanosleep(&bad, nullptr));
    timespec ok = {0, 1000000};
    Record(&a, nanosleep(&ok, nullptr));
    Record(&a, usleep(1000));
    Record(&a, sleep(0));
    iovec v = {buf, 1};
    volatile int negative = -1;  // (a constant -1 is a compile-time error)
    Record(&a, readv(p.fd[0], &v, negative));
  }
  {  // a regular file: read, write, poll all go to libc at once
    char path[] = "/tmp/gort-hooks-XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    Record(&a, write(f, "file", 4));
    Record(&a, lseek(f, 0, SEEK_SET));
    Record(&a, read(f, buf, sizeof buf));
    struct pollfd pf = {f, POLLIN, 0};
    Record(&a, poll(&pf, 1, -1));
    Record(&a, close(f));
  }
  return a;
}

std::string Show(const Answers& a) {
  std::string s;
  for (size_t i = 0; i < a.size(); i++)
    absl::StrAppend(&s, i, ": ", a[i].first, a[i].second != 0 ? absl::StrCat(" errno ", strerrorname_np(a[i].second)) : "", "\n");
  return s;
}

TEST_F(Hooks, SameAnswersOnAThreadAndOnAGoroutine) {
  Answers thread, goroutine;
  std::thread([&] { thread = Sequence(); }).join();
  Main([&] { goroutine = Sequence(); });
  ASSERT_EQ(thread.size(), goroutine.size());
  for (size_t i = 0; i < thread.size(); i++)
    EXPECT_EQ(thread[i], goroutine[i]) << "call " << i << "\nplain thread:\n" << Show(thread) << "goroutine:\n" << Show(goroutine);
  // And the goroutine's errno of a successful call is what it was.
  Main([] {
    errno = 1234;
    char c;
    Fds p;
    MakePipe(&p);
    write(p.fd[1], "x", 1);
    EXPECT_EQ(read(p.fd[0], &c, 1), 1);
    EXPECT_EQ(errno, 1234);
  });
}

// (noipa: GCC would find it const, like __errno_location, and reuse one answer.)
__attribute__((noipa)) int* ErrnoAddress() { return &errno; }

// A caller holding errno's address in a callee-saved register across a
// hooked read that parks and resumes on another thread finds the register
// moved to that thread's errno (the entry in runtime/hooks/entry_<cpu>.S).
TEST_F(Hooks, ErrnoAddressInARegisterFollowsTheThread) {
  Procs scope(4);
  int moved = 0, rounds = 300;
  Main([&] {
    for (int i = 0; i < rounds; i++) {
      Fds p;
      MakePipe(&p);
      gort_test::Group g;
      g.Go([&] {
        gort_sleep(100 * 1000);
        EXPECT_EQ(write(p.fd[1], "x", 1), 1);
        // Keep this M busy, so that another M takes the reader.
        for (int64_t end = gort_now() + 200 * 1000; gort_now() < end;) {
        }
      });
      g.Go([&] {
        char c = 0;
        int* before = ErrnoAddress();
        int* kept = gort_test_read_keeping_errno(p.fd[0], &c, 1);
        int* after = ErrnoAddress();
        EXPECT_EQ(c, 'x');
        EXPECT_EQ(kept, after);
        if (after != before) moved++;
      });
      g.Wait();
    }
  });
  std::printf("%d of %d reads resumed on another thread\n", moved, rounds);
  if (moved == 0) GTEST_SKIP() << "no read resumed on another thread: nothing was checked";
}

// The errno a hook sets after its goroutine parked is the caller's, on
// the thread it returns on; it is not written to the thread it parked
// on, where another goroutine runs now (watchers keep errno at 777 while
// they yield, and look).
TEST_F(Hooks, ErrnoAfterAParkReachesOnlyTheCaller) {
  Procs scope(2);
  std::atomic<bool> stop{false};
  std::atomic<int> clobbered{0}, wrong{0};
  Main([&] {
    gort_test::Group watchers;
    for (int i = 0; i < 4; i++) {
      watchers.Go([&] {
        while (!stop) {
          gort_test::WriteErrno(777);
          for (int64_t end = gort_now() + 20 * 1000; gort_now() < end;) {
          }
          if (gort_test::ReadErrno() != 777) clobbered++;
          gort_yield();
        }
      });
    }
    gort_test::Group readers;
    for (int i = 0; i < 4; i++) {
      readers.Go([&] {
        Fds s;
        MakeSocketPair(&s);
        timeval tv = {0, 200};
        setsockopt(s.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (int k = 0; k < gort_test::Scale(300); k++) {
          char c;
          if (read(s.fd[0], &c, 1) != -1 || gort_test::ReadErrno() != EAGAIN) wrong++;
        }
      });
    }
    readers.Wait();
    stop = true;
    watchers.Wait();
  });
  EXPECT_EQ(wrong.load(), 0) << "timed-out reads whose errno was not EAGAIN";
  EXPECT_EQ(clobbered.load(), 0) << "another goroutine's errno overwritten";
}

// A descriptor gort made non-blocking for itself (gort_accept's, or one
// given to gort_fd_open) is still blocking for the program's libc calls:
// a plain read() parks instead of failing with EAGAIN, F_GETFL reports
// the program's mode, and the program's own fcntl/ioctl FIONBIO choice is
// honoured (EAGAIN then), while gort's calls keep working.
TEST_F(Hooks, GortsNonBlockingIsNotTheProgramsNonBlocking) {
  Procs scope(1);
  Fds s;
  MakeSocketPair(&s);
  ASSERT_EQ(gort_fd_open(s.fd[0]), 0);
  EXPECT_NE(syscall(SYS_fcntl, s.fd[0], F_GETFL) & O_NONBLOCK, 0) << "gort's own mode";
  EXPECT_EQ(fcntl(s.fd[0], F_GETFL) & O_NONBLOCK, 0) << "the program's";
  EXPECT_EQ(gort_fd_user_nonblock(s.fd[0], -1), 0);
  EXPECT_EQ(gort_fd_user_nonblock(s.fd[1], -1), -ENOENT);
  Main([&] {
    gort_test::Group g;
    g.Go([&] {
      char c = 0;
      EXPECT_EQ(read(s.fd[0], &c, 1), 1) << strerror(gort_test::ReadErrno());  // parks: blocking for the program
      EXPECT_EQ(c, 'a');
    });
    gort_sleep(10 * 1000 * 1000);
    ASSERT_EQ(write(s.fd[1], "a", 1), 1);
    g.Wait();
    // The program makes it non-blocking: EAGAIN; and blocking again.
    ASSERT_EQ(fcntl(s.fd[0], F_SETFL, fcntl(s.fd[0], F_GETFL) | O_NONBLOCK), 0);
    EXPECT_NE(fcntl(s.fd[0], F_GETFL) & O_NONBLOCK, 0);
    char c;
    EXPECT_EQ(read(s.fd[0], &c, 1), -1);
    EXPECT_EQ(gort_test::ReadErrno(), EAGAIN);
    int off = 0;
    ASSERT_EQ(ioctl(s.fd[0], FIONBIO, &off), 0);
    EXPECT_EQ(fcntl(s.fd[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(syscall(SYS_fcntl, s.fd[0], F_GETFL) & O_NONBLOCK, 0) << "gort's mode stays";
    EXPECT_EQ(gort_read(s.fd[0], &c, 1, 0), -EAGAIN);  // gort's calls: non-blocking still
  });
}

// A close through the hooks wakes a goroutine parked on the descriptor
// (EBADF), and the number is free for the next file.
TEST_F(Hooks, CloseWakesTheParkedCall) {
  Procs scope(1);
  Fds s;
  MakeSocketPair(&s);
  Main([&] {
    gort_test::Group g;
    g.Go([&] {
      char c;
      EXPECT_EQ(read(s.fd[0], &c, 1), -1);
      EXPECT_EQ(errno, EBADF);
    });
    gort_sleep(20 * 1000 * 1000);
    EXPECT_EQ(close(s.fd[0]), 0);
    g.Wait();
    s.fd[0] = -1;
  });
}

// dup: each number is registered for itself; a number dup2 replaced is
// waited on as the new file.
TEST_F(Hooks, DupAndDup2) {
  Procs scope(1);
  Fds a, b;
  MakeSocketPair(&a);
  MakeSocketPair(&b);
  Main([&] {
    int d = dup(a.fd[0]);
    ASSERT_GE(d, 0);
    gort_test::Group g;
    g.Go([&] {
      char c = 0;
      EXPECT_EQ(read(d, &c, 1), 1);
      EXPECT_EQ(c, 'a');
    });
    gort_sleep(10 * 1000 * 1000);
    ASSERT_EQ(write(a.fd[1], "a", 1), 1);
    g.Wait();
    // d was waited on (registered); now it becomes b's socket.
    ASSERT_EQ(dup2(b.fd[0], d), d);
    g.Go([&] {
      char c = 0;
      EXPECT_EQ(read(d, &c, 1), 1);
      EXPECT_EQ(c, 'b');
    });
    gort_sleep(10 * 1000 * 1000);
    ASSERT_EQ(write(b.fd[1], "b", 1), 1);
    g.Wait();
    close(d);
  });
}

// Does the dump show a goroutine parked reading a descriptor?  (Read back
// through a memfd: a regular file, which the hooks leave to libc.)
bool ParkedReading() {
  int m = memfd_create("gort-dump", MFD_CLOEXEC);
  if (m < 0) return false;
  gort_dump(m);
  std::string out(1 << 16, '\0');
  ssize_t n = pread(m, out.data(), out.size(), 0);
  close(m);
  return n > 0 && out.substr(0, (size_t)n).find("[waiting: IO wait read") != std::string::npos;
}

// A number the hooks knew as a regular file and that was closed behind
// their backs — by stdio's fclose (C++'s ifstream too) or as dup2's target
// — is looked at again: a pipe that gets the number parks its reader
// instead of blocking the thread in libc's read.
TEST_F(Hooks, NumbersReusedAfterFcloseAndDup2Park) {
  Procs scope(1);
  char path[] = "/tmp/gort-hooks-XXXXXX";
  int f = mkstemp(path);
  ASSERT_GE(f, 0);
  ASSERT_EQ(write(f, "xy", 2), 2);
  close(f);
  Main([&] {
    for (int round = 0; round < 2; round++) {
      FILE* file = round == 0 ? fopen(path, "r") : nullptr;
      int n = round == 0 ? (file != nullptr ? fileno(file) : -1) : open(path, O_RDONLY | O_CLOEXEC);
      ASSERT_GE(n, 0);
      char c = 0;
      EXPECT_EQ(read(n, &c, 1), 1);  // the hooks learn: a regular file
      Fds p;
      if (round == 0) {  // closed by stdio; a new pipe takes the lowest free number
        fclose(file);
        MakePipe(&p);
        ASSERT_EQ(p.fd[0], n) << "another descriptor was opened meanwhile";
      } else {  // the file replaced by dup2
        MakePipe(&p);
        ASSERT_EQ(dup2(p.fd[0], n), n);
      }
      gort_test::Group g;
      g.Go([&] {
        char b = 0;
        EXPECT_EQ(read(n, &b, 1), 1);
        EXPECT_EQ(b, 'p');
      });
      bool parked = false;
      for (int i = 0; i < 200 && !(parked = ParkedReading()); i++) gort_sleep(1000 * 1000);
      EXPECT_TRUE(parked) << "round " << round << ": the read blocked its thread";
      ASSERT_EQ(write(p.fd[1], "p", 1), 1);
      g.Wait();
      if (round == 1) close(n);
    }
  });
  unlink(path);
}

// poll over many descriptors parks on all of them: with one P, the
// goroutine that makes one ready runs while the poll waits.
TEST_F(Hooks, PollAndSelectOverManyDescriptorsPark) {
  Procs scope(1);
  constexpr int kPipes = 16;
  std::vector<Fds> pipes(kPipes);
  for (auto& p : pipes) MakePipe(&p);
  Main([&] {
    for (int round = 0; round < 2; round++) {
      gort_test::Group g;
      int which = 5 + round * 3;
      g.Go([&] {
        gort_sleep(10 * 1000 * 1000);
        EXPECT_EQ(write(pipes[which].fd[1], "x", 1), 1);
      });
      if (round == 0) {
        std::vector<pollfd> pf(kPipes);
        for (int i = 0; i < kPipes; i++) pf[i] = {pipes[i].fd[0], POLLIN, 0};
        EXPECT_EQ(poll(pf.data(), kPipes, 5000), 1);
        for (int i = 0; i < kPipes; i++) EXPECT_EQ(pf[i].revents, i == which ? POLLIN : 0) << i;
      } else {
        fd_set rd;
        FD_ZERO(&rd);
        int top = 0;
        for (auto& p : pipes) FD_SET(p.fd[0], &rd), top = std::max(top, p.fd[0]);
        timeval tv = {5, 0};
        EXPECT_EQ(select(top + 1, &rd, nullptr, nullptr, &tv), 1);
        for (int i = 0; i < kPipes; i++) EXPECT_EQ(FD_ISSET(pipes[i].fd[0], &rd) != 0, i == which) << i;
      }
      g.Wait();
      char c;
      EXPECT_EQ(read(pipes[which].fd[0], &c, 1), 1);
    }
  });
}

// A program's own epoll instances and pselect park too: at one P, 16
// goroutines each wait in an epoll instance of its own and 16 in pselect,
// on a thread or two, until another goroutine writes.
TEST_F(Hooks, EpollWaitAndPselectPark) {
  Procs scope(1);
  constexpr int kEach = 16;
  Fds p, q;
  MakePipe(&p);
  MakePipe(&q);
  std::vector<int> eps;
  for (int i = 0; i < kEach; i++) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(ep, 0);
    epoll_event ev = {};
    ev.events = EPOLLIN;  // level-triggered: every instance sees the byte
    ev.data.u64 = 42;
    ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p.fd[0], &ev), 0);
    eps.push_back(ep);
  }
  int before = OsThreads(), most = 0;
  Main([&] {
    gort_test::Group g;
    std::atomic<int> woke{0};
    for (int i = 0; i < kEach; i++) {
      g.Go([&, i] {
        epoll_event out[2] = {};
        EXPECT_EQ(epoll_wait(eps[i], out, 2, 5000), 1);
        EXPECT_EQ(out[0].data.u64, 42u);
        woke++;
      });
      g.Go([&] {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(q.fd[0], &rd);
        timespec ts = {5, 0};
        EXPECT_EQ(pselect(q.fd[0] + 1, &rd, nullptr, nullptr, &ts, nullptr), 1);
        EXPECT_TRUE(FD_ISSET(q.fd[0], &rd));
        woke++;
      });
    }
    gort_sleep(50 * 1000 * 1000);  // all parked: this goroutine runs at the one P
    most = OsThreads();
    EXPECT_EQ(woke.load(), 0);
    EXPECT_EQ(write(p.fd[1], "x", 1), 1);
    EXPECT_EQ(write(q.fd[1], "y", 1), 1);
    g.Wait();
    EXPECT_EQ(woke.load(), 2 * kEach);
  });
  for (int ep : eps) close(ep);
  EXPECT_LE(most - before, 4) << "threads before " << before << ", with " << 2 * kEach << " waiters parked " << most;
}

// A pipe write far larger than the pipe parks between the parts it gets
// in (RWF_NOWAIT), and its reader, on the same single P, drains it: all
// bytes arrive in order, as one blocking write(2) promises.
TEST_F(Hooks, LargePipeWriteParksBetweenParts) {
  Procs scope(1);
  Fds p;
  MakePipe(&p);
  constexpr size_t kBytes = 4 << 20;
  std::vector<char> out(kBytes);
  for (size_t i = 0; i < kBytes; i++) out[i] = (char)(i * 7 + i / 4096);
  Main([&] {
    gort_test::Group g;
    g.Go([&] { EXPECT_EQ(write(p.fd[1], out.data(), kBytes), (ssize_t)kBytes); });
    std::vector<char> in, buf(65536);  // (not on the goroutine's 64 KiB stack)
    while (in.size() < kBytes) {
      ssize_t n = read(p.fd[0], buf.data(), buf.size());
      ASSERT_GT(n, 0) << strerror(gort_test::ReadErrno());
      in.insert(in.end(), buf.begin(), buf.begin() + n);
    }
    g.Wait();
    EXPECT_TRUE(in == out);
  });
}

// Sleeps park: 100 goroutines in usleep, nanosleep, poll and clock_nanosleep
// (relative and absolute) at one P overlap.
TEST_F(Hooks, SleepsPark) {
  Procs scope(1);
  int before = OsThreads();
  int most = 0;
  int64_t took = 0;
  Main([&] {
    int64_t t0 = gort_now();
    gort_test::Group g;
    for (int i = 0; i < 100; i++) {
      g.Go([i] {
        timespec ts = {0, 50 * 1000 * 1000};
        switch (i % 5) {
          case 0:
            EXPECT_EQ(usleep(50 * 1000), 0);
            break;
          case 1:
            EXPECT_EQ(nanosleep(&ts, nullptr), 0);
            break;
          case 2: {
            struct pollfd none;
            EXPECT_EQ(poll(&none, 0, 50), 0);
            break;
          }
          case 3:
            EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr), 0);
            break;
          case 4: {  // until a time of day 50 ms on
            timespec at;
            clock_gettime(CLOCK_REALTIME, &at);
            at.tv_nsec += 50 * 1000 * 1000;
            if (at.tv_nsec >= 1000000000) at.tv_sec++, at.tv_nsec -= 1000000000;
            EXPECT_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, nullptr), 0);
            break;
          }
        }
      });
    }
    gort_sleep(20 * 1000 * 1000);
    most = OsThreads();
    g.Wait();
    took = gort_now() - t0;
  });
  EXPECT_LE(most - before, 4);
  EXPECT_GE(took, 50 * 1000 * 1000);
}

// TCP at one P: a goroutine accepts, others connect, write and read,
// all with plain blocking calls.
TEST_F(Hooks, BlockingTcpAtOneP) {
  Procs scope(1);
  int port = 0;
  int l = Listen(&port);
  ASSERT_GE(l, 0);
  constexpr int kClients = 50;
  Main([&] {
    gort_test::Group g;
    g.Go([&] {
      for (int i = 0; i < kClients; i++) {
        int s = accept(l, nullptr, nullptr);
        ASSERT_GE(s, 0);
        gort_go([](void* arg) {
          int s = (int)(intptr_t)arg;
          char buf[64];
          ssize_t n;
          while ((n = read(s, buf, sizeof buf)) > 0) write(s, buf, (size_t)n);
          close(s);
        }, (void*)(intptr_t)s);
      }
    });
    for (int i = 0; i < kClients; i++) {
      g.Go([&, i] {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in to = Loopback(port);
        ASSERT_EQ(connect(c, (sockaddr*)&to, sizeof to), 0);
        std::string msg = absl::StrCat("hello ", i);
        ASSERT_EQ(write(c, msg.data(), msg.size()), (ssize_t)msg.size());
        char buf[64];
        size_t got = 0;
        while (got < msg.size()) {
          ssize_t n = read(c, buf + got, sizeof buf - got);
          ASSERT_GT(n, 0);
          got += (size_t)n;
        }
        EXPECT_EQ(std::string(buf, got), msg);
        close(c);
      });
    }
    g.Wait();
  });
  close(l);
}

// Hooks make no call end with EINTR while preemption signals fly: socket
// reads with SO_RCVTIMEO beside spinning goroutines.
TEST_F(Hooks, NoEintrFromTheRuntime) {
  if (gort_test::kTsan) GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer (the spinners keep every P)";
  Procs scope(2);
  Main([&] {
    std::atomic<bool> stop{false};
    gort_test::Group spin;
    for (int i = 0; i < 2; i++) spin.Go([&] { gort_test::SpinUntil(&stop); });
    gort_test::Group g;
    std::atomic<int> eintr{0}, timeouts{0};
    for (int i = 0; i < 8; i++) {
      g.Go([&] {
        Fds s;
        MakeSocketPair(&s);
        timeval tv = {0, 2000};
        setsockopt(s.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (int k = 0; k < gort_test::Scale(100); k++) {
          char c;
          if (read(s.fd[0], &c, 1) < 0) (errno == EINTR ? eintr : timeouts)++;
        }
      });
    }
    g.Wait();
    stop = true;
    spin.Wait();
    EXPECT_EQ(eintr.load(), 0);
    EXPECT_EQ(timeouts.load(), 8 * gort_test::Scale(100));
  });
}

// A DNS answer for one A query (header and question copied, one answer
// 10.1.2.3), or the question with no answer for other types.
size_t DnsAnswer(unsigned char* b, size_t n) {
  size_t q = 12;
  while (q < n && b[q] != 0) q += b[q] + 1u;
  q += 5;
  if (q > n) return 0;
  bool a_query = b[q - 4] == 0 && b[q - 3] == 1;
  b[2] = 0x81, b[3] = 0x80;                   // a response, recursion available
  b[6] = 0, b[7] = a_query ? 1 : 0;           // answers
  b[8] = b[9] = b[10] = b[11] = 0;            // no authority, no additional
  static const unsigned char kAnswer[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3};
  if (!a_query) return q;
  memcpy(b + q, kAnswer, sizeof kAnswer);
  return q + sizeof kAnswer;
}

// Name resolution: glibc's getaddrinfo sends its queries through libc's
// internal socket calls, which no interposer sees, so it cannot park; the
// hook runs it between gort_syscall_enter/exit instead.  With one P, the
// DNS server here — a goroutine, on 127.0.0.1, made the resolver's only
// name server through _res (thread-local: the asking goroutine is locked
// to its thread) — can answer only because the lookup's P moved on.
TEST_F(Hooks, GetaddrinfoLeavesItsPToOthers) {
  Procs scope(1);
  int us = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(us, 0);
  sockaddr_in server = Loopback(0);
  socklen_t len = sizeof server;
  ASSERT_EQ(bind(us, (sockaddr*)&server, sizeof server), 0);
  ASSERT_EQ(getsockname(us, (sockaddr*)&server, &len), 0);
  std::atomic<int> queries{0};
  Main([&] {
    gort_test::Group g;
    g.Go([&] {  // the DNS server: one answer per query, until the test closes it
      unsigned char b[512];
      for (;;) {
        sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(us, b, sizeof b, 0, (sockaddr*)&from, &fl);
        if (n < 0) return;  // closed (EBADF)
        size_t out = n >= 12 ? DnsAnswer(b, (size_t)n) : 0;
        if (out == 0) continue;
        queries++;
        sendto(us, b, out, 0, (sockaddr*)&from, fl);
      }
    });
    ASSERT_EQ(gort_lock_os_thread(), 0);
    ASSERT_EQ(res_init(), 0);
    _res.nsaddr_list[0] = server;
    _res.nscount = 1;
    _res.retrans = 2;
    _res.retry = 2;
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int err = getaddrinfo("gort-hooks-test.invalid.", "80", &hints, &res);
    EXPECT_EQ(gort_unlock_os_thread(), 0);
    EXPECT_EQ(err, 0) << gai_strerror(err);
    if (err == 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &((sockaddr_in*)res->ai_addr)->sin_addr, text, sizeof text);
      EXPECT_STREQ(text, "10.1.2.3");
      freeaddrinfo(res);
    }
    EXPECT_GE(queries.load(), 1);
    close(us);  // the server's recvfrom ends with EBADF
    g.Wait();
  });
}

// Plain threads and code before gort runs get libc's calls: a thread
// gort did not start blocks in read, as libc's would.
TEST_F(Hooks, PlainThreadsBlockAsLibc) {
  Fds p;
  MakePipe(&p);
  std::atomic<bool> done{false};
  std::thread t([&] {
    char c;
    EXPECT_EQ(read(p.fd[0], &c, 1), 1);
    done = true;
  });
  usleep(20 * 1000);
  EXPECT_FALSE(done.load());
  ASSERT_EQ(write(p.fd[1], "x", 1), 1);
  t.join();
  EXPECT_TRUE(done.load());
}

// Inside a signal handler, hooks are libc's: a handler that sleeps and
// reads on a goroutine's thread does it on the thread, and returns.
std::atomic<int> handler_reads{0};
int handler_fd = -1;
void SleepyHandler(int) {
  int e = errno;
  usleep(1000);
  char c;
  if (read(handler_fd, &c, 1) == 1) handler_reads++;
  errno = e;
}

TEST_F(Hooks, SignalHandlersGetLibc) {
  Fds p;
  MakePipe(&p);
  handler_fd = p.fd[0];
  struct sigaction sa {}, old{};
  sa.sa_handler = SleepyHandler;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  struct sigaction now{};
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SleepyHandler) << "sigaction reports the program's handler";
  Main([&] {
    gort_test::Group g;
    for (int i = 0; i < 10; i++) {
      g.Go([&] {
        ASSERT_EQ(write(p.fd[1], "x", 1), 1);
        pthread_kill(pthread_self(), SIGUSR1);
      });
    }
    g.Wait();
  });
  EXPECT_EQ(handler_reads.load(), 10);
  sigaction(SIGUSR1, &old, nullptr);
}

// fork in a program with hooks: the child is a plain process (its calls
// are libc's), and the parent's goroutine parks waiting for it.
TEST_F(Hooks, ForkChildGetsLibc) {
  Main([&] {
    Fds to, from;
    MakePipe(&to);
    MakePipe(&from);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      char c;
      if (read(to.fd[0], &c, 1) != 1) _exit(1);
      usleep(1000);
      c++;
      if (write(from.fd[1], &c, 1) != 1) _exit(2);
      _exit(0);
    }
    ASSERT_EQ(write(to.fd[1], "a", 1), 1);
    char c = 0;
    ASSERT_EQ(read(from.fd[0], &c, 1), 1);
    EXPECT_EQ(c, 'b');
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  });
}

}  // namespace
