// soak — everything at once, round after round, until the time is up
// (issue 6).  Tagged manual: `bazel test //...` skips it; CI runs it for
// 60 s natively and under qemu (.ci/run):
//
//   tools/bazel test //tests:soak --test_env=GORT_SOAK_SECONDS=60
//
// Environment: GORT_SOAK_SECONDS (default 10), GORT_SOAK_SEED (default:
// GORT_TEST_SEED, else a fresh one; printed, so a failing run can be
// repeated with it),
// GORT_SOAK_PARTS (a comma list of the parts below to run; default all),
// GORT_SOAK_VERBOSE (a second line per round: each part's time and counts).
//
// Each round (0.5-1.5 s natively, about as long under qemu with a quarter
// of the work) runs these parts concurrently, as goroutines on every P and
// on plain threads:
//   spawn     bursts of thousands of short goroutines (one in 8 with a stack
//             size of its own, whose pages it touches and checks across a
//             switch), all of a burst waiting at a gate until it is
//             complete; chained spawns; a plain thread spawning bursts too;
//   pipeline  producers -> 4 channels (unbuffered, cap 1, 8, 64) -> consumers:
//             (producer, seq) values sent by plain sends, sends with
//             timeouts and selects (with timeouts, default, or a timer's
//             channel as the timeout); received through random selects and
//             timed receives; a goroutine and a thread on each side.
//             Exactly once (a bitmap), and FIFO per channel and producer
//             as each consumer sees it; then close, drain, all -EPIPE;
//   timers    one-shot timers received (never early, never twice), stopped
//             before firing and about when they fire; periodic ones
//             (tick k never before its k-th time, increasing), stopped while
//             ticking; gort_sleep never short; also on a plain thread;
//   sync      gort_mutex (lock and trylock), rwmutex (readers check the
//             writers' two counters agree), cond (a bounded queue), sema
//             (never more than 3 inside), once (one call, every caller
//             sees its effect), a waitgroup gate many wait on: exact counts;
//   echo      a server on 127.0.0.1 port 0, one goroutine per connection
//             (gort_accept/gort_read/gort_write), and clients whose writer
//             goroutine sends messages of random sizes (1 B .. 64 KiB)
//             while a reader (a goroutine, or a plain thread) checks every
//             byte back, in order, and then end of file: exactly once;
//   spinners  one call-free loop per P until the round's work is done: the
//             work above only finishes if they are preempted.
// After each round: every goroutine has exited (gort_stats back to the
// baseline taken before round 1), every descriptor is closed (/proc/self/fd
// back to its baseline), resident memory has not grown (see kRssSlackKiB),
// and every count above is exact.  One line per round on stdout; a failure
// prints "soak: FAIL: <invariant>" to stderr and the test exits 1.  A round
// that hangs is reported by a watchdog thread (parts still running, their
// counters, gort_dump) well before Bazel's timeout.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

namespace {

using gort_test::UnderQemu;

// Work per round: n natively, n/4 under qemu (a round then takes about as
// long as natively: much of it is timers and sleeps, and the rest runs
// 2-4x slower).  Not gort_test::Scale: the soak's length is
// GORT_SOAK_SECONDS, and GORT_TEST_LONG does not apply.
long Scale(long n) { return UnderQemu() ? (n / 4 > 0 ? n / 4 : 1) : n; }

constexpr int64_t kUs = 1000, kMs = 1000 * kUs, kSec = 1000 * kMs;

// ---- failures ----------------------------------------------------------------

std::atomic<long> g_failures{0};
std::atomic<long> g_custom_spawned{0};  // goroutines started with a stack of their own size

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    p += w, n -= (size_t)w;
  }
}

// Callable from goroutines and threads alike: formats on the caller's
// stack and writes with write(2) (no stdio lock, which a preempted
// goroutine could hold across a thread switch).  The first 50 are printed.
__attribute__((format(printf, 1, 2))) void Fail(const char* fmt, ...) {
  char line[400];
  int n = snprintf(line, sizeof line, "soak: FAIL: ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  n += m < 0 ? 0 : m;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  if (g_failures.fetch_add(1) < 50) WriteAll(2, line, (size_t)n);
}

// ---- small helpers -------------------------------------------------------------

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull ^ 0x2545F4914F6CDD1Dull) {
    if (s == 0) s = 1;
    for (int i = 0; i < 4; i++) Next();
  }
  uint64_t Next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
};

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b;
  x ^= x >> 31, x *= 0xBF58476D1CE4E5B9ull, x ^= x >> 29;
  return x;
}

gort_stats Stats() {
  gort_stats s;
  gort_stats_get(&s);
  return s;
}

// Open descriptors (the directory's own is not counted, nor the two each
// runtime thread keeps on its own /proc/self/task/TID/{status,syscall}:
// they come and go with threads, not with I/O).
int CountFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    char target[256];
    ssize_t len = readlink(path.c_str(), target, sizeof target - 1);
    if (len > 0) {
      target[len] = '\0';
      std::string t(target);
      bool probe = t.find("/task/") != std::string::npos &&
                   (t.size() > 7 && (t.compare(t.size() - 7, 7, "/status") == 0 ||
                                     (t.size() > 8 && t.compare(t.size() - 8, 8, "/syscall") == 0)));
      if (probe) continue;
    }
    n++;
  }
  closedir(d);
  return n - 1;
}

long RssKiB() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// GORT_SOAK_PARTS: a comma list of the parts to run (default: all), to
// narrow a failure down.
bool Enabled(const char* part) {
  const char* list = getenv("GORT_SOAK_PARTS");
  if (list == nullptr || *list == 0) return true;
  std::string l = std::string(",") + list + ",";
  return l.find(std::string(",") + part + ",") != std::string::npos;
}

bool AsyncPreemptOff() {
  const char* d = getenv("GORT_DEBUG");
  if (d == nullptr) return false;
  const char* p = strstr(d, "asyncpreemptoff=");
  return p != nullptr && atoi(p + strlen("asyncpreemptoff=")) != 0;
}

// Start fn as a goroutine counted in wg (added here); a failure to start is
// a failure of the soak.  (Not a gort_test::Group: the soak is no gtest
// program and reports with Fail(), not ASSERT; done follows fn however it
// returns, and its waitgroups also count plain threads and gates.)
void Go(gort_waitgroup* wg, std::function<void()> fn, const gort_go_attr* attr = nullptr) {
  gort_waitgroup_add(wg, 1);
  int rc = gort_test::Go(
      [wg, fn = std::move(fn)] {
        fn();
        gort_waitgroup_done(wg);
      },
      attr);
  if (rc != 0) {
    Fail("gort_go_with: %d", rc);
    gort_waitgroup_done(wg);
  }
}

// A plain thread becomes known to the runtime (for its deadlock check) the
// first time it blocks in it: block once, briefly, before anything else.
void Introduce() {
  static gort_chan* never = gort_chan_make(0, 0);
  gort_chan_recv_timeout(never, nullptr, 1000);
}

// Work per round.  Counts are for a native run; Scale() divides the
// iteration counts by 4 under qemu.
struct Sizes {
  int spawners = 3, bursts = 8;  // each spawner (and one thread): bursts of burst_size
  long burst_size = Scale(2500);
  int chains = 4;
  long chain_depth = Scale(4000);
  int producers = 6, consumers = 6;  // goroutines; plus one thread on each side
  long per_producer = Scale(10000);
  int timer_workers = 16;  // goroutines; plus one thread
  long timer_ops = Scale(100);
  int mutex_workers = 8;  // plus one thread
  long mutex_iters = Scale(40000);
  int rw_writers = 2, rw_readers = 6;
  long rw_iters = Scale(10000);
  int cond_producers = 4, cond_consumers = 4;  // consumers: plus one thread
  long cond_items = Scale(10000);
  int sema_workers = 16;
  long sema_iters = Scale(1000);
  int once_callers = 32, gate_waiters = 32;  // plus one thread each
  int echo_clients = 12, echo_thread_clients = 2;
  long echo_messages = Scale(256);
};

