// echo.cc — the echo row of BENCHMARKS.md: a load client.  N connections
// on loopback each send a 64-byte message and wait for its echo, over and
// over, for T seconds; prints requests/s and the p50/p99 round-trip
// latency.  Point it at //examples:echo, or at the Go server
// (`benchmarks/go/main.go -workload echo_server`), with the same flags:
//
//   echo --addr 127.0.0.1:7000 [--conns 64] [--seconds 10]
//   echo --smoke        a short run against an echo server of its own
//
// The client itself runs on gort: one goroutine per connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/gort.h"

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int conns = 64;
  double seconds = 10;
  bool smoke = false;
};

std::atomic<bool> stop{false};

int Dial(const Options& o) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)o.port);
  inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (gort_connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a, 5000000000) != 0) {
    gort_fd_close(fd);
    return -1;
  }
  return fd;
}

struct Conn {
  const Options* o;
  std::vector<int64_t> lat;  // ns, one per request
  long errors = 0;
  gort_waitgroup* wg;
};

void RunConn(void* arg) {
  auto* c = static_cast<Conn*>(arg);
  int fd = Dial(*c->o);
  if (fd < 0) {
    c->errors++;
  } else {
    char out[64], in[64];
    memset(out, 'e', sizeof out);
    while (!stop.load(std::memory_order_relaxed)) {
      int64_t t0 = gort_now();
      if (gort_write(fd, out, sizeof out, -1) != (ssize_t)sizeof out) {
        c->errors++;
        break;
      }
      size_t got = 0;
      while (got < sizeof in) {
        ssize_t n = gort_read(fd, in + got, sizeof in - got, -1);
        if (n <= 0) break;
        got += (size_t)n;
      }
      if (got != sizeof in) {
        c->errors++;
        break;
      }
      c->lat.push_back(gort_now() - t0);
    }
    gort_fd_close(fd);
  }
  gort_waitgroup_done(c->wg);
}

// --smoke: a minimal echo server of our own, on a free port.
void EchoConn(void* arg) {
  int c = (int)(intptr_t)arg;
  char buf[4096];
  ssize_t n;
  while ((n = gort_read(c, buf, sizeof buf, -1)) > 0)
    if (gort_write(c, buf, (size_t)n, -1) != n) break;
  gort_fd_close(c);
}

void Serve(void* arg) {
  int lfd = (int)(intptr_t)arg, c;
  while ((c = gort_accept(lfd, nullptr, nullptr, -1)) >= 0) gort_go(EchoConn, (void*)(intptr_t)c);
}

int ListenAnyPort(int* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1024) != 0) return -1;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return gort_fd_open(fd) == 0 ? fd : -1;
}

int Run(const Options& o) {
  std::vector<Conn> conns(o.conns);
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  for (auto& c : conns) {
    c.o = &o;
    c.wg = &wg;
    c.lat.reserve(1 << 16);
    gort_waitgroup_add(&wg, 1);
    gort_go(RunConn, &c);
  }
  int64_t t0 = gort_now();
  gort_sleep((int64_t)(o.seconds * 1e9));
  stop = true;
  gort_waitgroup_wait(&wg);
  double secs = (double)(gort_now() - t0) / 1e9;
  std::vector<int64_t> all;
  long errors = 0;
  for (auto& c : conns) {
    all.insert(all.end(), c.lat.begin(), c.lat.end());
    errors += c.errors;
  }
  std::sort(all.begin(), all.end());
  auto q = [&](double f) { return all.empty() ? 0.0 : (double)all[(size_t)(f * (double)(all.size() - 1))] / 1e3; };
  printf("echo requests/s %.0f p50_us %.1f p99_us %.1f conns %d seconds %.1f errors %ld\n", (double)all.size() / secs,
         q(0.5), q(0.99), o.conns, secs, errors);
  return errors == 0 && !all.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--addr" && i + 1 < argc) {
      std::string v = argv[++i];
      size_t colon = v.rfind(':');
      o.host = v.substr(0, colon);
      o.port = atoi(v.c_str() + colon + 1);
    } else if (a == "--conns" && i + 1 < argc) {
      o.conns = atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      o.seconds = atof(argv[++i]);
    } else if (a == "--smoke") {
      o.smoke = true;
    } else {
      fprintf(stderr, "usage: %s --addr HOST:PORT [--conns N] [--seconds T] | --smoke\n", argv[0]);
      return 2;
    }
  }
  int rc = 1;
  if (o.smoke) {
    o.conns = 4;
    o.seconds = 0.2;
    int lfd = ListenAnyPort(&o.port);
    if (lfd < 0) return 1;
    gort_go(Serve, (void*)(intptr_t)lfd);
  } else if (o.port == 0) {
    fprintf(stderr, "echo: --addr HOST:PORT is required (or --smoke)\n");
    return 2;
  }
  struct Arg {
    const Options* o;
    int* rc;
  } arg{&o, &rc};
  gort_main([](void* p) { *static_cast<Arg*>(p)->rc = Run(*static_cast<Arg*>(p)->o); }, &arg);
  return rc;
}
