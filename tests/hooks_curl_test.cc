// hooks_curl_test — libcurl's blocking easy API (curl_easy_perform) on
// 1,000 goroutines at two Ps, linked with the libc hooks
// (//runtime:gort_hooks): libcurl is the system's shared library, and its
// poll(), connect(), recv() and send() resolve to the hooks the program
// exports, so a transfer waiting for its server parks its goroutine, not
// its thread.  The server is a small HTTP/1.1 one in this file, on
// goroutines using gort's own descriptor API (tests/http_server.h), on
// 127.0.0.1 on a port the kernel picks.
#include <curl/curl.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "tests/harness.h"
#include "tests/http_server.h"

namespace {

// libcurl's own threads, counted: the threaded resolver (Debian's libcurl
// is built with it: CURL_VERSION_ASYNCHDNS) starts one per name lookup.
// This pthread_create is the program's, so libcurl's calls come here and
// go on to the next definition (libc's, or a sanitizer's); those whose
// caller is in libcurl are counted.  The runtime calls it too, to start
// its threads: it lives in the runtime's section (runtime/text.h), and
// this file is built with -fno-plt as the runtime is, so asynchronous
// preemption never stops a goroutine inside it, as it never does inside
// libc.  Not under ThreadSanitizer (the tests skip there).
std::atomic<int> curl_pthread_creates{0};
std::atomic<void*> curl_base{nullptr};  // where libcurl is loaded

}  // namespace

#if !defined(__SANITIZE_THREAD__)
extern "C" __attribute__((section("gort_text"))) int pthread_create(pthread_t* t, const pthread_attr_t* attr,
                                                                    void* (*fn)(void*), void* arg) noexcept {
  using Fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static std::atomic<Fn> next{nullptr};
  Fn f = next.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_create"));
    next.store(f, std::memory_order_release);
  }
  void* base = curl_base.load(std::memory_order_relaxed);
  Dl_info info;
  if (base != nullptr && dladdr(__builtin_return_address(0), &info) != 0 && info.dli_fbase == base)
    curl_pthread_creates.fetch_add(1);
  return f(t, attr, fn, arg);
}
#endif

namespace {

using gort_test::Main;
using gort_test::Procs;

constexpr int kProcs = 2;
constexpr int kClients = 1000;
constexpr int64_t kSecond = 1000 * 1000 * 1000;

// The threads a run may add to those before it (sysmon is among those:
// Procs starts the runtime), beyond its kProcs Ms running goroutines:
// one spare M, which a parking M starts to look for work (kProcs + 1 Ms
// in most runs); and Ms for Ps that sysmon lends while a goroutine's
// thread is blocked in the kernel for a millisecond in calls no hook can
// park: malloc's arena lock, mmap and mprotect (GORT_DEBUG=blockwarn=1
// names them), a few at once on a loaded 2-core machine.  Seen: at most
// kProcs + 3 threads alone, kProcs + 5 beside hooks_redis_test.  libcurl
// adds none: it starts its resolver thread for host names only, never for
// a numeric address (checked below).  Without the hooks every transfer
// waiting in poll() holds its thread while sysmon lends its P to another
// (this file linked without them, once: the first test peaked at 201
// threads; in the second at most 773 of the 1,000 requests were ever in
// at once, on 259 threads, and 594 transfers failed).
constexpr int kSlack = 6;

using gort_test::HttpServer;

struct Fetch {
  CURLcode rc = CURLE_OK;
  long status = 0;
  std::string body;
  std::string error;
};

size_t Append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// One blocking transfer, on its own handle.
void Get(const std::string& url, Fetch* f, long timeout_s = 60) {
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    f->rc = CURLE_FAILED_INIT;
    return;
  }
  char err[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");  // whatever http_proxy says
  curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);  // a hung run still ends
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &f->body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  f->rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->status);
  f->error = err;
  curl_easy_cleanup(h);
}

int Item(int i) { return 11 + 37 * i; }

// Every transfer ended well with exactly Body(Item(i)): the first few
// that did not, in detail.
void CheckFetches(const std::vector<Fetch>& fetches) {
  int bad = 0;
  for (size_t i = 0; i < fetches.size(); i++) {
    const Fetch& f = fetches[i];
    std::string want = HttpServer::Body(absl::StrCat("/item/", Item((int)i)));
    if (f.rc == CURLE_OK && f.status == 200 && f.body == want) continue;
    if (++bad > 5) continue;
    size_t at = std::mismatch(want.begin(), want.end(), f.body.begin(), f.body.end()).first - want.begin();
    ADD_FAILURE() << "transfer " << i << " (/item/" << Item((int)i) << "): " << curl_easy_strerror(f.rc) << " "
                  << f.error << ", HTTP " << f.status << ", " << f.body.size() << " bytes (want " << want.size()
                  << "), first difference at byte " << at;
  }
  EXPECT_EQ(bad, 0) << "of " << fetches.size() << " transfers";
}

class HooksCurl : public gort_test::Test {
 protected:
  static void SetUpTestSuite() {
    if (gort_test::kTsan) return;
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    Dl_info info;
    ASSERT_NE(dladdr(reinterpret_cast<void*>(&curl_easy_perform), &info), 0);
    curl_base.store(info.dli_fbase);
  }
  static void TearDownTestSuite() {
    if (!gort_test::kTsan) curl_global_cleanup();
  }

