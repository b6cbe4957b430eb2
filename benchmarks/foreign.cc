// foreign.cc — foreign calls (runtime/core/preempt.c, "foreign calls"):
// plain C code that blocks in the kernel without telling gort, against the
// same code wrapped in gort_syscall_enter/exit, at GORT_MAXPROCS's default.
//   pingpong_*  N goroutines (1, 2, 4) sit in a read() of an empty pipe
//               (each written only when the case ends); meanwhile two
//               goroutines make 200,000 unbuffered round trips, timed from
//               30 ms after every reader started its read (past sysmon's
//               10 ms slice: the steady state)     -> roundtrips/s, ns/roundtrip
//               _foreign  plain read(): sysmon lends Ps
//               _wrapped  the read() between gort_syscall_enter/exit
//               _none     no readers (the baseline)
//   stall_*     N readers (1, 2) start their read(); from the moment the
//               last of them starts it until one round trip between two
//               other goroutines completes; 10 runs -> stall_ms (mean),
//                                                     worst_ms
//               warm:0  the reads start as the main goroutine starts
//               warm:1  after it has run 2 ms (sysmon watching a busy P)
//   call_*      1,000,000 calls that return at once, in a goroutine:
//               getppid() (arg 0) or a read() of an empty O_NONBLOCK pipe,
//               EAGAIN (arg 1)                     -> ns/call
//               _foreign  the plain call
//               _wrapped  between gort_syscall_enter/exit
//               _thread   the plain call on a plain thread (what libc costs)
//               _empty    the loop without the call

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <vector>

#include "benchmarks/bench_main.h"

namespace {

double PerItem(int64_t ns, int64_t items) { return (double)ns / (double)items; }

// ---- goroutines blocked in read() ----------------------------------------

struct Readers {
  bool wrapped;
  std::vector<int> fds;  // read end, write end, read end, write end, ...
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
  std::atomic<int> entered{0};
  std::atomic<int64_t> last_entered{0};  // gort_now() as the last reader started its read
};

struct Reader {
  Readers* rs;
  int fd;
};

void Read(void* p) {
  auto* r = static_cast<Reader*>(p);
  Readers* rs = r->rs;
  char c;
  ssize_t n;
  if (rs->entered.fetch_add(1) + 1 == (int)rs->fds.size() / 2) rs->last_entered = gort_now();
  if (rs->wrapped) {
    gort_syscall_enter();
    n = read(r->fd, &c, 1);
    gort_syscall_exit();
  } else {
    n = read(r->fd, &c, 1);
  }
  if (n != 1) std::abort();
  gort_waitgroup_done(&rs->wg);
}

// Starts n readers; returns once each has started (or is about to start)
// its read().  Yields rather than sleeps: no timer to wait for.
void StartReaders(Readers& rs, std::vector<Reader>& rd, int n) {
  rs.fds.resize(2 * n);
  rd.resize(n);
  for (int i = 0; i < n; i++) {
    if (pipe(&rs.fds[2 * i]) != 0) std::abort();
    rd[i] = {&rs, rs.fds[2 * i]};
  }
  gort_waitgroup_add(&rs.wg, n);
  for (int i = 0; i < n; i++) gort_go(Read, &rd[i]);
  while (n > 0 && rs.last_entered.load() == 0) gort_yield();
}

// Writes every pipe, joins the readers, closes the pipes.
void ReleaseReaders(Readers& rs) {
  for (size_t i = 1; i < rs.fds.size(); i += 2)
    if (write(rs.fds[i], "x", 1) != 1) std::abort();
  gort_waitgroup_wait(&rs.wg);
  for (int fd : rs.fds) close(fd);
}

// ---- the round trips -------------------------------------------------------

struct Echo {
  gort_chan *ping, *pong;
  long n;
  gort_waitgroup wg = GORT_WAITGROUP_INIT;
};

void EchoLoop(void* p) {
  auto* e = static_cast<Echo*>(p);
  long v;
  for (long i = 0; i < e->n; i++) {
    gort_chan_recv(e->ping, &v);
    gort_chan_send(e->pong, &v);
  }
  gort_waitgroup_done(&e->wg);
}

// n round trips with an echo goroutine started here; their wall time in ns.
int64_t RoundTrips(long n) {
  Echo e;
  e.ping = gort_chan_make(sizeof(long), 0);
  e.pong = gort_chan_make(sizeof(long), 0);
  e.n = n;
  gort_waitgroup_add(&e.wg, 1);
  gort_go(EchoLoop, &e);
  int64_t t0 = gort_now();
  for (long i = 0; i < n; i++) {
    long v = i;
    gort_chan_send(e.ping, &v);
    gort_chan_recv(e.pong, &v);
    if (v != i) std::abort();
  }
  int64_t ns = gort_now() - t0;
  gort_waitgroup_wait(&e.wg);
  gort_chan_free(e.ping);
  gort_chan_free(e.pong);
  return ns;
}

enum Mode { kForeign, kWrapped, kNone };

void PingPong(benchmark::State& state, Mode mode) {
  const int readers = mode == kNone ? 0 : (int)state.range(0);
  const long n = gort_bench::Size(200000);
  int64_t ns = 0;
  for (auto _ : state) {
    gort_bench::RunMain([&] {
      Readers rs;
      rs.wrapped = mode == kWrapped;
      std::vector<Reader> rd;
      StartReaders(rs, rd, readers);
      gort_sleep(30 * 1000 * 1000);  // every reader past its 10 ms slice
      ns += RoundTrips(n);
      ReleaseReaders(rs);
    });
  }
  state.counters["roundtrips/s"] = (double)(state.iterations() * n) * 1e9 / (double)ns;
  state.counters["ns/roundtrip"] = PerItem(ns, state.iterations() * n);
}

[[maybe_unused]] void BM_PingPongForeign(benchmark::State& state) { PingPong(state, kForeign); }
void BM_PingPongWrapped(benchmark::State& state) { PingPong(state, kWrapped); }
void BM_PingPongNone(benchmark::State& state) { PingPong(state, kNone); }
// Under ThreadSanitizer the runtime does not look for foreign calls
// (runtime/HACKING.md "Foreign calls"): plain reads blocking every P would
// stall it for good, so those cases are not built there.
#if !defined(__SANITIZE_THREAD__)
#define FOREIGN_CASES 1
#endif
#if defined(FOREIGN_CASES)
BENCHMARK(BM_PingPongForeign)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
#endif
BENCHMARK(BM_PingPongWrapped)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_PingPongNone)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void Stall(benchmark::State& state, Mode mode) {
  const int readers = (int)state.range(0);
  const bool warm = state.range(1) != 0;
  int64_t ns = 0, worst = 0;
  for (auto _ : state) {
    gort_bench::RunMain([&] {
      if (warm) {  // sysmon watches a running P (it looks every 1 ms) before the reads
        int64_t until = gort_now() + 2 * 1000 * 1000;
        while (gort_now() < until) benchmark::ClobberMemory();
      }
      Readers rs;
      rs.wrapped = mode == kWrapped;
      std::vector<Reader> rd;
      StartReaders(rs, rd, readers);
      RoundTrips(1);
      int64_t stall = gort_now() - rs.last_entered.load();
      ns += stall;
      worst = stall > worst ? stall : worst;
      ReleaseReaders(rs);
    });
  }
  state.counters["stall_ms"] = PerItem(ns, state.iterations()) / 1e6;
  state.counters["worst_ms"] = (double)worst / 1e6;
}