struct Round;

// ---- parts -----------------------------------------------------------------------
// Each part: a constructor on the main thread (objects, plain threads),
// Run() in a goroutine (returns when its goroutines and threads are done),
// Verify() on the main thread after the round.

struct Part {
  explicit Part(const char* n) : name(n) {}
  virtual ~Part() = default;
  virtual void Run() = 0;
  virtual void Verify() {}
  virtual std::string Progress() { return ""; }
  const char* name;
  std::atomic<bool> done{false};
  int64_t seconds_ns = 0;  // how long Run() took
};

struct Round {
  int index;
  uint64_t seed;
  Sizes z;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<Part>> parts;
  std::atomic<long> messages{0};  // pipeline values + cond items + echo messages
  std::atomic<bool> stop_spin{false};
  std::atomic<uint64_t> spin_iters{0};
  std::atomic<int> spinners_done{0};
  int spinners = 0;
};

// -- spawn --------------------------------------------------------------------------

struct SpawnPart : Part {
  Round& R;
  gort_waitgroup threads_wg = GORT_WAITGROUP_INIT;
  std::atomic<long> ran{0}, spawned{0}, chain_links{0};
  std::vector<gort_chan*> chain_done;

  // A burst's goroutines first wait at its gate, which opens once every
  // spawner has started its burst of that number: each burst has all its
  // goroutines alive at once ((spawners + 1) * burst_size, every round the
  // same), so the stacks kept for reuse reach their number in round 1 and
  // later rounds need no more (see kRssSlackKiB).
  static constexpr int kMaxBursts = 16;
  gort_waitgroup gates[kMaxBursts] = {};
  struct Burst {
    gort_waitgroup* gate;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    std::atomic<long> ran{0};
  };
  struct Chain {
    SpawnPart* s;
    std::atomic<long> left;
    gort_chan* done;
  };

  explicit SpawnPart(Round& r) : Part("spawn"), R(r) {
    for (int i = 0; i < R.z.chains; i++) chain_done.push_back(gort_chan_make(0, 1));
    if (R.z.bursts > kMaxBursts) R.z.bursts = kMaxBursts;
    for (int b = 0; b < R.z.bursts; b++) gort_waitgroup_add(&gates[b], R.z.spawners + 1);
    gort_waitgroup_add(&threads_wg, 1);
    R.threads.emplace_back([this] {
      Introduce();
      Spawner(1000);
      gort_waitgroup_done(&threads_wg);
    });
  }
  ~SpawnPart() override {
    for (auto* c : chain_done) gort_chan_free(c);
  }

  static void Child(void* a) {
    auto* b = static_cast<Burst*>(a);
    gort_waitgroup_wait(b->gate);
    b->ran++;
    gort_waitgroup_done(&b->wg);
  }
  // A goroutine with a stack of its own that touches kTouch bytes of it.
  template <size_t kTouch>
  static void StackChild(void* a) {
    volatile char buf[kTouch];
    for (size_t i = 0; i < kTouch; i += 2048) buf[i] = (char)(i >> 11);
    buf[kTouch - 1] = 1;
    gort_yield();  // the stack survives a switch
    for (size_t i = 0; i < kTouch; i += 2048)
      if (buf[i] != (char)(i >> 11)) Fail("spawn: a %zu-byte stack frame changed across a yield", kTouch);
    Child(a);
  }

  void Spawner(int id) {
    Rng rng(Mix(R.seed, 100 + id));
    static const gort_go_attr attrs[4] = {
        {16 << 10, "soak-16k"}, {32 << 10, "soak-32k"}, {128 << 10, "soak-128k"}, {1 << 20, "soak-1m"}};
    static void (*const fns[4])(void*) = {StackChild<4 << 10>, StackChild<16 << 10>, StackChild<64 << 10>,
                                          StackChild<128 << 10>};
    for (int b = 0; b < R.z.bursts; b++) {
      Burst burst;
      burst.gate = &gates[b];
      long n = R.z.burst_size;
      gort_waitgroup_add(&burst.wg, n);
      for (long i = 0; i < n; i++) {
        int rc;
        if (rng.Below(8) == 0) {
          int k = (int)rng.Below(4);
          rc = gort_go_with(fns[k], &burst, &attrs[k]);
          if (rc == 0) g_custom_spawned++;
        } else {
          rc = gort_go(Child, &burst);
        }
        if (rc != 0) {
          Fail("spawn: gort_go: %d", rc);
          gort_waitgroup_done(&burst.wg);
        } else {
          spawned++;
        }
      }
      gort_waitgroup_done(burst.gate);
      gort_waitgroup_wait(&burst.wg);
      long got = burst.ran.load();
      if (got != n) Fail("spawn: waitgroup of a burst of %ld returned after %ld ran", n, got);
      ran += got;
    }
  }

  static void Link(void* a) {
    auto* c = static_cast<Chain*>(a);
    SpawnPart* s = c->s;  // c lives on the chain owner's stack: gone once the last link sends
    s->chain_links++;
    if (c->left.fetch_sub(1) > 1) {
      int rc = gort_go(Link, c);
      if (rc == 0) {
        s->spawned++;
        return;
      }
      Fail("spawn: chained gort_go: %d", rc);
    }
    gort_chan_send(c->done, nullptr);
  }

  void Run() override {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    for (int i = 0; i < R.z.spawners; i++) Go(&wg, [this, i] { Spawner(i); });
    for (int i = 0; i < R.z.chains; i++)
      Go(&wg, [this, i] {
        Chain c{this, {R.z.chain_depth}, chain_done[i]};
        int rc = gort_go(Link, &c);
        if (rc != 0) {
          Fail("spawn: gort_go: %d", rc);
          return;
        }
        spawned++;
        gort_chan_recv(c.done, nullptr);
        if (c.left.load() != 0) Fail("spawn: chain ended with %ld links left", c.left.load());
      });
    gort_waitgroup_wait(&wg);
    gort_waitgroup_wait(&threads_wg);
  }

  void Verify() override {
    long want = (long)(R.z.spawners + 1) * R.z.bursts * R.z.burst_size;
    if (ran.load() != want) Fail("spawn: %ld burst goroutines ran, want %ld", ran.load(), want);
    if (chain_links.load() != R.z.chains * R.z.chain_depth)
      Fail("spawn: %ld chain links ran, want %ld", chain_links.load(), R.z.chains * R.z.chain_depth);
  }
  std::string Progress() override {
    return "ran " + std::to_string(ran.load()) + ", chain links " + std::to_string(chain_links.load());
  }
};

// -- pipeline -----------------------------------------------------------------------

struct PipelinePart : Part {
  static constexpr int kChans = 4;
  struct Msg {
    uint32_t producer, seq;
  };
  Round& R;
  gort_chan* ch[kChans];
  int nprod;  // goroutines + the thread
  long each;
  std::vector<std::atomic<uint8_t>> seen;
  std::atomic<long> received{0}, sent{0}, retries{0};
  gort_waitgroup prod_wg = GORT_WAITGROUP_INIT, cons_wg = GORT_WAITGROUP_INIT;