  void SetUp() override {
    if (gort_test::kTsan)
      GTEST_SKIP() << "ThreadSanitizer: the hooks replace the calls TSan intercepts; not run under --config=tsan";
    // Each transfer: its socket, its multi handle's wakeup socketpair, and
    // a poll's epoll instance; the server's end: one more.
    rlim_t want = 5 * kClients + 256;
    if (gort_test::RaiseFdLimit(want) < want)
      GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below " << want << ": cannot have " << kClients
                   << " transfers open at once";
  }

  // kClients transfers of distinct paths, each on its own goroutine;
  // the most OS threads seen meanwhile, and the thread count before.
  void Run(HttpServer* server, std::vector<Fetch>* fetches, int* before, int* peak, int* creates) {
    fetches->assign(kClients, Fetch{});
    Procs procs(kProcs);
    gort_test::ThreadPeak sampler;
    *before = gort_test::OsThreads();
    int curl_before = curl_pthread_creates.load();
    int64_t t0 = gort_now();
    Main([&] {
      ASSERT_EQ(server->Start(), 0);
      gort_test::Group g;
      for (int i = 0; i < kClients; i++) {
        std::string url = server->Url(absl::StrCat("/item/", Item(i)));
        Fetch* f = &(*fetches)[i];
        gort_go_attr attr = {256 << 10, "curl"};  // libcurl's frames, with room to spare
        ASSERT_EQ(g.Go([url, f] { Get(url, f); }, &attr), 0);
      }
      g.Wait();
      server->Stop();
    });
    *peak = sampler.Stop();
    *creates = curl_pthread_creates.load() - curl_before;
    gort_stats st;
    gort_stats_get(&st);
    printf("%d transfers in %.2f s: OS threads %d before, %d at most (Ms now %" PRIu64 ")\n", kClients,
           (double)(gort_now() - t0) / kSecond, *before, *peak, st.threads);
  }
};

// A numeric URL starts no resolver thread: on a plain thread, libcurl
// calls pthread_create for a host name (the control: this machine's own,
// from /etc/hosts) and not for 127.0.0.1.
TEST_F(HooksCurl, NumericAddressStartsNoResolverThread) {
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  if (!(v->features & CURL_VERSION_ASYNCHDNS) || v->ares != nullptr)
    GTEST_SKIP() << "libcurl " << v->version << " has no threaded resolver: it starts no thread for any lookup";
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(l, (sockaddr*)&a, sizeof a), 0);
  ASSERT_EQ(listen(l, 16), 0);
  ASSERT_EQ(getsockname(l, (sockaddr*)&a, &len), 0);
  int port = ntohs(a.sin_port);
  close(l);  // nobody listens: connections are refused, after the lookup
  Fetch numeric;
  int before = curl_pthread_creates.load();
  Get(absl::StrCat("http://127.0.0.1:", port, "/item/1"), &numeric);
  EXPECT_NE(numeric.rc, CURLE_COULDNT_RESOLVE_HOST) << numeric.error;
  EXPECT_EQ(curl_pthread_creates.load() - before, 0) << "libcurl started a thread for a numeric address";
  // The control: this machine's name, if /etc/hosts has it (a lookup
  // that needs no DNS server), goes through the resolver's thread.
  char host[256] = "";
  bool listed = false;
  if (gethostname(host, sizeof host) == 0 && strcmp(host, "localhost") != 0) {
    std::ifstream hosts("/etc/hosts");
    for (std::string word; hosts >> word && !listed;) listed = word == host;
  }
  if (!listed) GTEST_SKIP() << "the control needs this host's name (" << host << ") in /etc/hosts";
  Fetch named;
  before = curl_pthread_creates.load();
  Get(absl::StrCat("http://", host, ":", port, "/item/1"), &named, 5);
  EXPECT_GE(curl_pthread_creates.load() - before, 1) << "libcurl looked up " << host << " with no thread counted";
}

// 1,000 transfers at two Ps: every body byte for byte, on a bounded
// number of threads.
TEST_F(HooksCurl, ThousandTransfersOnFewThreads) {
  HttpServer server;
  std::vector<Fetch> fetches;
  int before = 0, peak = 0, creates = 0;
  Run(&server, &fetches, &before, &peak, &creates);
  CheckFetches(fetches);
  EXPECT_EQ(server.served(), kClients);
  EXPECT_EQ(server.errors(), 0);
  EXPECT_EQ(creates, 0) << "libcurl started threads";
  EXPECT_LE(peak, before + kProcs + kSlack) << "threads before " << before << ", at most " << peak;
}

// What makes it scale: all 1,000 transfers are waiting for their answers
// at the same moment (the server holds every answer until the 1,000th
// request is in), and still on a few threads.  Without the hooks each
// waiting curl_easy_perform holds an OS thread (kSlack's numbers).
TEST_F(HooksCurl, ThousandTransfersInFlightAtOnce) {
  HttpServer server(kClients);
  std::vector<Fetch> fetches;
  int before = 0, peak = 0, creates = 0;
  Run(&server, &fetches, &before, &peak, &creates);
  EXPECT_EQ(server.peak(), kClients) << "requests waiting for their answer at once";
  CheckFetches(fetches);
  EXPECT_EQ(server.errors(), 0);
  EXPECT_EQ(creates, 0) << "libcurl started threads";
  EXPECT_LE(peak, before + kProcs + kSlack) << "threads before " << before << ", at most " << peak;
}

}  // namespace
