// hooks — what the libc hooks (//runtime:gort_hooks) buy a program that
// uses a blocking library: requests/s of C clients each doing blocking
// libcurl GETs (curl_easy_perform, one easy handle each, keep-alive)
// against a local HTTP server of goroutines (tests/http_server.h) on
// 127.0.0.1, all clients in flight at once, 20 GETs each, and a 1 ms
// server delay per response, so that calls block.
//
//   BM_CurlGoroutines   clients/goroutines.  Built as //benchmarks:hooks,
//                       the hooks linked: each blocked call parks.  Built
//                       as //benchmarks:hooks_off: no hooks, each blocked
//                       call holds its thread and, from its first ms, a
//                       lent P (foreign calls).  There it runs 100 and 250
//                       clients only: Ps are lent up to GORT_MAXPROCS_LIMIT
//                       (256), and with more calls blocked than that the
//                       server's goroutines get no P, so 1,000 clients
//                       never finish (docs/blocking.md).
//   BM_CurlThreads      clients as plain threads (the thread-per-request
//                       design a C programmer writes otherwise).
//   BM_PipePair, BM_SocketPair   the cost of calls that do not block.
// Counters: requests/s, and the most OS threads the run added (sampled
// every 5 ms; the runtime's idle threads from an earlier case not
// counted).
#include <curl/curl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_main.h"
#include "tests/http_server.h"
#include "tests/threads.h"

namespace {

size_t Collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

struct Run {
  gort_test::HttpServer* server;
  int per_client;
  std::atomic<int64_t> bad{0};
};

// One client: per_client GETs of its own paths on one easy handle.
void Client(Run* run, int id) {
  CURL* h = curl_easy_init();
  std::string body;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  for (int i = 0; i < run->per_client; i++) {
    std::string path = "/item/" + std::to_string(id) + "/" + std::to_string(i);
    curl_easy_setopt(h, CURLOPT_URL, run->server->Url(path).c_str());
    body.clear();
    if (curl_easy_perform(h) != CURLE_OK || body != gort_test::HttpServer::Body(path)) run->bad++;
  }
  curl_easy_cleanup(h);
}

void Report(benchmark::State& state, int64_t requests, int64_t ns, int most_threads, const Run& run) {
  if (run.bad != 0) state.SkipWithError("a response was wrong");
  state.counters["requests/s"] = ns > 0 ? (double)requests * 1e9 / (double)ns : 0;
  state.counters["threads_added"] = most_threads;
}

// Runs launch(run, clients) (it starts the clients and waits for them)
// against a fresh server, once per iteration.
template <typename Launch>
void CurlClients(benchmark::State& state, Launch launch) {
  const int clients = (int)gort_bench::Size(state.range(0));
  int64_t ns = 0, requests = 0;
  int most = 0;
  Run run{};
  for (auto _ : state) {
    gort_test::HttpServer server;  // its goroutines, whatever the clients are
    server.set_delay_ns(1000 * 1000);
    if (server.Start() != 0) std::abort();
    run.server = &server;
    run.per_client = (int)state.range(1);
    gort_test::ThreadPeak sampler(5000);  // every 5 ms: a look costs ~20 us
    const int before = gort_test::OsThreads();
    int64_t t0 = gort_now();
    launch(&run, clients);
    ns += gort_now() - t0;
    requests += (int64_t)clients * run.per_client;
    most = std::max(most, sampler.Stop() - before);
    server.Stop();
  }
  Report(state, requests, ns, most, run);
}

void BM_CurlGoroutines(benchmark::State& state) {
  CurlClients(state, [](Run* run, int clients) {
    gort_bench::RunMain([&] {
      struct Arg {
        Run* run;
        int id;
        gort_waitgroup* wg;
      };
      gort_waitgroup wg = GORT_WAITGROUP_INIT;
      std::vector<Arg> args(clients);
      gort_waitgroup_add(&wg, clients);
      for (int i = 0; i < clients; i++) {
        args[i] = {run, i, &wg};
        gort_go([](void* p) {
          auto* a = static_cast<Arg*>(p);
          Client(a->run, a->id);
          gort_waitgroup_done(a->wg);
        }, &args[i]);
      }
      gort_waitgroup_wait(&wg);
    });
  });
}

void BM_CurlThreads(benchmark::State& state) {
  CurlClients(state, [](Run* run, int clients) {
    std::vector<pthread_t> threads(clients);
    for (int i = 0; i < clients; i++) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 256 << 10);
      auto* arg = new std::pair<Run*, int>(run, i);
      pthread_create(&threads[i], &attr, [](void* p) -> void* {
        auto* a = static_cast<std::pair<Run*, int>*>(p);
        Client(a->first, a->second);
        delete a;
        return nullptr;
      }, arg);
      pthread_attr_destroy(&attr);
    }
    for (auto& t : threads) pthread_join(t, nullptr);
  });
}

// A call that does not block: write then read one byte, in a goroutine,
// on a pipe (the hooks poll first: two system calls for the read) or a
// socketpair (MSG_DONTWAIT: one).  Per pair of calls.
void CallsThatDoNotBlock(benchmark::State& state, bool socket) {
  const long n = gort_bench::Size(200000);
  int64_t ns = 0;
  for (auto _ : state) {
    gort_bench::RunMain([&] {
      int fd[2];
      if ((socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, fd) : pipe(fd)) != 0) std::abort();
      char c = 'x';
      int64_t t0 = gort_now();
      for (long i = 0; i < n; i++)
        if (write(fd[1], &c, 1) != 1 || read(fd[0], &c, 1) != 1) std::abort();
      ns += gort_now() - t0;
      close(fd[0]);
      close(fd[1]);
    });
  }
  state.counters["ns/pair"] = (double)ns / (double)(n * (int64_t)state.iterations());
}
void BM_PipePair(benchmark::State& state) { CallsThatDoNotBlock(state, false); }
void BM_SocketPair(benchmark::State& state) { CallsThatDoNotBlock(state, true); }
BENCHMARK(BM_PipePair)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SocketPair)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

#ifdef GORT_BENCH_NO_HOOKS
#define CLIENTS {100, 250}
#else
#define CLIENTS {100, 1000}
#endif
BENCHMARK(BM_CurlGoroutines)
    ->ArgsProduct({CLIENTS, {20}})
    ->ArgNames({"clients", "requests_each"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_CurlThreads)
    ->ArgsProduct({CLIENTS, {20}})
    ->ArgNames({"clients", "requests_each"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
#if defined(__SANITIZE_THREAD__) && !defined(GORT_BENCH_NO_HOOKS)
  (void)argc, (void)argv;
  std::printf("hooks: not run under ThreadSanitizer (the hooks replace the calls it intercepts)\n");
  return 0;
#endif
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int r = gort_bench::Main(argc, argv);
  curl_global_cleanup();
  return r;
}
