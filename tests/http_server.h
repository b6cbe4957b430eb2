// http_server.h — a small HTTP/1.1 server of goroutines on 127.0.0.1, for
// the tests and benchmarks that drive a real HTTP client (libcurl) at it
// (hooks_curl_test, //benchmarks:hooks).
//
//   gort_test::HttpServer server;     // listens on a port the kernel picks
//   server.Start();                   // 0 or -errno; any thread or goroutine
//   ... GET server.Url("/item/7") ...
//   server.Stop();                    // closes everything, waits for it
//
// GET PATH answers 200 with Body(PATH) (Content-Length, keep-alive);
// anything else is a 404 and counts as an error.  Written with gort's own
// I/O calls (gort_accept, gort_read, gort_write), so it parks whether or
// not the libc hooks are linked.  Options, before Start:
//   HttpServer(hold)   every answer waits until hold requests are in at
//                      once (or 20 s pass, so a failing run still ends):
//                      then all of them were in flight together
//   set_delay_ns(ns)   every answer waits ns (gort_sleep), so that the
//                      clients overlap
// Counters: served() 200 answers written, errors(), peak() the most requests
// waiting for their answers at once.
#ifndef GORT_TESTS_HTTP_SERVER_H
#define GORT_TESTS_HTTP_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "runtime/gort.h"

namespace gort_test {

class HttpServer {
 public:
  // The body served for path: a line naming it, then 2-6 KB of letters
  // from a generator seeded by it.
  static std::string Body(const std::string& path) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the path
    for (char c : path) h = (h ^ (unsigned char)c) * 1099511628211ull;
    std::string body = "path " + path + "\n";
    size_t n = 2048 + h % 4096;
    while (body.size() < n) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      body.push_back((char)('a' + (h >> 59) % 26));
    }
    return body;
  }

  explicit HttpServer(int hold = 0) : hold_(hold) {}
  ~HttpServer() {
    Stop();
    if (gate_ != nullptr) gort_chan_free(gate_);
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int Start() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return -errno;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener_, (sockaddr*)&a, sizeof a) != 0 || listen(listener_, 4096) != 0 ||
        getsockname(listener_, (sockaddr*)&a, &len) != 0)
      return -errno;
    port_ = ntohs(a.sin_port);
    if (hold_ > 0 && (gate_ = gort_chan_make(0, 0)) == nullptr) return -errno;
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
  int served() const { return served_.load(); }
  int errors() const { return errors_.load(); }
  int peak() const { return peak_.load(); }
  void set_delay_ns(int64_t ns) { delay_ns_ = ns; }

 private:
  static constexpr int64_t kSecond = 1000 * 1000 * 1000;

  struct Conn {
    HttpServer* server;
    int fd;
  };

  static void Accepter(void* arg) {
    auto* s = static_cast<HttpServer*>(arg);
    for (;;) {
      int fd = gort_accept(s->listener_, nullptr, nullptr, -1);
      if (fd == -EBADF) break;  // closed by Stop
      if (fd < 0) {             // out of descriptors, an aborted connection
        s->errors_++;
        gort_sleep(1000 * 1000);
        continue;
      }
      {
        std::lock_guard<std::mutex> l(s->mu_);
        if (s->stopping_) {
          gort_fd_close(fd);
          continue;
        }
        s->conns_.insert(fd);
      }
      gort_waitgroup_add(&s->running_, 1);
      auto* c = new Conn{s, fd};
      gort_go_attr attr = {0, "http conn"};
      if (gort_go_with(Serve, c, &attr) != 0) {
        s->errors_++;
        s->Forget(fd);
        delete c;
        gort_waitgroup_done(&s->running_);
      }
    }
    gort_waitgroup_done(&s->running_);
  }

  static void Serve(void* arg) {
    auto* c = static_cast<Conn*>(arg);
    HttpServer* s = c->server;
    std::string in;
    std::string buf(4096, '\0');  // (not on the goroutine's stack)
    for (;;) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = gort_read(c->fd, &buf[0], buf.size(), 30 * kSecond);
        if (n <= 0) {
          if (n < 0 || !in.empty()) s->errors_++;  // else the client closed between requests
          goto done;
        }
        in.append(buf, 0, (size_t)n);
      }
      std::string head = in.substr(0, end);
      in.erase(0, end + 4);
      if (!s->Answer(c->fd, head)) break;
    }
  done:
    s->Forget(c->fd);
    delete c;
    gort_waitgroup_done(&s->running_);
  }

  // Answer one request: false if the connection is done for.
  bool Answer(int fd, const std::string& head) {
    std::string out;
    size_t sp = head.find(' ', 4);
    bool get = head.compare(0, 4, "GET ") == 0 && sp != std::string::npos;
    if (get) {
      int now = ++in_flight_;
      for (int p = peak_.load(); now > p && !peak_.compare_exchange_weak(p, now);) {
      }
      if (gate_ != nullptr) {
        if (now == hold_) gort_chan_close(gate_);
        gort_chan_recv_timeout(gate_, nullptr, 20 * kSecond);  // -EPIPE once open
      }
      if (delay_ns_ > 0) gort_sleep(delay_ns_);
      std::string body = Body(head.substr(4, sp - 4));
      out = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
      in_flight_--;
    } else {
      errors_++;
      out = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    if (gort_write(fd, out.data(), out.size(), 30 * kSecond) != (ssize_t)out.size()) {
      errors_++;
      return false;
    }
    if (get) served_++;
    return true;
  }

  void Forget(int fd) {
    {
      std::lock_guard<std::mutex> l(mu_);
      conns_.erase(fd);
    }
    gort_fd_close(fd);
  }

  const int hold_;
  int listener_ = -1;  // set by Start, before the accepter starts
  bool stopped_ = false;
  int port_ = 0;
  int64_t delay_ns_ = 0;
  gort_chan* gate_ = nullptr;
  std::atomic<int> in_flight_{0}, peak_{0}, served_{0}, errors_{0};
  std::mutex mu_;  // conns_, stopping_ (held briefly, never across a park)
  std::set<int> conns_;
  bool stopping_ = false;
  gort_waitgroup running_ = GORT_WAITGROUP_INIT;
};

}  // namespace gort_test

#endif  // GORT_TESTS_HTTP_SERVER_H