[[maybe_unused]] void BM_StallForeign(benchmark::State& state) { Stall(state, kForeign); }
void BM_StallWrapped(benchmark::State& state) { Stall(state, kWrapped); }
// Both stall cases: 1 and 2 readers, reads started at once or after 2 ms.
void StallArgs(benchmark::internal::Benchmark* b) {
  b->ArgsProduct({{1, 2}, {0, 1}})->ArgNames({"readers", "warm"})->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(10);
}
#if defined(FOREIGN_CASES)
BENCHMARK(BM_StallForeign)->Apply(StallArgs);
#endif
BENCHMARK(BM_StallWrapped)->Apply(StallArgs);

// ---- calls that do not block -----------------------------------------------

struct Calls {
  int kind;  // 0 getppid, 1 read of an empty O_NONBLOCK pipe
  bool wrapped, empty;
  int fd;
  long n;
  int64_t ns;
};

// Not inlined into the lambdas: one loop, the same code in every case.
__attribute__((noinline)) void CallLoop(Calls* c) {
  char buf;
  int64_t t0 = gort_now();
  for (long i = 0; i < c->n; i++) {
    long r;
    if (c->empty) {
      r = i;
    } else {
      if (c->wrapped) gort_syscall_enter();
      r = c->kind == 0 ? (long)getppid() : (long)read(c->fd, &buf, 1);
      if (c->wrapped) gort_syscall_exit();
    }
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  c->ns += gort_now() - t0;
}

enum CallMode { kCallForeign, kCallWrapped, kCallThread, kCallEmpty };

void Call(benchmark::State& state, CallMode mode) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK) != 0) std::abort();
  Calls c = {mode == kCallEmpty ? 0 : (int)state.range(0), mode == kCallWrapped, mode == kCallEmpty, fds[0], gort_bench::Size(1000000), 0};
  if (c.kind == 1) {  // the call does what it is meant to: EAGAIN
    char buf;
    if (read(fds[0], &buf, 1) != -1 || errno != EAGAIN) std::abort();
  }
  for (auto _ : state) {
    if (mode == kCallThread)
      CallLoop(&c);
    else
      gort_bench::RunMain([&] { CallLoop(&c); });
  }
  state.counters["ns/call"] = PerItem(c.ns, state.iterations() * c.n);
  close(fds[0]);
  close(fds[1]);
}

void BM_CallForeign(benchmark::State& state) { Call(state, kCallForeign); }
void BM_CallWrapped(benchmark::State& state) { Call(state, kCallWrapped); }
void BM_CallThread(benchmark::State& state) { Call(state, kCallThread); }
void BM_CallEmpty(benchmark::State& state) { Call(state, kCallEmpty); }
BENCHMARK(BM_CallForeign)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_CallWrapped)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_CallThread)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_CallEmpty)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) { return gort_bench::Main(argc, argv); }