  explicit PipelinePart(Round& r)
      : Part("pipeline"),
        R(r),
        nprod(r.z.producers + 1),
        each(r.z.per_producer),
        seen((size_t)(r.z.producers + 1) * r.z.per_producer) {
    static const size_t caps[kChans] = {0, 1, 8, 64};
    for (int i = 0; i < kChans; i++) ch[i] = gort_chan_make(sizeof(Msg), caps[i]);
    gort_waitgroup_add(&prod_wg, 1);
    gort_waitgroup_add(&cons_wg, 1);
    R.threads.emplace_back([this] {
      Introduce();
      Produce(nprod - 1);
      gort_waitgroup_done(&prod_wg);
    });
    R.threads.emplace_back([this] {
      Introduce();
      Consume(1000);
      gort_waitgroup_done(&cons_wg);
    });
  }
  ~PipelinePart() override {
    for (auto* c : ch) gort_chan_free(c);
  }

  void Produce(int p) {
    Rng rng(Mix(R.seed, 200 + p));
    for (long s = 0; s < each; s++) {
      Msg m{(uint32_t)p, (uint32_t)s};
      for (;;) {
        uint64_t how = rng.Below(8);
        int rc;
        if (how == 0) {
          rc = gort_chan_send(ch[rng.Below(kChans)], &m);
          if (rc != 0) Fail("pipeline: send: %d", rc);
          break;
        }
        if (how <= 2) {
          int64_t t = rng.Below(3) == 0 ? 0 : (int64_t)rng.Below(200 * kUs);
          rc = gort_chan_send_timeout(ch[rng.Below(kChans)], &m, t);
          if (rc == 0) break;
          if (rc != -ETIMEDOUT && rc != -EAGAIN) {
            Fail("pipeline: send_timeout(%lld): %d", (long long)t, rc);
            break;
          }
          retries++;
          continue;
        }
        gort_case cs[kChans + 1];
        for (int c = 0; c < kChans; c++) cs[c] = {ch[c], GORT_SEND, &m, 0};
        size_t n = kChans;
        int64_t t;
        gort_timer* tm = nullptr;
        uint64_t which = rng.Below(4);
        if (which == 0) {
          t = 0;  // default:
        } else if (which == 1) {
          t = -1;
        } else if (which == 2) {
          t = (int64_t)rng.Below(500 * kUs) + 1;
        } else {  // time.After as the timeout case
          tm = gort_timer_start((int64_t)rng.Below(300 * kUs), 0);
          if (tm == nullptr) {
            Fail("pipeline: gort_timer_start: errno %d", errno);
            t = 0;
          } else {
            cs[n++] = {gort_timer_chan(tm), GORT_RECV, nullptr, 0};
            t = -1;
          }
        }
        int k = gort_select(cs, n, t);
        if (tm != nullptr && (rc = gort_timer_stop(tm)) != 0) Fail("pipeline: gort_timer_stop: %d", rc);
        if (k >= 0 && k < kChans) {
          if (cs[k].result != 0) Fail("pipeline: select sent on closed channel %d: %d", k, cs[k].result);
          break;
        }
        if (!(k == kChans || k == -EAGAIN || k == -ETIMEDOUT)) {
          Fail("pipeline: select(send, timeout %lld): %d", (long long)t, k);
          break;
        }
        retries++;
      }
      sent++;
    }
  }

  void Got(int c, const Msg& m, std::vector<int64_t>& last) {
    if (m.producer >= (uint32_t)nprod || m.seq >= (uint64_t)each) {
      Fail("pipeline: received garbage (producer %u, seq %u) on channel %d", m.producer, m.seq, c);
      return;
    }
    size_t i = (size_t)m.producer * (size_t)each + m.seq;
    if (seen[i].fetch_add(1) != 0) Fail("pipeline: producer %u seq %u received twice", m.producer, m.seq);
    int64_t& l = last[(size_t)c * nprod + m.producer];
    if ((int64_t)m.seq <= l)
      Fail("pipeline: channel %d gave producer %u's seq %u after its seq %lld (not FIFO)", c, m.producer, m.seq,
           (long long)l);
    l = m.seq;
    received++;
    R.messages++;
  }

  void Consume(int id) {
    Rng rng(Mix(R.seed, 300 + id));
    gort_chan* open[kChans];
    for (int c = 0; c < kChans; c++) open[c] = ch[c];
    std::vector<int64_t> last((size_t)kChans * nprod, -1);
    int nopen = kChans;
    while (nopen > 0) {
      Msg m{~0u, ~0u};
      uint64_t how = rng.Below(6);
      if (how == 0) {
        int c = (int)rng.Below(kChans);
        if (open[c] == nullptr) continue;
        int64_t t = rng.Below(2) ? 0 : (int64_t)rng.Below(100 * kUs);
        int rc = gort_chan_recv_timeout(open[c], &m, t);
        if (rc == 0) {
          Got(c, m, last);
        } else if (rc == -EPIPE) {
          if (m.producer != 0 || m.seq != 0) Fail("pipeline: -EPIPE receive left a value in elem");
          open[c] = nullptr, nopen--;
        } else if (rc != -ETIMEDOUT && rc != -EAGAIN) {
          Fail("pipeline: recv_timeout: %d", rc);
        }
        continue;
      }
      gort_case cs[kChans + 1];
      for (int c = 0; c < kChans; c++) cs[c] = {open[c], GORT_RECV, &m, 0};
      size_t n = kChans;
      int64_t t;
      gort_timer* tm = nullptr;
      uint64_t which = rng.Below(4);
      if (which == 0) {
        t = 0;
      } else if (which == 1) {
        t = -1;
      } else if (which == 2) {
        t = (int64_t)rng.Below(1 * kMs) + 1;
      } else {
        tm = gort_timer_start((int64_t)rng.Below(300 * kUs), 0);
        if (tm == nullptr) {
          Fail("pipeline: gort_timer_start: errno %d", errno);
          t = 0;
        } else {
          cs[n++] = {gort_timer_chan(tm), GORT_RECV, nullptr, 0};
          t = -1;
        }
      }
      int k = gort_select(cs, n, t);
      int rc;
      if (tm != nullptr && (rc = gort_timer_stop(tm)) != 0) Fail("pipeline: gort_timer_stop: %d", rc);
      if (k >= 0 && k < kChans) {
        if (open[k] == nullptr) {
          Fail("pipeline: select chose a NULL case %d", k);
        } else if (cs[k].result == 0) {
          Got(k, m, last);
        } else if (cs[k].result == -EPIPE) {
          open[k] = nullptr, nopen--;
        } else {
          Fail("pipeline: select case result %d", cs[k].result);
        }
      } else if (!(k == kChans || k == -EAGAIN || k == -ETIMEDOUT)) {
        Fail("pipeline: select(recv, timeout %lld): %d", (long long)t, k);
      }
    }
  }

  void Run() override {
    for (int p = 0; p < R.z.producers; p++) Go(&prod_wg, [this, p] { Produce(p); });
    for (int c = 0; c < R.z.consumers; c++) Go(&cons_wg, [this, c] { Consume(c); });
    gort_waitgroup_wait(&prod_wg);
    for (int c = 0; c < kChans; c++) {
      int rc = gort_chan_close(ch[c]);
      if (rc != 0) Fail("pipeline: close: %d", rc);
    }
    gort_waitgroup_wait(&cons_wg);  // consumers drain, then see -EPIPE everywhere
  }

