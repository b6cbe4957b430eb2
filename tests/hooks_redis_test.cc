// hooks_redis_test — hiredis's blocking API (redisConnect, redisCommand)
// on 1,000 goroutines at two Ps against a real redis-server, linked with
// the libc hooks (//runtime:gort_hooks): hiredis is the system's shared
// library, and its connect(), poll(), read() and write() resolve to the
// hooks the program exports, so a command waiting for its reply parks its
// goroutine, not its thread.  The test starts /usr/bin/redis-server
// (Debian's redis-server) on a free loopback port and stops it at the
// end; without it the test skips, loudly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness.h"

namespace {

using gort_test::Main;
using gort_test::Procs;

constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr int kProcs = 2;
constexpr int kClients = 1000;
constexpr int kPairs = 20;  // SET then GET, per client
constexpr int64_t kSecond = 1000 * 1000 * 1000;

// The threads a run may add to those before it, beyond its kProcs Ms
// running goroutines, as in hooks_curl_test (its kSlack): a spare M, and
// Ms for Ps that sysmon lends while a goroutine's thread is blocked in
// the kernel for a millisecond: malloc's arena lock, mmap, and here also
// hiredis's getaddrinfo, which the hooks run between gort_syscall_enter
// and exit (its P is handed on if it lasts past sysmon's look).  Seen: at
// most kProcs + 3, also beside hooks_curl_test.  Without the hooks every
// client waiting for a reply holds its thread.
constexpr int kSlack = 6;

// A port no one listens on now (the kernel's pick for a socket bound to
// port 0, closed again).
int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (s >= 0 && bind(s, (sockaddr*)&a, sizeof a) == 0 && getsockname(s, (sockaddr*)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (s >= 0) close(s);
  return port;
}

std::string Tail(const std::string& path, size_t max = 2000) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > max ? s.substr(s.size() - max) : s;
}

// redis-server on 127.0.0.1, no persistence, in the foreground; stopped
// (SIGTERM, then SIGKILL after 5 s, and reaped) when this goes out of
// scope, however the test ends.  If the test process dies, the kernel
// sends the server SIGKILL (PR_SET_PDEATHSIG).
class RedisServer {
 public:
  RedisServer() = default;
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() { Stop(); }

  // Starts it on a free port and waits until it answers PING: "" or why not.
  std::string Start() {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string dir = tmp != nullptr ? tmp : "/tmp";
    log_ = dir + "/redis-server.log";
    std::string why;
    for (int attempt = 0; attempt < 3; attempt++) {  // another process may take the port first
      port_ = FreePort();
      if (port_ <= 0) return "no free port";
      why = Spawn(dir);
      if (why.empty()) why = AwaitPing();
      if (why.empty()) return "";
      Stop();
    }
    return why + "\nits log (" + log_ + "):\n" + Tail(log_);
  }

  int port() const { return port_; }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    bool reaped = false;
    for (int i = 0; i < 500 && !reaped; i++) {
      reaped = waitpid(pid_, &status, WNOHANG) != 0;
      if (!reaped) usleep(10 * 1000);
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

 private:
  std::string Spawn(const std::string& dir) {
    std::string port = std::to_string(port_);
    std::vector<std::string> args = {kRedisServer, "--port", port, "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--daemonize", "no", "--dir", dir,
                                     "--maxclients", "10000"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return absl::StrCat("fork: ", strerror(errno));
    if (pid == 0) {  // only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    return "";
  }

  // PING from this (plain) thread every 20 ms, for up to 10 s.
  std::string AwaitPing() {
    std::string last = "no answer";
    for (int i = 0; i < 500; i++) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::StrCat(kRedisServer, " exited (status ", status, ") on port ", port_);
      }
      timeval tv = {1, 0};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      if (c != nullptr && c->err == 0) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        bool pong = r != nullptr && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r != nullptr) freeReplyObject(r);
        redisFree(c);
        if (pong) return "";
      } else {
        last = c != nullptr ? c->errstr : "out of memory";
        if (c != nullptr) redisFree(c);
      }
      usleep(20 * 1000);
    }
    return absl::StrCat(kRedisServer, " on port ", port_, " did not answer PING in 10 s: ", last);
  }

  pid_t pid_ = -1;
  int port_ = -1;
  std::string log_;
};

