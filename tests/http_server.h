// http_server.h — a small HTTP/1.1 server of goroutines on 127.0.0.1, for
// the tests and benchmarks that drive real HTTP clients (libcurl) at it.
//
//   gort_test::HttpServer server;     // listens on a port the kernel picks
//   server.Start();                   // from a goroutine or a plain thread
//   ... GET http://127.0.0.1:<server.port()>/item/<n> ...
//   server.Stop();                    // every connection closed; waits
//
// Every GET gets 200 and Body(path), keep-alive (Content-Length).  It
// counts requests, and the connections open at once (now and the peak).
// delay_ns, if set, holds each response that long (gort_sleep), so that
// clients overlap.  Written with gort's own I/O calls (gort_accept,
// gort_read, gort_write), so it parks whether or not the libc hooks are
// linked.
#ifndef GORT_TESTS_HTTP_SERVER_H
#define GORT_TESTS_HTTP_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "runtime/gort.h"

namespace gort_test {

class HttpServer {
 public:
  // The body served for path: a few KB, different for every path.
  static std::string Body(const std::string& path) {
    uint64_t h = 1469598103934665603ull;
    for (char c : path) h = (h ^ (unsigned char)c) * 1099511628211ull;
    std::string body = "path " + path + "\n";
    size_t n = 1024 + h % 3072;
    while (body.size() < n) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      body.push_back((char)('a' + (h >> 59) % 26));
    }
    return body;
  }

  ~HttpServer() { Stop(); }

  // 0, or -errno.
  int Start() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return -errno;
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener_, (sockaddr*)&a, sizeof a) != 0 || listen(listener_, 4096) != 0 ||
        getsockname(listener_, (sockaddr*)&a, &len) != 0)
      return -errno;
    port_ = ntohs(a.sin_port);
    int err = gort_fd_open(listener_);
    if (err != 0) return err;
    gort_waitgroup_add(&running_, 1);
    if ((err = gort_go(Accepter, this)) != 0) gort_waitgroup_done(&running_);
    return err;
  }

  // Close the listener and every connection; wait for their goroutines.
  void Stop() {
    if (listener_ < 0 || stopped_) return;
    stopped_ = true;
    gort_fd_close(listener_);  // the accepter's gort_accept ends: -EBADF
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
      for (int fd : conns_) shutdown(fd, SHUT_RDWR);  // their reads end
    }
    gort_waitgroup_wait(&running_);
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int64_t requests() const { return requests_.load(); }
  int peak_connections() const { return peak_.load(); }
  void set_delay_ns(int64_t ns) { delay_ns_ = ns; }

 private:
  static void Accepter(void* arg) {
    auto* s = static_cast<HttpServer*>(arg);
    for (;;) {
      int fd = gort_accept(s->listener_, nullptr, nullptr, -1);
      if (fd < 0) {
        if (fd == -ECONNABORTED || fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS) continue;
        break;  // -EBADF: closed by Stop
      }
      {
        std::lock_guard<std::mutex> l(s->mu_);
        if (s->stopping_) {
          gort_fd_close(fd);
          continue;
        }
        s->conns_.insert(fd);
        int open = (int)s->conns_.size();
        for (int peak = s->peak_.load(); open > peak && !s->peak_.compare_exchange_weak(peak, open);) {
        }
      }
      gort_waitgroup_add(&s->running_, 1);
      auto* c = new Conn{s, fd};
      if (gort_go(Serve, c) != 0) {
        delete c;
        s->Forget(fd);
        gort_waitgroup_done(&s->running_);
      }
    }
    gort_waitgroup_done(&s->running_);
  }

  struct Conn {
    HttpServer* server;
    int fd;
  };

  static void Serve(void* arg) {
    auto* c = static_cast<Conn*>(arg);
    HttpServer* s = c->server;
    std::string in;
    char buf[4096];
    for (;;) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = gort_read(c->fd, buf, sizeof buf, -1);
        if (n <= 0) goto done;
        in.append(buf, (size_t)n);
      }
      std::string head = in.substr(0, end);
      in.erase(0, end + 4);
      size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      std::string path = sp1 == std::string::npos ? "/" : head.substr(sp1 + 1, sp2 - sp1 - 1);
      if (s->delay_ns_ > 0) gort_sleep(s->delay_ns_);
      std::string body = Body(path);
      std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
      s->requests_++;
      if (gort_write(c->fd, out.data(), out.size(), -1) < 0) break;
    }
  done:
    s->Forget(c->fd);
    delete c;
    gort_waitgroup_done(&s->running_);
  }

  void Forget(int fd) {
    {
      std::lock_guard<std::mutex> l(mu_);
      conns_.erase(fd);
    }
    gort_fd_close(fd);
  }

  int listener_ = -1;  // set by Start, before the accepter starts
  bool stopped_ = false;
  int port_ = 0;
  int64_t delay_ns_ = 0;
  std::atomic<int64_t> requests_{0};
  std::atomic<int> peak_{0};
  std::mutex mu_;  // conns_, stopping_ (held briefly, never across a park)
  std::set<int> conns_;
  bool stopping_ = false;
  gort_waitgroup running_ = GORT_WAITGROUP_INIT;
};

}  // namespace gort_test

#endif  // GORT_TESTS_HTTP_SERVER_H