  void Verify() override {
    long want = (long)nprod * each;
    if (sent.load() != want) Fail("pipeline: %ld sent, want %ld", sent.load(), want);
    if (received.load() != want) Fail("pipeline: %ld received, want %ld", received.load(), want);
    long lost = 0;
    for (size_t i = 0; i < seen.size(); i++)
      if (seen[i].load() == 0 && lost++ < 5)
        Fail("pipeline: producer %zu seq %zu never received", i / (size_t)each, i % (size_t)each);
    if (lost > 0) Fail("pipeline: %ld values lost", lost);
    for (int c = 0; c < kChans; c++)
      if (gort_chan_len(ch[c]) != 0) Fail("pipeline: channel %d holds %zu after the drain", c, gort_chan_len(ch[c]));
  }
  std::string Progress() override {
    return "sent " + std::to_string(sent.load()) + ", received " + std::to_string(received.load()) + " of " +
           std::to_string((long)nprod * each);
  }
};

// -- timers --------------------------------------------------------------------------

struct TimerPart : Part {
  Round& R;
  gort_waitgroup threads_wg = GORT_WAITGROUP_INIT;
  std::atomic<long> ops{0}, fired{0}, ticks{0};
  int64_t patience = (UnderQemu() ? 60 : 20) * kSec;  // a timer that never fires: fail, do not hang

  explicit TimerPart(Round& r) : Part("timers"), R(r) {
    gort_waitgroup_add(&threads_wg, 1);
    R.threads.emplace_back([this] {
      Introduce();
      Work(1000, R.z.timer_ops / 4 + 1);
      gort_waitgroup_done(&threads_wg);
    });
  }

  void Stop(gort_timer* t) {
    int rc = gort_timer_stop(t);
    if (rc != 0) Fail("timers: gort_timer_stop: %d", rc);
  }

  void Work(int id, long n) {
    Rng rng(Mix(R.seed, 400 + id));
    for (long i = 0; i < n; i++, ops++) {
      int64_t when = 0, t0 = gort_now();
      switch (rng.Below(5)) {
        case 0: {  // one-shot, received: never early, never twice
          int64_t after = (int64_t)rng.Below(3 * kMs);
          gort_timer* t = gort_timer_start(after, 0);
          if (t == nullptr) {
            Fail("timers: gort_timer_start: errno %d", errno);
            break;
          }
          int rc = gort_chan_recv_timeout(gort_timer_chan(t), &when, patience);
          int64_t t1 = gort_now();
          if (rc != 0) {
            Fail("timers: one-shot of %lld ns: receive: %d", (long long)after, rc);
          } else {
            fired++;
            if (when < t0 + after)
              Fail("timers: one-shot of %lld ns fired %lld ns early", (long long)after, (long long)(t0 + after - when));
            if (when > t1) Fail("timers: one-shot's fire time is %lld ns in the future", (long long)(when - t1));
            rc = gort_chan_recv_timeout(gort_timer_chan(t), &when, (int64_t)rng.Below(2 * kMs) + 1);
            if (rc != -ETIMEDOUT)
              Fail("timers: one-shot of %lld ns fired twice (second receive: %d)", (long long)after, rc);
          }
          Stop(t);
          break;
        }
        case 1: {  // stopped long before it fires
          int64_t after = 20 * kMs + (int64_t)rng.Below(30 * kMs);
          gort_timer* t = gort_timer_start(after, 0);
          if (t == nullptr) {
            Fail("timers: gort_timer_start: errno %d", errno);
            break;
          }
          gort_sleep((int64_t)rng.Below(1 * kMs));
          size_t len = gort_chan_len(gort_timer_chan(t));
          if (len != 0 && gort_now() < t0 + after) Fail("timers: a %lld ns one-shot fired early", (long long)after);
          Stop(t);
          break;
        }
        case 2: {  // stopped about when it fires
          int64_t after = (int64_t)rng.Below(500 * kUs);
          gort_timer* t = gort_timer_start(after, 0);
          if (t == nullptr) {
            Fail("timers: gort_timer_start: errno %d", errno);
            break;
          }
          int64_t nap = after + (int64_t)rng.Below(100 * kUs) - 50 * kUs;
          if (nap > 0) gort_sleep(nap);
          if (gort_chan_recv_timeout(gort_timer_chan(t), &when, 0) == 0) {
            fired++;
            if (when < t0 + after)
              Fail("timers: one-shot of %lld ns fired %lld ns early", (long long)after, (long long)(t0 + after - when));
            if (gort_chan_len(gort_timer_chan(t)) != 0) Fail("timers: one-shot fired twice");
          }
          Stop(t);
          break;
        }
        case 3: {  // periodic: tick k no sooner than its k-th time; stopped while ticking
          int64_t period = 200 * kUs + (int64_t)rng.Below(1800 * kUs), last = 0;
          int n_ticks = 2 + (int)rng.Below(5);
          gort_timer* t = gort_timer_start(period, period);
          if (t == nullptr) {
            Fail("timers: gort_timer_start: errno %d", errno);
            break;
          }
          for (int k = 0; k < n_ticks; k++) {
            int rc = gort_chan_recv_timeout(gort_timer_chan(t), &when, patience);
            if (rc != 0) {
              Fail("timers: ticker of %lld ns: tick %d: receive: %d", (long long)period, k, rc);
              break;
            }
            ticks++;
            if (when < t0 + (k + 1) * period)
              Fail("timers: ticker of %lld ns: tick %d at +%lld ns (early)", (long long)period, k,
                   (long long)(when - t0));
            if (when <= last) Fail("timers: ticker's fire times not increasing");
            last = when;
          }
          gort_sleep((int64_t)rng.Below((uint64_t)period));
          Stop(t);
          break;
        }
        default: {  // gort_sleep is never short
          int64_t d = (int64_t)rng.Below(2 * kMs);
          gort_sleep(d);
          int64_t slept = gort_now() - t0;
          if (slept < d) Fail("timers: gort_sleep(%lld) returned after %lld ns", (long long)d, (long long)slept);
        }
      }
    }
  }

  void Run() override {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    for (int i = 0; i < R.z.timer_workers; i++) Go(&wg, [this, i] { Work(i, R.z.timer_ops); });
    gort_waitgroup_wait(&wg);
    gort_waitgroup_wait(&threads_wg);
  }
  void Verify() override {
    long want = R.z.timer_workers * R.z.timer_ops + R.z.timer_ops / 4 + 1;
    if (ops.load() != want) Fail("timers: %ld operations done, want %ld", ops.load(), want);
  }
  std::string Progress() override {
    return "ops " + std::to_string(ops.load()) + ", fired " + std::to_string(fired.load()) + ", ticks " +
           std::to_string(ticks.load());
  }
};

// -- sync ----------------------------------------------------------------------------