// What client i stores under key:i:j: its own 16 to 200 bytes or so,
// binary (a NUL, a CR LF) included.
std::string Value(int i, int j) {
  std::string v = absl::StrCat("value:", i, ":", j, ":");
  v.append(std::string("\0\r\n", 3));
  for (int k = 0; k < (i * 31 + j * 7) % 180; k++) v.push_back((char)('A' + (i + j + k) % 58));
  return v;
}

// One client: connect, kPairs SET/GET pairs checked, disconnect.  "" or
// what went wrong first.
std::string Session(int port, int i) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr) return "redisConnect: out of memory";
  std::unique_ptr<redisContext, void (*)(redisContext*)> own(c, redisFree);
  if (c->err != 0) return absl::StrCat("redisConnect: ", c->errstr);
  for (int j = 0; j < kPairs; j++) {
    std::string key = absl::StrCat("key:", i, ":", j), value = Value(i, j);
    auto* r =
        static_cast<redisReply*>(redisCommand(c, "SET %b %b", key.data(), key.size(), value.data(), value.size()));
    if (r == nullptr) return absl::StrCat("SET ", key, ": ", c->errstr);
    bool ok = r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "OK";
    freeReplyObject(r);
    if (!ok) return absl::StrCat("SET ", key, ": not OK");
    r = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
    if (r == nullptr) return absl::StrCat("GET ", key, ": ", c->errstr);
    std::string got = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "(not a string)";
    freeReplyObject(r);
    if (got != value) return absl::StrCat("GET ", key, ": ", got.size(), " bytes, not the ", value.size(), " stored");
  }
  return "";
}

class HooksRedis : public gort_test::Test {
 protected:
  void SetUp() override {
    if (gort_test::kTsan)
      GTEST_SKIP() << "ThreadSanitizer: the hooks replace the calls TSan intercepts; not run under --config=tsan";
    if (access(kRedisServer, X_OK) != 0) {
      fprintf(stderr,
              "\n*** hooks_redis_test: %s is not installed: THIS TEST DID NOT RUN. ***\n"
              "*** Install Debian's redis-server (tools/bazel does).              ***\n\n",
              kRedisServer);
      GTEST_SKIP() << kRedisServer << " is not installed (Debian package redis-server): the test did not run";
    }
    signal(SIGPIPE, SIG_IGN);
    // The clients' sockets, and redis-server's (it inherits the limit).
    rlim_t want = 3 * kClients + 256;
    if (gort_test::RaiseFdLimit(want) < want)
      GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below " << want << ": cannot have " << kClients
                   << " clients at once";
  }
};

// 1,000 clients at two Ps, each 20 SET/GET pairs over its own connection:
// every value as stored, on a bounded number of threads.
TEST_F(HooksRedis, ThousandClientsOnFewThreads) {
  RedisServer server;
  std::string why = server.Start();
  ASSERT_EQ(why, "") << "could not start " << kRedisServer;
  std::vector<std::string> errors(kClients);
  Procs procs(kProcs);
  gort_test::ThreadPeak sampler;
  int before = gort_test::OsThreads();
  int64_t t0 = gort_now();
  Main([&] {
    gort_test::Group g;
    for (int i = 0; i < kClients; i++) {
      gort_go_attr attr = {256 << 10, "redis client"};  // hiredis reads into 16 KiB on its stack
      ASSERT_EQ(g.Go([&, i] { errors[i] = Session(server.port(), i); }, &attr), 0);
    }
    g.Wait();
  });
  int peak = sampler.Stop();
  gort_stats st;
  gort_stats_get(&st);
  printf("%d clients x %d SET/GET in %.2f s: OS threads %d before, %d at most (Ms now %" PRIu64 ")\n", kClients,
         kPairs, (double)(gort_now() - t0) / kSecond, before, peak, st.threads);
  int bad = 0;
  for (int i = 0; i < kClients; i++)
    if (!errors[i].empty() && ++bad <= 5) ADD_FAILURE() << "client " << i << ": " << errors[i];
  EXPECT_EQ(bad, 0) << "of " << kClients << " clients";
  // And the server holds every key (asked from this plain thread).
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnect("127.0.0.1", server.port()), redisFree);
  ASSERT_TRUE(c != nullptr && c->err == 0);
  std::unique_ptr<redisReply, void (*)(void*)> r(static_cast<redisReply*>(redisCommand(c.get(), "DBSIZE")),
                                                 freeReplyObject);
  ASSERT_NE(r, nullptr) << c->errstr;
  EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r->integer, (long long)kClients * kPairs) << "keys stored";
  EXPECT_LE(peak, before + kProcs + kSlack) << "threads before " << before << ", at most " << peak;
}

}  // namespace