struct SyncPart : Part {
  Round& R;
  gort_waitgroup threads_wg = GORT_WAITGROUP_INIT;
  // mutex: a counter incremented by a non-atomic read-modify-write (relaxed
  // load, then store): a lost update shows in the total.
  gort_mutex mu = GORT_MUTEX_INIT;
  std::atomic<long> counter{0};
  // rwmutex: writers bump a, then b; readers must find them equal.
  gort_rwmutex rw = GORT_RWMUTEX_INIT;
  std::atomic<long> ra{0}, rb{0}, reads{0};
  // cond: a bounded queue of 8.
  gort_mutex qmu = GORT_MUTEX_INIT;
  gort_cond not_empty = GORT_COND_INIT, not_full = GORT_COND_INIT;
  long q[8];
  int qhead = 0, qlen = 0;
  bool qclosed = false;
  std::vector<std::atomic<uint8_t>> qseen;
  std::atomic<long> popped{0};
  // sema: at most 3 inside.
  gort_sema sema = GORT_SEMA_INIT(3);
  std::atomic<int> inside{0};
  std::atomic<long> entries{0};
  // once
  gort_once once = GORT_ONCE_INIT;
  std::atomic<int> once_calls{0}, once_value{0};
  std::atomic<long> once_returns{0};
  // a gate many wait on
  gort_waitgroup gate = GORT_WAITGROUP_INIT;
  std::atomic<long> through_gate{0};
  std::atomic<bool> gate_open{false};

  explicit SyncPart(Round& r) : Part("sync"), R(r), qseen((size_t)r.z.cond_producers * r.z.cond_items) {
    gort_waitgroup_add(&gate, 1);
    gort_waitgroup_add(&threads_wg, 4);
    R.threads.emplace_back([this] {  // mutex
      Introduce();
      MutexWork(1000, R.z.mutex_iters);
      gort_waitgroup_done(&threads_wg);
    });
    R.threads.emplace_back([this] {  // cond consumer
      Introduce();
      CondConsume();
      gort_waitgroup_done(&threads_wg);
    });
    R.threads.emplace_back([this] {  // once
      Introduce();
      Once();
      gort_waitgroup_done(&threads_wg);
    });
    R.threads.emplace_back([this] {  // gate
      Introduce();
      Gate();
      gort_waitgroup_done(&threads_wg);
    });
  }

  void MutexWork(int id, long n) {
    Rng rng(Mix(R.seed, 500 + id));
    for (long i = 0; i < n; i++) {
      int rc;
      if (rng.Below(8) == 0) {
        while ((rc = gort_mutex_trylock(&mu)) == -EBUSY) gort_yield();
        if (rc != 0) Fail("sync: trylock: %d", rc);
      } else if ((rc = gort_mutex_lock(&mu)) != 0) {
        Fail("sync: lock: %d", rc);
      }
      long v = counter.load(std::memory_order_relaxed);
      if (rng.Below(256) == 0) gort_yield();  // hold it across a switch now and then
      counter.store(v + 1, std::memory_order_relaxed);
      if ((rc = gort_mutex_unlock(&mu)) != 0) Fail("sync: unlock: %d", rc);
    }
  }

  void RwWrite(int id) {
    Rng rng(Mix(R.seed, 600 + id));
    for (long i = 0; i < R.z.rw_iters; i++) {
      gort_rwmutex_lock(&rw);
      long a = ra.load(std::memory_order_relaxed);
      ra.store(a + 1, std::memory_order_relaxed);
      if (rng.Below(64) == 0) gort_yield();
      rb.store(rb.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      int rc = gort_rwmutex_unlock(&rw);
      if (rc != 0) Fail("sync: rwmutex_unlock: %d", rc);
    }
  }
  void RwRead(int id) {
    Rng rng(Mix(R.seed, 700 + id));
    for (long i = 0; i < R.z.rw_iters; i++) {
      gort_rwmutex_rlock(&rw);
      long a = ra.load(std::memory_order_relaxed);
      if (rng.Below(64) == 0) gort_yield();
      long b = rb.load(std::memory_order_relaxed);
      if (a != b) Fail("sync: a reader saw a writer's half update (a %ld, b %ld)", a, b);
      reads++;
      int rc = gort_rwmutex_runlock(&rw);
      if (rc != 0) Fail("sync: rwmutex_runlock: %d", rc);
    }
  }

  void CondProduce(int p) {
    Rng rng(Mix(R.seed, 800 + p));
    for (long i = 0; i < R.z.cond_items; i++) {
      gort_mutex_lock(&qmu);
      while (qlen == 8) gort_cond_wait(&not_full, &qmu);
      q[(qhead + qlen++) % 8] = p * R.z.cond_items + i;
      if (rng.Below(4) == 0)
        gort_cond_broadcast(&not_empty);
      else
        gort_cond_signal(&not_empty);
      gort_mutex_unlock(&qmu);
    }
  }
  void CondConsume() {
    for (;;) {
      gort_mutex_lock(&qmu);
      while (qlen == 0 && !qclosed) gort_cond_wait(&not_empty, &qmu);
      if (qlen == 0) {
        gort_mutex_unlock(&qmu);
        return;
      }
      long v = q[qhead];
      qhead = (qhead + 1) % 8, qlen--;
      gort_cond_signal(&not_full);
      gort_mutex_unlock(&qmu);
      if (v < 0 || v >= (long)qseen.size())
        Fail("sync: cond queue gave garbage %ld", v);
      else if (qseen[(size_t)v].fetch_add(1) != 0)
        Fail("sync: cond queue gave %ld twice", v);
      popped++;
      R.messages++;
    }
  }

  void SemaWork(int id) {
    Rng rng(Mix(R.seed, 900 + id));
    for (long i = 0; i < R.z.sema_iters; i++) {
      gort_sema_acquire(&sema);
      int in = ++inside;
      if (in > 3) Fail("sync: %d inside a semaphore of 3", in);
      if (rng.Below(4) == 0) gort_yield();
      inside--;
      entries++;
      gort_sema_release(&sema);
    }
  }

  static void OnceFn(void* a) {
    auto* s = static_cast<SyncPart*>(a);
    s->once_calls++;
    gort_sleep(1 * kMs);  // the others wait meanwhile
    s->once_value.store(42);
  }
  void Once() {
    int rc = gort_once_do(&once, OnceFn, this);
    if (rc != 0) Fail("sync: once_do: %d", rc);
    if (once_value.load() != 42) Fail("sync: once_do returned before the function finished");
    once_returns++;
  }

  void Gate() {
    gort_waitgroup_wait(&gate);
    if (!gate_open.load()) Fail("sync: waitgroup_wait returned while the counter was 1");
    through_gate++;
  }

  void Run() override {
    gort_waitgroup wg = GORT_WAITGROUP_INIT, cons = GORT_WAITGROUP_INIT, prod = GORT_WAITGROUP_INIT;
    for (int i = 0; i < R.z.gate_waiters; i++) Go(&wg, [this] { Gate(); });
    for (int i = 0; i < R.z.once_callers; i++) Go(&wg, [this] { Once(); });
    for (int i = 0; i < R.z.mutex_workers; i++) Go(&wg, [this, i] { MutexWork(i, R.z.mutex_iters); });
    for (int i = 0; i < R.z.rw_writers; i++) Go(&wg, [this, i] { RwWrite(i); });
    for (int i = 0; i < R.z.rw_readers; i++) Go(&wg, [this, i] { RwRead(i); });
    for (int i = 0; i < R.z.sema_workers; i++) Go(&wg, [this, i] { SemaWork(i); });
    for (int i = 0; i < R.z.cond_producers; i++) Go(&prod, [this, i] { CondProduce(i); });
    for (int i = 0; i < R.z.cond_consumers; i++) Go(&cons, [this] { CondConsume(); });
    gort_sleep(2 * kMs);
    gate_open.store(true);
    gort_waitgroup_done(&gate);
    gort_waitgroup_wait(&prod);
    gort_mutex_lock(&qmu);
    qclosed = true;
    gort_cond_broadcast(&not_empty);
    gort_mutex_unlock(&qmu);
    gort_waitgroup_wait(&cons);
    gort_waitgroup_wait(&wg);
    gort_waitgroup_wait(&threads_wg);
    // Every permit came back: 3 acquires do not block (a lost one hangs
    // here, and the watchdog names this part).
    for (int i = 0; i < 3; i++) gort_sema_acquire(&sema);
    for (int i = 0; i < 3; i++) gort_sema_release(&sema);
  }

  void Verify() override {
    long want = (long)(R.z.mutex_workers + 1) * R.z.mutex_iters;
    if (counter.load() != want) Fail("sync: mutex counter %ld, want %ld (lost updates)", counter.load(), want);
    want = (long)R.z.rw_writers * R.z.rw_iters;
    if (ra.load() != want || rb.load() != want)
      Fail("sync: rwmutex counters %ld/%ld, want %ld", ra.load(), rb.load(), want);
    want = (long)R.z.cond_producers * R.z.cond_items;
    if (popped.load() != want || qlen != 0)
      Fail("sync: cond queue: %ld popped (%d left), want %ld", popped.load(), qlen, want);
    want = (long)R.z.sema_workers * R.z.sema_iters;
    if (entries.load() != want) Fail("sync: semaphore entered %ld times, want %ld", entries.load(), want);
    if (once_calls.load() != 1) Fail("sync: once ran %d times", once_calls.load());
    if (once_returns.load() != R.z.once_callers + 1) Fail("sync: %ld once_do returned", once_returns.load());
    if (through_gate.load() != R.z.gate_waiters + 1) Fail("sync: %ld through the gate", through_gate.load());
  }
  std::string Progress() override {
    return "mutex " + std::to_string(counter.load()) + ", rw " + std::to_string(ra.load()) + "/" +
           std::to_string(reads.load()) + ", cond " + std::to_string(popped.load()) + ", sema " +
           std::to_string(entries.load()) + ", gate " + std::to_string(through_gate.load()) + ", once " +
           std::to_string(once_returns.load());
  }
};

// -- echo ----------------------------------------------------------------------------

struct EchoPart : Part {
  Round& R;
  int lfd = -1;
  uint16_t port = 0;
  gort_waitgroup server_wg = GORT_WAITGROUP_INIT, clients_wg = GORT_WAITGROUP_INIT;
  std::atomic<long> accepted{0}, echoed_msgs{0}, client_bytes{0}, server_bytes{0};
  int64_t patience = (UnderQemu() ? 60 : 20) * kSec;  // per read or write

  static uint8_t Pattern(uint32_t conn, uint32_t seq, uint32_t k) {
    uint32_t x = conn * 0x9E3779B1u ^ seq * 0x85EBCA77u ^ k * 0xC2B2AE3Du;
    x ^= x >> 15, x *= 0x2C1B3C6Du, x ^= x >> 12;
    return (uint8_t)x;
  }
  // The sizes of connection conn's messages: 1 B .. 64 KiB, log-uniform.
  struct Sizer {
    Rng rng;
    Sizer(uint64_t seed, int conn) : rng(Mix(seed, 1000 + conn)) {}
    size_t Next() {
      size_t s = 1 + (size_t)rng.Below((uint64_t)1 << rng.Below(17));
      return s > 65536 ? 65536 : s;
    }
  };

  explicit EchoPart(Round& r) : Part("echo"), R(r) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      Fail("echo: listen on 127.0.0.1:0: %s", strerror(errno));
      if (fd >= 0) close(fd);
      return;
    }
    int rc = gort_fd_open(fd);
    if (rc != 0) {
      Fail("echo: gort_fd_open: %d", rc);
      close(fd);
      return;
    }
    lfd = fd;
    port = ntohs(a.sin_port);
    for (int i = 0; i < R.z.echo_thread_clients; i++) {
      gort_waitgroup_add(&clients_wg, 1);
      R.threads.emplace_back([this, i] {
        Introduce();
        Client(R.z.echo_clients + i);
        gort_waitgroup_done(&clients_wg);
      });
    }
  }

  void Conn(int c, size_t bufsize) {
    std::unique_ptr<char[]> buf(new char[bufsize]);
    for (;;) {
      ssize_t n = gort_read(c, buf.get(), bufsize, patience);
      if (n == 0) break;
      if (n < 0) {
        Fail("echo: server read: %zd", n);
        break;
      }
      server_bytes += n;
      ssize_t w = gort_write(c, buf.get(), (size_t)n, patience);
      if (w != n) {
        Fail("echo: server write of %zd: %zd", n, w);
        break;
      }
    }
    int rc = gort_fd_close(c);
    if (rc != 0) Fail("echo: server gort_fd_close: %d", rc);
  }

  void Serve() {
    Rng rng(Mix(R.seed, 1100));
    for (;;) {
      int c = gort_accept(lfd, nullptr, nullptr, -1);
      if (c == -EBADF) break;  // the listener was closed: done
      if (c < 0) {
        Fail("echo: accept: %d", c);
        break;
      }
      accepted++;
      size_t bufsize = 512 + (size_t)rng.Below(64 << 10);
      Go(&server_wg, [this, c, bufsize] { Conn(c, bufsize); });
    }
  }

  // One connection: a writer goroutine sends the messages while the caller
  // (a goroutine or a plain thread) reads them back and checks every byte.
  void Client(int id) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int rc = gort_connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a, patience);
    if (rc != 0) {
      Fail("echo: client %d: connect: %d", id, rc);
      gort_fd_close(fd);
      return;
    }
    const long msgs = R.z.echo_messages;
    gort_waitgroup writer = GORT_WAITGROUP_INIT;
    Go(&writer, [this, fd, id, msgs] {
      Sizer sizes(R.seed, id);
      std::unique_ptr<uint8_t[]> buf(new uint8_t[65536]);
      for (long s = 0; s < msgs; s++) {
        size_t n = sizes.Next();
        for (size_t k = 0; k < n; k++) buf[k] = Pattern((uint32_t)id, (uint32_t)s, (uint32_t)k);
        ssize_t w = gort_write(fd, buf.get(), n, patience);
        if (w != (ssize_t)n) {
          Fail("echo: client %d: write of message %ld (%zu bytes): %zd", id, s, n, w);
          break;
        }
        client_bytes += (long)n;
      }
      shutdown(fd, SHUT_WR);  // the server sees end of file, and closes
    });
    Sizer sizes(R.seed, id);
    Rng rng(Mix(R.seed, 1200 + id));
    std::unique_ptr<uint8_t[]> buf(new uint8_t[65536]);
    bool ok = true;
    for (long s = 0; s < msgs && ok; s++) {
      size_t n = sizes.Next(), got = 0;
      while (got < n && ok) {
        size_t want = n - got;
        if (rng.Below(2)) want = 1 + (size_t)rng.Below(want);
        ssize_t r = gort_read(fd, buf.get(), want, patience);
        if (r <= 0) {
          Fail("echo: client %d: message %ld: byte %zu of %zu: read: %zd (message lost?)", id, s, got, n, r);
          ok = false;
          break;
        }
        for (ssize_t k = 0; k < r; k++) {
          uint8_t w = Pattern((uint32_t)id, (uint32_t)s, (uint32_t)(got + (size_t)k));
          if (buf[(size_t)k] != w) {
            Fail("echo: client %d: message %ld byte %zu: got %u, want %u (lost, duplicated or reordered bytes)", id, s,
                 got + (size_t)k, buf[(size_t)k], w);
            ok = false;
            break;
          }
        }
        got += (size_t)r;
      }
      if (ok) {
        echoed_msgs++;
        R.messages++;
      }
    }
    if (ok) {  // then end of file: nothing echoed twice
      ssize_t r = gort_read(fd, buf.get(), 65536, patience);
      if (r != 0) Fail("echo: client %d: after the last message read gave %zd, want 0 (end of file)", id, r);
    }
    if (!ok) shutdown(fd, SHUT_RDWR);  // let the writer and the server finish
    gort_waitgroup_wait(&writer);
    rc = gort_fd_close(fd);
    if (rc != 0) Fail("echo: client gort_fd_close: %d", rc);
  }

  void Run() override {
    if (lfd < 0) return;
    Go(&server_wg, [this] { Serve(); });
    for (int i = 0; i < R.z.echo_clients; i++) Go(&clients_wg, [this, i] { Client(i); });
    gort_waitgroup_wait(&clients_wg);
    int rc = gort_fd_close(lfd);  // wakes the accept with -EBADF
    if (rc != 0) Fail("echo: listener gort_fd_close: %d", rc);
    gort_waitgroup_wait(&server_wg);
  }

  void Verify() override {
    int n = R.z.echo_clients + R.z.echo_thread_clients;
    if (accepted.load() != n) Fail("echo: %ld connections accepted, want %d", accepted.load(), n);
    if (echoed_msgs.load() != n * R.z.echo_messages)
      Fail("echo: %ld messages echoed, want %ld", echoed_msgs.load(), n * R.z.echo_messages);
    if (server_bytes.load() != client_bytes.load())
      Fail("echo: server read %ld bytes, clients wrote %ld", server_bytes.load(), client_bytes.load());
  }
  std::string Progress() override {
    return "accepted " + std::to_string(accepted.load()) + ", messages " + std::to_string(echoed_msgs.load()) +
           ", bytes " + std::to_string(client_bytes.load()) + "/" + std::to_string(server_bytes.load());
  }
};

// ---- a round ------------------------------------------------------------------------

bool g_spin = true;  // spinners on every P (not with GORT_DEBUG=asyncpreemptoff=1: nothing would stop them)

void Spin(Round* R) {
  uint64_t n = 0;
  while (!R->stop_spin.load(std::memory_order_relaxed)) n++;  // no call: only a signal stops it
  R->spin_iters += n;
}

void RoundMain(void* arg) {
  Round* R = static_cast<Round*>(arg);
  gort_waitgroup spin = GORT_WAITGROUP_INIT, work = GORT_WAITGROUP_INIT;
  if (g_spin)
    for (int i = 0; i < R->spinners; i++)
      Go(&spin, [R] {
        Spin(R);
        R->spinners_done++;
      });
  for (auto& p : R->parts) {
    Part* part = p.get();
    Go(&work, [part] {
      int64_t t0 = gort_now();
      part->Run();
      part->seconds_ns = gort_now() - t0;
      part->done = true;
    });
  }
  gort_waitgroup_wait(&work);
  R->stop_spin = true;
  gort_waitgroup_wait(&spin);
}

// ---- watchdog ----------------------------------------------------------------------

std::atomic<Round*> g_round{nullptr};
std::atomic<int64_t> g_round_start{0};
int64_t g_round_limit = 120 * kSec;

void Watchdog() {
  for (;;) {
    sleep(1);
    Round* R = g_round.load();
    int64_t start = g_round_start.load();
    if (R == nullptr || start == 0 || gort_now() - start < g_round_limit) continue;
    char line[600];
    int n = snprintf(line, sizeof line, "soak: FAIL: round %d still running after %lld s; parts not done:\n", R->index,
                     (long long)((gort_now() - start) / kSec));
    WriteAll(2, line, (size_t)n);
    for (auto& p : R->parts)
      if (!p->done.load()) {
        n = snprintf(line, sizeof line, "  %s: %s\n", p->name, p->Progress().c_str());
        WriteAll(2, line, (size_t)n);
      }
    n = snprintf(line, sizeof line, "  spinners stopped: %d of %d (stop flag %d)\n", R->spinners_done.load(),
                 R->spinners, (int)R->stop_spin.load());
    WriteAll(2, line, (size_t)n);
    gort_dump(2);
    _exit(1);
  }
}

// qemu-user (7.2) keeps about 280 KiB for every thread that has exited
// (more once libunwind and libdw are loaded: their TLS): creating and
// joining plain threads grows its RSS without bound.  Under qemu, measure
// that per thread, with threads that block in gort once as the rounds'
// do, before the baseline, and allow it for each plain thread the rounds
// start (10 a round); natively it is 0.
long QemuKiBPerThread() {
  if (!UnderQemu()) return 0;
  const int n = 32;
  long before = RssKiB();
  gort_chan* c = gort_chan_make(sizeof(int), 0);
  for (int i = 0; i < n; i++)
    std::thread([c] {  // like the rounds' threads: blocks in gort once (a note, TLS)
      int v;
      gort_chan_recv_timeout(c, &v, 1000);
    }).join();
  gort_chan_free(c);
  long per = (RssKiB() - before) / n;
  return per > 0 ? per : 0;
}

// qemu-user also keeps about 1.5 KiB for every mapping made, guarded and
// unmapped (each goroutine with a stack of its own size is one): measured
// the same way, in bytes per such goroutine, and allowed per one started.
long QemuBytesPerCustomStack() {
  if (!UnderQemu()) return 0;
  const int n = 512;
  struct Ctx {
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
  } ctx;
  static const gort_go_attr attrs[4] = {{16 << 10, "c"}, {32 << 10, "c"}, {128 << 10, "c"}, {1 << 20, "c"}};
  long before = RssKiB();
  gort_main(
      [](void* a) {
        Ctx* c = static_cast<Ctx*>(a);
        for (int i = 0; i < n; i++) {
          gort_waitgroup_add(&c->wg, 1);
          gort_go_with([](void* w) { gort_waitgroup_done(static_cast<gort_waitgroup*>(w)); }, &c->wg, &attrs[i % 4]);
          if (i % 64 == 63) gort_waitgroup_wait(&c->wg);
        }
        gort_waitgroup_wait(&c->wg);
      },
      &ctx);
  long per = (RssKiB() - before) * 1024 / n;
  return per > 0 ? per : 0;
}

// Wait (bounded) for f() to become want; returns the last value seen.
template <typename F>
long WaitFor(F f, long want, int64_t limit) {
  int64_t t0 = gort_now();
  long v = f();
  while (v != want && gort_now() - t0 < limit) {
    usleep(1000);
    v = f();
  }
  return v;
}

void Warm(void*) {  // start the netpoller (its epoll and wakeup descriptors) before the baseline
  int p[2];
  if (pipe(p) != 0) return;
  gort_fd_open(p[0]);
  gort_fd_open(p[1]);
  char c;
  gort_read(p[0], &c, 1, 1 * kMs);
  gort_timer* t = gort_timer_start(1 * kMs, 0);
  if (t != nullptr) {
    gort_chan_recv(gort_timer_chan(t), nullptr);
    gort_timer_stop(t);
  }
  gort_fd_close(p[0]);
  gort_fd_close(p[1]);
}

// Resident memory may grow after round 2 by at most this much (checked
// after every round from 3 on, against round 2's figure).  Round 1 faults
// in what every later round reuses: the stacks of dead goroutines, kept
// for reuse and never returned (a spawn burst has (spawners + 1) *
// burst_size = 10,000 goroutines alive at once: about 40 MiB), malloc's
// arenas for the plain threads, the runtime's tables; under qemu also the
// translated code.  A later round allocates and frees the same amounts.
// Measured natively with no leak (50-80 rounds in 60 s, also with one P):
// RSS 47-49 MiB after round 2, then a creep of 1.5-2 MiB over the run
// (malloc fragmentation; the peak of the other parts' goroutines varies by
// a few hundred stacks).  16 MiB is several times that noise, and a leak
// of 0.5 MiB a round (8 default stacks touched to the top, or 2% of the
// echo buffers) exceeds it within a 60 s run.
//
// Under AddressSanitizer freed memory waits in its quarantine before it is
// reused: RSS grows as the quarantine fills (with its default 256 MiB,
// by 11 MiB a round for 30 rounds and on, with no leak), so the soak asks
// for a 16 MiB one (__asan_default_options below; ASAN_OPTIONS still
// overrides it) and allows kAsanKiB more for it, its redzones and its
// shadow (measured: 20 MiB).  LeakSanitizer checks the heap at exit too.
constexpr long kRssSlackKiB = 16 << 10;
constexpr long kAsanKiB = SOAK_ASAN ? 32 << 10 : 0;

}  // namespace

#if SOAK_ASAN
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }
#endif

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* s = getenv("GORT_SOAK_SECONDS");
  const double seconds = s != nullptr && *s ? atof(s) : 10.0;
  s = getenv("GORT_SOAK_SEED");
  // GORT_SOAK_SEED, else gort_test::Seed(): GORT_TEST_SEED or a fresh one.
  const uint64_t seed = s != nullptr && *s ? strtoull(s, nullptr, 0) : gort_test::Seed();
  g_spin = !AsyncPreemptOff();
  const bool verbose = getenv("GORT_SOAK_VERBOSE") != nullptr;
  if (UnderQemu()) g_round_limit *= 5;
  if (SOAK_ASAN) g_round_limit *= 3;

  int rc = gort_init(nullptr);
  if (rc != 0) {
    fprintf(stderr, "soak: gort_init: %d\n", rc);
    return 1;
  }
  gort_main(Warm, nullptr);
  const long qemu_thread_kib = QemuKiBPerThread();
  const long qemu_stack_bytes = QemuBytesPerCustomStack();
  const long base_goroutines = WaitFor([] { return (long)Stats().goroutines; }, 0, 2 * kSec);
  const int base_fds = CountFds();
  const long base_rss = RssKiB();
  const gort_stats base = Stats();
  printf("soak: %.0f s, seed %llu, %d Ps, %s%s%s; baseline: %ld goroutines, %d fds, RSS %ld KiB\n", seconds,
         (unsigned long long)seed, gort_maxprocs(0), UnderQemu() ? "under qemu" : "native", SOAK_ASAN ? ", asan" : "",
         g_spin ? "" : ", asyncpreemptoff: no spinners", base_goroutines, base_fds, base_rss);
  if (UnderQemu())
    printf("soak: qemu keeps %ld KiB per exited thread and %ld B per goroutine with its own stack; allowed on top "
           "of the RSS slack for each started\n",
           qemu_thread_kib, qemu_stack_bytes);
  std::thread(Watchdog).detach();

  const int64_t t_start = gort_now();
  long rss2 = -1, rss_max = 0, threads_started = 0, threads2 = 0, custom2 = 0;
  gort_stats prev = base;
  int round = 0;
  // At least 3 rounds, so that round 2's memory has a later round to be
  // compared with.
  while (round < 3 || (double)(gort_now() - t_start) < seconds * 1e9) {
    round++;
    auto* R = new Round;
    R->index = round;
    R->seed = Mix(seed, (uint64_t)round);
    R->spinners = gort_maxprocs(0);
    if (Enabled("spawn")) R->parts.emplace_back(new SpawnPart(*R));
    if (Enabled("pipeline")) R->parts.emplace_back(new PipelinePart(*R));
    if (Enabled("timers")) R->parts.emplace_back(new TimerPart(*R));
    if (Enabled("sync")) R->parts.emplace_back(new SyncPart(*R));
    if (Enabled("echo")) R->parts.emplace_back(new EchoPart(*R));
    const int64_t t0 = gort_now();
    g_round_start = t0;
    g_round = R;
    rc = gort_main(RoundMain, R);
    if (rc != 0) Fail("round %d: gort_main: %d", round, rc);
    for (auto& t : R->threads) t.join();
    threads_started += (long)R->threads.size();
    g_round = nullptr;
    const double secs = (double)(gort_now() - t0) / 1e9;
    for (auto& p : R->parts) p->Verify();
    if (g_spin && R->spin_iters.load() == 0) Fail("round %d: the spinners never ran", round);

    // Back to the baseline: goroutines (they may still be on their way out
    // after their last waitgroup_done), descriptors, memory.
    long live = WaitFor([] { return (long)Stats().goroutines; }, base_goroutines, 10 * kSec);
    long fds = WaitFor([] { return (long)CountFds(); }, base_fds, 2 * kSec);
    if (fds != base_fds) Fail("round %d: %ld descriptors open after the round, baseline %d", round, fds, base_fds);
    if (live != base_goroutines) {  // after counting descriptors: the dump opens some (symbols)
      Fail("round %d: %ld goroutines alive 10 s after the round, baseline %ld", round, live, base_goroutines);
      gort_dump(2);
    }
    const long rss = RssKiB();
    if (round == 2) rss2 = rss, threads2 = threads_started, custom2 = g_custom_spawned.load();
    if (rss > rss_max) rss_max = rss;
    const long slack = kRssSlackKiB + kAsanKiB + (threads_started - threads2) * qemu_thread_kib +
                       (g_custom_spawned.load() - custom2) * qemu_stack_bytes / 1024;
    if (round > 2 && rss - rss2 > slack)
      Fail("round %d: RSS %ld KiB, %ld KiB above round 2's %ld KiB (slack %ld KiB): a leak per round?", round, rss,
           rss - rss2, rss2, slack);

    const gort_stats now = Stats();
    printf(
        "round %3d  %5.2f s  messages %7ld  spawned %7llu  rss %7ld KiB  goroutines %llu  threads %llu  "
        "preemptions +%llu  fds %ld\n",
        round, secs, R->messages.load(), (unsigned long long)(now.spawned - prev.spawned), rss,
        (unsigned long long)live, (unsigned long long)now.threads,
        (unsigned long long)(now.preemptions - prev.preemptions), fds);
    if (verbose) {
      std::string parts = "         ";
      for (auto& p : R->parts)
        parts += std::string(" ") + p->name + " " + std::to_string(p->seconds_ns / kMs) + " ms (" + p->Progress() + ")";
      printf("%s\n", parts.c_str());
    }
    prev = now;
    delete R;
    if (g_failures.load() != 0) {
      fprintf(stderr, "soak: FAILED in round %d (%ld failures; seed %llu)\n", round, g_failures.load(),
              (unsigned long long)seed);
      return 1;
    }
  }
  const gort_stats end = Stats();
  if (g_spin && end.preemptions == base.preemptions) {
    fprintf(stderr, "soak: FAIL: no goroutine was preempted in %d rounds of spinners\n", round);
    return 1;
  }
  printf(
      "soak: PASS: %d rounds in %.1f s, %llu goroutines spawned, %llu preemptions, RSS %ld KiB after round 2, "
      "at most %ld KiB\n",
      round, (double)(gort_now() - t_start) / 1e9, (unsigned long long)(end.spawned - base.spawned),
      (unsigned long long)(end.preemptions - base.preemptions), rss2, rss_max);
  return 0;
}
