// chan_model_test.cc — randomized model checking of channels and select
// (issue 6): thousands of random programs of sends, receives, closes and
// selects over a few channels run on the runtime, and every outcome that
// must agree is compared.
//
// Sequential programs.  One goroutine (or plain thread) and only
// operations whose outcome is determined: timeout 0, selects with a
// default, and blocking or timed operations when the model says they
// complete at once (or, timed, that they time out).  Every result, every
// received value, len and cap after every step must equal a reference
// model: a deque and a closed flag per channel.  When a select has several
// ready cases the runtime picks one at random: the model checks that the
// winner was ready, that nothing else happened (no other case's element
// written), and follows it.
//
// Concurrent programs.  Senders, receivers and one or two closers, some
// on plain threads, on 1, 2 or 4 Ps, with blocking, timed and
// non-blocking sends, receives and selects of tagged values (sender,
// sequence).  The interleaving is not predictable, so what every
// interleaving must satisfy is checked.  Each operation takes a ticket
// from one atomic counter before and after it ([t0, t1] contains the
// moment it took effect), which makes "A finished before B began"
// observable:
//   - every value received was sent successfully, on that channel, and is
//     received once; every value sent successfully is received or still
//     buffered when the channel is drained at the end (counted per
//     channel; receives into NULL discard a value we then cannot name);
//   - values are intact (24-byte elements: every word checked) and the
//     runtime never writes past elem_size or into a case that did not win;
//   - FIFO per sender and channel: a later value is never received by an
//     operation that finished before the one receiving an earlier value
//     began (this covers the drain at the end too);
//   - an unbuffered send never finishes before its receive began, and no
//     receive finishes before its send began;
//   - close: exactly one close of each channel succeeds (two closers may
//     race); no send succeeds that began after it finished; -EPIPE never
//     comes before it began; a receive that gets -EPIPE gets a zeroed
//     element, and after it no receive that begins gets a value (the
//     buffer is drained before -EPIPE); a goroutine that saw a channel
//     closed sees it closed again (a select with such a case never
//     reports "nothing ready");
//   - len <= cap while running; after close, len is what the drain gets.
// No goroutine is left behind (gort_test::Test).  A hang is reported by
// the runtime's deadlock check or by the watchdog below, either way after
// the program that hangs has been named.
//
// 40,000 sequential and 12,000 concurrent programs take a few seconds
// each; GORT_TEST_LONG=1 runs ten times as many, qemu an eighth
// (gort_test::Scale).  Programs come from seeds; a failure prints its seed
// and the program.  The range of seeds starts at the test's
// gort_test::Seed() (printed: GORT_TEST_SEED=N runs the same range again),
// or at n with GORT_MODEL_BASE=n.  GORT_MODEL_SEED=n runs seed n alone,
// many times over (a select's choice and a concurrent program's
// interleaving are not in the seed; pick the test with --gtest_filter);
// GORT_MODEL_VERBOSE=1 prints every concurrent program before it runs.
// A program's seed drives splitmix64 (Rng below), not absl::BitGen, so it
// builds the same program on every build and machine.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "tests/harness.h"

namespace {

using gort_test::Go;
using gort_test::Main;
using gort_test::Scale;

// ---- seeds, randomness, elements -------------------------------------------

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int Below(int n) { return (int)(Next() % (uint64_t)n); }
  bool Chance(int percent) { return Below(100) < percent; }
};

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* s = std::getenv(name);
  return s != nullptr && *s != '\0' ? strtoull(s, nullptr, 0) : dflt;
}

// The seeds a test runs: `n` from GORT_MODEL_BASE (default: the test's
// gort_test::Seed(), printed), or GORT_MODEL_SEED alone, `repeat` times.
// Call it from the test's body.
std::vector<uint64_t> Seeds(long n, long repeat) {
  std::vector<uint64_t> seeds;
  if (std::getenv("GORT_MODEL_SEED") != nullptr) {
    seeds.assign(repeat, EnvU64("GORT_MODEL_SEED", 0));
    return seeds;
  }
  const uint64_t base = std::getenv("GORT_MODEL_BASE") != nullptr ? EnvU64("GORT_MODEL_BASE", 1) : gort_test::Seed();
  for (long i = 0; i < n; i++) seeds.push_back(base + i);
  return seeds;
}

// Elements are 0, 8 or 24 bytes in a 24-byte buffer; bytes past elem_size
// keep kFill, and so does a buffer no one wrote.  Value v is stored as
// {v, v * K, ~v}, truncated to the element size.
constexpr size_t kMaxElem = 24;
constexpr unsigned char kFill = 0xA5;
constexpr size_t kElemSizes[] = {0, 8, 8, 24};

struct Elem {
  alignas(8) unsigned char b[kMaxElem];
  Elem() { memset(b, kFill, sizeof b); }
  bool operator==(const Elem& o) const { return memcmp(b, o.b, sizeof b) == 0; }
  bool Untouched() const { return *this == Elem(); }
};

Elem Encode(uint64_t v, size_t size) {
  Elem e;
  uint64_t w[3] = {v, v * 0x9E3779B97F4A7C15ull, ~v};
  memcpy(e.b, w, size);
  return e;
}

// The value in e, or false if e is not an element Encode made.
bool Decode(const Elem& e, size_t size, uint64_t* v) {
  uint64_t w[3];
  memcpy(w, e.b, sizeof w);
  *v = size == 0 ? 0 : w[0];
  return e == Encode(*v, size);
}

// Zeroed, as a receive from a closed channel leaves it.
bool Zeroed(const Elem& e, size_t size) {
  Elem z;
  memset(z.b, 0, size);
  return e == z;
}

std::string Hex(const Elem& e) {
  std::string s;
  for (unsigned char ch : e.b) s += absl::StrFormat("%02x", ch);
  return s;
}

// ---- watchdog ----------------------------------------------------------------
// A lost wakeup hangs a program rather than failing it.  The runtime's
// deadlock check ends the process 100 ms after every goroutine is asleep
// (without saying which program): name a program that has run for 50 ms
// on stderr first (only seen when the test fails).  With no progress at
// all for a minute (a hang with a thread awake), print every goroutine
// and abort.

class Watchdog {
 public:
  Watchdog() : thread_([this] { Loop(); }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  void Program(const std::string& what) {
    std::lock_guard<std::mutex> l(mu_);
    what_ = what;
    progress_++;
  }

 private:
  void Loop() {
    const int limit_s = gort_test::UnderQemu() ? 300 : 60;
    uint64_t last = ~0ull;
    bool named = false;
    auto since = std::chrono::steady_clock::now();
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::lock_guard<std::mutex> l(mu_);
      auto now = std::chrono::steady_clock::now();
      if (progress_ != last) {
        last = progress_;
        since = now;
        named = false;
      } else if (!named && now - since > std::chrono::milliseconds(50)) {
        fprintf(stderr, "chan_model_test: still running after 50 ms: %s\n", what_.c_str());
        named = true;
      } else if (now - since > std::chrono::seconds(limit_s)) {
        fprintf(stderr, "chan_model_test: no progress for %d s in %s\n", limit_s, what_.c_str());
        gort_dump(2);
        abort();
      }
    }
  }
  std::mutex mu_;
  std::string what_;
  uint64_t progress_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- sequential programs -------------------------------------------------------

struct ModelChan {
  size_t elem_size = 0, cap = 0;
  std::deque<uint64_t> q;
  bool closed = false;
  bool SendReady() const { return closed || q.size() < cap; }
  bool RecvReady() const { return closed || !q.empty(); }
  int SendResult() const { return closed ? -EPIPE : 0; }
  int RecvResult() const { return q.empty() ? -EPIPE : 0; }
};

class Sequential {
 public:
  explicit Sequential(uint64_t seed) : rng_(seed) {}
  ~Sequential() {
    for (gort_chan* c : real_) gort_chan_free(c);
  }
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  // Run the program: "" or what went wrong, with the program so far.
  std::string Run() {
    int k = 1 + rng_.Below(4);
    std::string chans;
    for (int i = 0; i < k; i++) {
      ModelChan m;
      m.elem_size = kElemSizes[rng_.Below(4)];
      m.cap = (size_t)rng_.Below(4);
      model_.push_back(m);
      real_.push_back(gort_chan_make(m.elem_size, m.cap));
      if (real_.back() == nullptr) return "gort_chan_make failed";
      chans += absl::StrFormat(" c%d(elem %zu, cap %zu)", i, m.elem_size, m.cap);
    }
    Note("make" + chans);
    int nops = 5 + rng_.Below(100);
    for (int i = 0; i < nops && err_.empty(); i++) {
      int r = rng_.Below(100);
      if (r < 30) {
        Send();
      } else if (r < 60) {
        Recv();
      } else if (r < 97) {
        Select();
      } else if (r < 99) {
        Close();
      } else {
        NullChannel();
      }
      CheckLens();
    }
    if (err_.empty()) return "";
    std::string s = err_ + "\nthe program up to there:\n";
    for (const std::string& line : trace_) s += "  " + line + "\n";
    return s;
  }

 private:
  void Note(std::string line) { trace_.push_back(std::move(line)); }
  void Fail(const std::string& what) {
    if (err_.empty()) err_ = what;
  }

  // A timeout for an operation that is ready or would block: < 0 only if
  // ready; > 0 rarely when not (it sleeps).
  int64_t PickTimeout(bool ready) {
    int r = rng_.Below(100);
    if (ready) return r < 40 ? 0 : r < 80 ? -1 : 1000 * (1 + rng_.Below(20));
    return r < 97 ? 0 : 1000 * (1 + rng_.Below(5));
  }

  static int WouldBlock(int64_t timeout) { return timeout == 0 ? -EAGAIN : -ETIMEDOUT; }

  // What a receive of `want` (rc 0) or of a closed channel (-EPIPE) must
  // leave in the element.
  void CheckRecvElem(const ModelChan& m, int rc, const Elem& e, uint64_t want, const char* what) {
    uint64_t got;
    if (rc == 0 && (!Decode(e, m.elem_size, &got) || got != want)) {
      Fail(absl::StrFormat("%s: received %s, want value %" PRIu64, what, Hex(e).c_str(), want));
    } else if (rc == -EPIPE && !Zeroed(e, m.elem_size)) {
      Fail(absl::StrFormat("%s: -EPIPE left %s, want the element zeroed", what, Hex(e).c_str()));
    }
  }

  void Send() {
    int c = rng_.Below((int)model_.size());
    ModelChan& m = model_[c];
    int64_t t = PickTimeout(m.SendReady());
    uint64_t v = next_value_++;
    Elem e = Encode(v, m.elem_size), orig = e;
    const void* p = m.elem_size == 0 && rng_.Chance(50) ? nullptr : e.b;
    int rc = t < 0 && rng_.Chance(50) ? gort_chan_send(real_[c], p) : gort_chan_send_timeout(real_[c], p, t);
    int want = m.SendReady() ? m.SendResult() : WouldBlock(t);
    Note(absl::StrFormat("send c%d v=%" PRIu64 " timeout %" PRId64 " -> %d", c, v, t, rc));
    if (rc != want) return Fail(absl::StrFormat("send returned %d, want %d", rc, want));
    if (!(e == orig)) return Fail("send changed the element it sent");
    if (rc == 0) m.q.push_back(m.elem_size == 0 ? 0 : v);  // a 0-byte element carries no value
  }

  void Recv() {
    int c = rng_.Below((int)model_.size());
    ModelChan& m = model_[c];
    int64_t t = PickTimeout(m.RecvReady());
    Elem e;
    bool discard = rng_.Chance(10);
    void* p = discard ? nullptr : e.b;
    int rc = t < 0 && rng_.Chance(50) ? gort_chan_recv(real_[c], p) : gort_chan_recv_timeout(real_[c], p, t);
    int want = m.RecvReady() ? m.RecvResult() : WouldBlock(t);
    Note(absl::StrFormat("recv c%d%s timeout %" PRId64 " -> %d", c, discard ? " (discard)" : "", t, rc));
    if (rc != want) return Fail(absl::StrFormat("recv returned %d, want %d", rc, want));
    if (!discard) CheckRecvElem(m, rc, e, rc == 0 ? m.q.front() : 0, "recv");
    if (rc == 0) m.q.pop_front();
  }

  void Close() {
    int c = rng_.Below((int)model_.size());
    ModelChan& m = model_[c];
    int rc = gort_chan_close(real_[c]);
    Note(absl::StrFormat("close c%d -> %d", c, rc));
    int want = m.closed ? -EPIPE : 0;
    if (rc != want) return Fail(absl::StrFormat("close returned %d, want %d", rc, want));
    m.closed = true;
  }

  void NullChannel() {
    Elem e;
    int r = rng_.Below(5), rc;
    switch (r) {
      case 0:
        rc = gort_chan_send(nullptr, e.b);
        break;
      case 1:
        rc = gort_chan_recv(nullptr, e.b);
        break;
      case 2:
        rc = gort_chan_send_timeout(nullptr, e.b, 0);
        break;
      case 3:
        rc = gort_chan_recv_timeout(nullptr, e.b, 1000);
        break;
      default:
        rc = gort_chan_close(nullptr);
        break;
    }
    Note(absl::StrFormat("operation %d on NULL -> %d", r, rc));
    if (rc != -EINVAL) return Fail(absl::StrFormat("operation on a NULL channel returned %d, want -EINVAL", rc));
    if (!e.Untouched()) Fail("operation on a NULL channel wrote the element");
    if (gort_chan_len(nullptr) != 0 || gort_chan_cap(nullptr) != 0) Fail("len or cap of NULL is not 0");
  }

  void Select() {
    int n = rng_.Chance(5) ? 0 : 1 + rng_.Below(4);
    gort_case cases[4];
    Elem elems[4], orig[4];
    int chan[4];
    bool ready[4], any_ready = false;
    std::string desc;
    for (int i = 0; i < n; i++) {
      int op = rng_.Chance(50) ? GORT_SEND : GORT_RECV;
      chan[i] = rng_.Chance(15) ? -1 : rng_.Below((int)model_.size());
      ready[i] = false;
      void* p = elems[i].b;
      if (chan[i] >= 0) {
        const ModelChan& m = model_[chan[i]];
        ready[i] = op == GORT_SEND ? m.SendReady() : m.RecvReady();
        if (op == GORT_SEND) {
          uint64_t v = next_value_++;
          elems[i] = Encode(v, m.elem_size);
          desc += absl::StrFormat(" [send c%d v=%" PRIu64 "]", chan[i], v);
        } else {
          if (rng_.Chance(10)) p = nullptr;
          desc += absl::StrFormat(" [recv c%d%s]", chan[i], p == nullptr ? " (discard)" : "");
        }
      } else {
        desc += absl::StrFormat(" [%s NULL]", op == GORT_SEND ? "send" : "recv");
      }
      any_ready |= ready[i];
      orig[i] = elems[i];
      cases[i] = {chan[i] >= 0 ? real_[chan[i]] : nullptr, op, p, 12345};
    }
    int64_t t = PickTimeout(any_ready);
    int rc = gort_select(n == 0 && rng_.Chance(50) ? nullptr : cases, (size_t)n, t);
    Note(absl::StrFormat("select%s timeout %" PRId64 " -> %d", desc.c_str(), t, rc) +
         (rc >= 0 && rc < n ? absl::StrFormat(" (result %d)", cases[rc].result) : ""));
    if (rc < 0) {
      if (any_ready) return Fail(absl::StrFormat("select returned %d with a case ready", rc));
      if (rc != WouldBlock(t)) return Fail(absl::StrFormat("select returned %d, want %d", rc, WouldBlock(t)));
    } else if (rc >= n || !ready[rc]) {
      return Fail(absl::StrFormat("select chose case %d, which was not ready", rc));
    }
    for (int i = 0; i < n; i++) {
      if (i == rc) continue;
      if (!(elems[i] == orig[i]))
        return Fail(absl::StrFormat("select wrote the element of case %d, which did not win", i));
    }
    if (rc < 0) return;
    ModelChan& m = model_[chan[rc]];
    if (cases[rc].op == GORT_SEND) {
      if (cases[rc].result != m.SendResult())
        return Fail(absl::StrFormat("select's send case: result %d, want %d", cases[rc].result, m.SendResult()));
      if (!(elems[rc] == orig[rc])) return Fail("select changed the element it sent");
      uint64_t v;
      Decode(elems[rc], m.elem_size, &v);
      if (cases[rc].result == 0) m.q.push_back(v);
    } else {
      if (cases[rc].result != m.RecvResult())
        return Fail(absl::StrFormat("select's recv case: result %d, want %d", cases[rc].result, m.RecvResult()));
      if (cases[rc].elem != nullptr)
        CheckRecvElem(m, cases[rc].result, elems[rc], m.q.empty() ? 0 : m.q.front(), "select");
      if (cases[rc].result == 0) m.q.pop_front();
    }
  }

  void CheckLens() {
    for (size_t c = 0; c < model_.size(); c++) {
      size_t len = gort_chan_len(real_[c]), cap = gort_chan_cap(real_[c]);
      if (len != model_[c].q.size() || cap != model_[c].cap)
        return Fail(absl::StrFormat("c%zu: len %zu cap %zu, want len %zu cap %zu", c, len, cap, model_[c].q.size(),
                                    model_[c].cap));
    }
  }

  Rng rng_;
  std::vector<ModelChan> model_;
  std::vector<gort_chan*> real_;
  uint64_t next_value_ = 1;
  std::vector<std::string> trace_;
  std::string err_;
};

// ---- concurrent programs -------------------------------------------------------

constexpr int kMaxChans = 3;
constexpr int kMaxCases = kMaxChans + 3;  // every channel, a duplicate, NULL, a drained one
constexpr uint64_t kDiscarded = ~0ull;    // RecvRec::value of a receive into NULL

struct SendRec {
  uint32_t seq;
  int chan, rc;  // rc: 0 or -EPIPE (the others are not recorded)
  uint64_t t0, t1;
};
struct RecvRec {
  uint64_t value;  // when rc == 0: the tag, or kDiscarded
  int chan, rc;    // rc: 0 or -EPIPE
  uint64_t t0, t1;
};
struct CloseRec {
  int chan, rc;
  uint64_t t0, t1;
};

// What the concurrent programs did, summed, printed at the end: a check
// that they exercise what they should (waits, hand-offs, closes racing).
struct Totals {
  long programs = 0, sends = 0, send_epipe = 0, recvs = 0, recv_epipe = 0, discarded = 0, leftover = 0, parks = 0;
};

uint64_t Tag(int sender, uint32_t seq) { return (uint64_t)(sender + 1) << 32 | seq; }

class Concurrent {
 public:
  explicit Concurrent(uint64_t seed) : seed_(seed) {
    Rng r(seed);
    procs_ = 1 << r.Below(3);
    k_ = 1 + r.Below(kMaxChans);
    elem_size_ = r.Chance(75) ? 8 : 24;
    for (int i = 0; i < k_; i++) cap_[i] = (size_t)r.Below(4);
    nsend_ = 1 + r.Below(4);
    nrecv_ = 1 + r.Below(3);
    race_ = r.Chance(50);
    early_stop_ = r.Chance(25);
    two_closers_ = r.Chance(25);
    for (int i = 0; i < nsend_ + nrecv_; i++) {
      Worker w(r.Next());
      w.sender = i < nsend_;
      w.index = w.sender ? i : i - nsend_;
      w.ops = w.sender ? 5 + r.Below(60) : 0;
      w.on_thread = r.Chance(8);
      workers_.push_back(std::move(w));
    }
    closers_.emplace_back(r.Next());
    if (two_closers_) closers_.emplace_back(r.Next());
    main_rng_ = Rng(r.Next());
  }
  ~Concurrent() {
    for (gort_chan* c : ch_) gort_chan_free(c);
  }
  Concurrent(const Concurrent&) = delete;
  Concurrent& operator=(const Concurrent&) = delete;

  std::string Describe() const {
    std::string s = absl::StrFormat("concurrent seed %" PRIu64 ": %d Ps, elem %zu,", seed_, procs_, elem_size_);
    for (int i = 0; i < k_; i++) s += absl::StrFormat(" c%d cap %zu,", i, cap_[i]);
    s += absl::StrFormat(" %s close%s%s;", race_ ? "racing" : "after the senders", two_closers_ ? ", two closers" : "",
                         early_stop_ ? ", receivers stop at the first -EPIPE" : "");
    for (const Worker& w : workers_)
      s += absl::StrFormat(" %s %d%s%s", w.sender ? "sender" : "receiver", w.index, w.on_thread ? " (thread)" : "",
                           w.sender ? absl::StrFormat(" %d ops", w.ops).c_str() : "");
    return s;
  }

  // "" or what went wrong.
  std::string Run(Totals* totals) {
    gort_test::Procs procs(procs_);
    gort_stats before, after;
    gort_stats_get(&before);
    for (int i = 0; i < k_; i++) {
      ch_[i] = gort_chan_make(elem_size_, cap_[i]);
      if (ch_[i] == nullptr) return "gort_chan_make failed";
    }
    // Hand-made waitgroups: they count the plain-thread workers with the
    // goroutines, and body signals done however the loop (which reports
    // with Bad, not ASSERT) returns.
    gort_waitgroup wg_send = GORT_WAITGROUP_INIT, wg_recv = GORT_WAITGROUP_INIT, wg_close = GORT_WAITGROUP_INIT;
    gort_waitgroup_add(&wg_send, nsend_);
    gort_waitgroup_add(&wg_recv, nrecv_);
    auto body = [this, &wg_send, &wg_recv](Worker* w) {
      if (w->sender) {
        SenderLoop(*w);
      } else {
        ReceiverLoop(*w);
      }
      gort_waitgroup_done(w->sender ? &wg_send : &wg_recv);
    };
    // Plain threads start first, and each blocks in the runtime once
    // before the goroutines start: the runtime's deadlock check counts
    // only threads that have (a goroutine waiting for a thread it does
    // not know would look deadlocked).
    std::vector<std::thread> threads;
    std::atomic<int> known{0};
    gort_chan* never = gort_chan_make(0, 0);
    for (Worker& w : workers_) {
      if (!w.on_thread) continue;
      threads.emplace_back([&, w = &w] {
        gort_chan_recv_timeout(never, nullptr, 1);
        known++;
        body(w);
      });
    }
    while (known < (int)threads.size()) std::this_thread::yield();
    gort_chan_free(never);
    Main([&] {
      std::vector<Worker*> order;
      for (Worker& w : workers_)
        if (!w.on_thread) order.push_back(&w);
      Shuffle(order, main_rng_);
      for (Worker* w : order) {
        if (Go([&body, w] { body(w); }) != 0) {
          Bad(*w, "gort_go failed");
          gort_waitgroup_done(w->sender ? &wg_send : &wg_recv);
        }
      }
      if (!race_) {
        gort_waitgroup_wait(&wg_send);
      } else {
        int r = main_rng_.Below(3);
        if (r == 1) {
          for (int i = main_rng_.Below(20); i > 0; i--) gort_yield();
        } else if (r == 2) {
          gort_sleep(1000 * main_rng_.Below(200));
        }
      }
      if (two_closers_) {
        gort_waitgroup_add(&wg_close, 1);
        if (Go([&] {
              CloseAll(closers_[1]);
              gort_waitgroup_done(&wg_close);
            }) != 0) {
          closers_[1].error = "gort_go failed";
          gort_waitgroup_done(&wg_close);
        }
      }
      CloseAll(closers_[0]);
      gort_waitgroup_wait(&wg_close);
      gort_waitgroup_wait(&wg_send);
      gort_waitgroup_wait(&wg_recv);
      Drain();
    });
    for (std::thread& t : threads) t.join();
    gort_stats_get(&after);
    totals->programs++;
    totals->parks += (long)(after.parks - before.parks);
    for (const Worker& w : workers_) {
      for (const SendRec& r : w.sends) (r.rc == 0 ? totals->sends : totals->send_epipe)++;
      for (const RecvRec& r : w.recvs) {
        (r.rc == 0 ? totals->recvs : totals->recv_epipe)++;
        totals->discarded += r.rc == 0 && r.value == kDiscarded;
      }
    }
    for (const RecvRec& r : drainer_.recvs) totals->leftover += r.rc == 0;
    return Check();
  }

  int procs() const { return procs_; }

 private:
  struct Worker {
    explicit Worker(uint64_t seed) : rng(seed) {}
    Rng rng;
    bool sender = false, on_thread = false;
    int index = 0, ops = 0;
    std::vector<SendRec> sends;
    std::vector<RecvRec> recvs;
    std::string error;             // the first rule it saw broken
    bool closed[kMaxChans] = {};   // it saw -EPIPE on a send or receive
    bool drained[kMaxChans] = {};  // it saw -EPIPE on a receive
  };
  struct Closer {
    explicit Closer(uint64_t seed) : rng(seed) {}
    Rng rng;
    std::vector<CloseRec> closes;
    std::string error;
  };

  template <typename T>
  static void Shuffle(std::vector<T>& v, Rng& r) {
    for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[r.Below((int)i)]);
  }

  uint64_t Tick() { return clock_.fetch_add(1); }

  static int64_t Timeout(Rng& r) {
    static const int64_t kTimeouts[] = {1000, 10000, 50000};
    return kTimeouts[r.Below(3)];
  }

  static void Bad(Worker& w, const std::string& what) {
    if (w.error.empty()) w.error = what;
  }

  // Record a receive's outcome on channel c.  rc was checked to be 0 or
  // -EPIPE.  On -EPIPE the channel stays closed and drained: check that
  // once more, without waiting.
  void Received(Worker& w, int c, int rc, const Elem& e, bool discard, uint64_t t0, uint64_t t1, const char* what) {
    uint64_t v = kDiscarded;
    if (rc == 0) {
      if (w.drained[c]) Bad(w, absl::StrFormat("%s on c%d got a value after it had got -EPIPE there", what, c));
      if (!discard && !Decode(e, elem_size_, &v))
        Bad(w, absl::StrFormat("%s on c%d: received %s, not an element that was sent", what, c, Hex(e).c_str()));
      w.recvs.push_back({v, c, rc, t0, t1});
      return;
    }
    if (!discard && !Zeroed(e, elem_size_))
      Bad(w, absl::StrFormat("%s on c%d: -EPIPE left %s, want it zeroed", what, c, Hex(e).c_str()));
    w.recvs.push_back({v, c, rc, t0, t1});
    w.closed[c] = w.drained[c] = true;
    Elem again;
    t0 = Tick();
    int rc2 = gort_chan_recv_timeout(ch_[c], again.b, 0);
    t1 = Tick();
    if (rc2 != -EPIPE || !Zeroed(again, elem_size_)) {
      Bad(w, absl::StrFormat("c%d: a receive after -EPIPE returned %d, %s", c, rc2, Hex(again).c_str()));
    } else {
      w.recvs.push_back({v, c, rc2, t0, t1});
    }
  }

  void Sent(Worker& w, int c, int rc, uint32_t seq, uint64_t t0, uint64_t t1, const char* what) {
    if (w.closed[c] && rc != -EPIPE)
      Bad(w, absl::StrFormat("%s on c%d returned %d after it had got -EPIPE there", what, c, rc));
    if (rc == -EPIPE) w.closed[c] = true;
    w.sends.push_back({seq, c, rc, t0, t1});
  }

  // A select of n cases; forever: at least one case will become ready.
  // Checks what any select must satisfy and records the winner.
  void DoSelect(Worker& w, gort_case* cases, int* chan, int n, int64_t t, uint32_t seq) {
    Elem orig[kMaxCases];
    bool must_win = false;  // a case on a channel it knows closed
    for (int i = 0; i < n; i++) {
      orig[i] = *(Elem*)(cases[i].elem != nullptr ? cases[i].elem : orig[i].b);
      if (chan[i] >= 0) must_win |= cases[i].op == GORT_SEND ? w.closed[chan[i]] : w.drained[chan[i]];
    }
    uint64_t t0 = Tick();
    int rc = gort_select(cases, (size_t)n, t);
    uint64_t t1 = Tick();
    for (int i = 0; i < n; i++) {
      if (cases[i].elem == nullptr || i == rc) continue;
      if (!(*(Elem*)cases[i].elem == orig[i]))
        Bad(w, absl::StrFormat("select wrote the element of case %d (c%d), which did not win", i, chan[i]));
    }
    if (rc < 0) {
      if (t < 0 || rc != (t == 0 ? -EAGAIN : -ETIMEDOUT))
        Bad(w, absl::StrFormat("select (timeout %" PRId64 ") returned %d", t, rc));
      if (must_win) Bad(w, absl::StrFormat("select returned %d with a case on a channel it knew closed", rc));
      if (t == 0) gort_yield();
      return;
    }
    if (rc >= n || chan[rc] < 0) return Bad(w, absl::StrFormat("select returned %d, not a case on a channel", rc));
    int r = cases[rc].result, c = chan[rc];
    if (r != 0 && r != -EPIPE) return Bad(w, absl::StrFormat("select's case %d: result %d", rc, r));
    if (cases[rc].op == GORT_SEND) {
      if (!(*(Elem*)cases[rc].elem == orig[rc])) Bad(w, "select changed the element it sent");
      Sent(w, c, r, seq, t0, t1, "select's send");
    } else {
      Received(w, c, r, *(Elem*)(cases[rc].elem != nullptr ? cases[rc].elem : orig[rc].b), cases[rc].elem == nullptr,
               t0, t1, "select's recv");
    }
  }

  // ops values, each once: a send (blocking, timed or not waiting) or a
  // select with at least one send case, other cases receiving or NULL.
  void SenderLoop(Worker& w) {
    for (uint32_t seq = 1; seq <= (uint32_t)w.ops; seq++) {
      Elem e = Encode(Tag(w.index, seq), elem_size_), orig = e;
      int kind = w.rng.Below(100);
      if (kind < 55) {
        int c = w.rng.Below(k_);
        int64_t t = kind < 20 ? -1 : kind < 40 ? Timeout(w.rng) : 0;
        uint64_t t0 = Tick();
        int rc = t < 0 ? gort_chan_send(ch_[c], e.b) : gort_chan_send_timeout(ch_[c], e.b, t);
        uint64_t t1 = Tick();
        if (rc == 0 || rc == -EPIPE) {
          Sent(w, c, rc, seq, t0, t1, "send");
        } else if (t < 0 || rc != (t == 0 ? -EAGAIN : -ETIMEDOUT)) {
          Bad(w, absl::StrFormat("send (timeout %" PRId64 ") on c%d returned %d", t, c, rc));
        } else if (w.closed[c]) {
          Bad(w, absl::StrFormat("send on c%d returned %d after it had got -EPIPE there", c, rc));
        } else if (t == 0) {
          gort_yield();
        }
      } else {
        int n = 1 + w.rng.Below(4), chan[4];
        gort_case cases[4];
        Elem in[4];
        bool any_send = false;
        for (int i = 0; i < n; i++) {
          int r = w.rng.Below(100);
          chan[i] = r < 85 ? w.rng.Below(k_) : -1;
          int op = r < 55 ? GORT_SEND : r < 85 ? GORT_RECV : w.rng.Chance(50) ? GORT_SEND : GORT_RECV;
          any_send |= op == GORT_SEND && chan[i] >= 0;
          void* p = op == GORT_SEND ? e.b : w.rng.Chance(5) ? nullptr : in[i].b;
          cases[i] = {chan[i] >= 0 ? ch_[chan[i]] : nullptr, op, p, 12345};
        }
        if (!any_send) {
          int i = w.rng.Below(n);
          chan[i] = w.rng.Below(k_);
          cases[i] = {ch_[chan[i]], GORT_SEND, e.b, 12345};
        }
        int r = w.rng.Below(100);
        DoSelect(w, cases, chan, n, r < 40 ? -1 : r < 70 ? Timeout(w.rng) : 0, seq);
      }
      if (!(e == orig)) Bad(w, "a send changed the element it sent");
    }
  }

  // Receive until every channel is closed and drained (or, early_stop_,
  // one is).  Receiver 0 never waits on one channel alone: whatever a
  // sender waits on, it will get to.
  void ReceiverLoop(Worker& w) {
    for (;;) {
      std::vector<int> open, drained;
      for (int c = 0; c < k_; c++) (w.drained[c] ? drained : open).push_back(c);
      if (open.empty() || (early_stop_ && !drained.empty())) return;
      int kind = w.rng.Below(100);
      if (kind < 35 || (w.index == 0 && kind < 50)) {  // a blocking select on every open channel
        Shuffle(open, w.rng);
        if (w.rng.Chance(20)) open.push_back(open[w.rng.Below((int)open.size())]);
        if (w.rng.Chance(20)) open.push_back(-1);
        if (!drained.empty() && w.rng.Chance(10)) open.push_back(drained[w.rng.Below((int)drained.size())]);
        Shuffle(open, w.rng);
        SelectRecv(w, open, -1);
      } else if (kind < 85) {  // one channel: blocking, timed, or not waiting
        int c = open[w.rng.Below((int)open.size())];
        int64_t t = kind < 50 ? -1 : kind < 70 ? Timeout(w.rng) : 0;
        Elem e;
        bool discard = w.rng.Chance(5);
        uint64_t t0 = Tick();
        int rc = t < 0 ? gort_chan_recv(ch_[c], discard ? nullptr : e.b)
                       : gort_chan_recv_timeout(ch_[c], discard ? nullptr : e.b, t);
        uint64_t t1 = Tick();
        if (rc == 0 || rc == -EPIPE) {
          Received(w, c, rc, e, discard, t0, t1, "recv");
        } else if (t < 0 || rc != (t == 0 ? -EAGAIN : -ETIMEDOUT)) {
          Bad(w, absl::StrFormat("recv (timeout %" PRId64 ") on c%d returned %d", t, c, rc));
        } else if (t == 0) {
          gort_yield();
        }
      } else {  // a select on some channels, drained ones too, timed or not waiting
        std::vector<int> some;
        for (int i = 1 + w.rng.Below(3); i > 0; i--) some.push_back(w.rng.Chance(15) ? -1 : w.rng.Below(k_));
        SelectRecv(w, some, w.rng.Chance(50) ? 0 : Timeout(w.rng));
      }
    }
  }

  void SelectRecv(Worker& w, const std::vector<int>& chans, int64_t t) {
    int n = (int)chans.size(), chan[kMaxCases];
    gort_case cases[kMaxCases];
    Elem in[kMaxCases];
    if (n > kMaxCases) return Bad(w, "test bug: too many cases");
    for (int i = 0; i < n; i++) {
      chan[i] = chans[i];
      cases[i] = {chan[i] >= 0 ? ch_[chan[i]] : nullptr, GORT_RECV, w.rng.Chance(5) ? nullptr : in[i].b, 12345};
    }
    DoSelect(w, cases, chan, n, t, 0);
  }

  void CloseAll(Closer& cl) {
    std::vector<int> order;
    for (int c = 0; c < k_; c++) order.push_back(c);
    Shuffle(order, cl.rng);
    for (int c : order) {
      if (cl.rng.Chance(30)) gort_yield();
      if (cl.rng.Chance(10)) gort_sleep(1000 * cl.rng.Below(50));
      size_t len = gort_chan_len(ch_[c]);
      if (len > cap_[c] && cl.error.empty()) cl.error = absl::StrFormat("c%d: len %zu > cap %zu", c, len, cap_[c]);
      uint64_t t0 = Tick();
      int rc = gort_chan_close(ch_[c]);
      uint64_t t1 = Tick();
      cl.closes.push_back({c, rc, t0, t1});
    }
  }

  // Every channel is closed and nothing else runs: take what is left.
  void Drain() {
    Worker& d = drainer_;
    for (int c = 0; c < k_; c++) {
      size_t len = gort_chan_len(ch_[c]), got = 0;
      for (;;) {
        Elem e;
        uint64_t t0 = Tick();
        int rc = gort_chan_recv_timeout(ch_[c], e.b, 0);
        uint64_t t1 = Tick();
        if (rc != 0 && rc != -EPIPE) {
          Bad(d, absl::StrFormat("drain: a receive from closed c%d returned %d", c, rc));
          break;
        }
        Received(d, c, rc, e, false, t0, t1, "drain");
        if (rc == -EPIPE) break;
        got++;
      }
      if (got != len) Bad(d, absl::StrFormat("drain: c%d had len %zu but gave %zu values", c, len, got));
      if (gort_chan_len(ch_[c]) != 0)
        Bad(d, absl::StrFormat("drain: c%d has len %zu after it", c, gort_chan_len(ch_[c])));
      if (gort_chan_cap(ch_[c]) != cap_[c]) Bad(d, absl::StrFormat("c%d: cap %zu", c, gort_chan_cap(ch_[c])));
    }
  }

  std::string Check() {
    std::string head = Describe() + "\n  ";
    auto name = [](const Worker& w) { return absl::StrFormat("%s %d", w.sender ? "sender" : "receiver", w.index); };
    for (const Worker& w : workers_)
      if (!w.error.empty()) return head + name(w) + ": " + w.error;
    if (!drainer_.error.empty()) return head + drainer_.error;
    for (const Closer& cl : closers_)
      if (!cl.error.empty()) return head + "closer: " + cl.error;

    // Exactly one close of each channel succeeded.
    const CloseRec* closed[kMaxChans] = {};
    for (const Closer& cl : closers_)
      for (const CloseRec& r : cl.closes) {
        if (r.rc == 0 && closed[r.chan] != nullptr) return head + absl::StrFormat("c%d closed twice", r.chan);
        if (r.rc != 0 && r.rc != -EPIPE) return head + absl::StrFormat("close of c%d returned %d", r.chan, r.rc);
        if (r.rc == 0) closed[r.chan] = &r;
      }
    for (int c = 0; c < k_; c++)
      if (closed[c] == nullptr) return head + absl::StrFormat("no close of c%d succeeded", c);

    // The sends, by sender and sequence.
    std::vector<std::vector<const SendRec*>> sent(nsend_);
    long sent_ok[kMaxChans] = {}, unreceived[kMaxChans] = {}, discarded[kMaxChans] = {};
    for (const Worker& w : workers_) {
      if (!w.sender) continue;
      sent[w.index].assign(w.ops + 1, nullptr);
      for (const SendRec& s : w.sends) {
        const CloseRec& cr = *closed[s.chan];
        sent[w.index][s.seq] = &s;
        if (s.rc == 0) {
          sent_ok[s.chan]++;
          if (s.t0 > cr.t1)
            return head + absl::StrFormat("sender %d: send of seq %u on c%d succeeded though it began after the close",
                                          w.index, s.seq, s.chan);
        } else if (s.t1 < cr.t0) {
          return head + absl::StrFormat("sender %d: send of seq %u on c%d got -EPIPE before the close began", w.index,
                                        s.seq, s.chan);
        }
      }
    }

    // Every receive, the drain's too.
    struct Got {
      uint32_t seq;
      uint64_t t0, t1;
      std::string who;
    };
    std::vector<std::vector<std::vector<Got>>> got(nsend_, std::vector<std::vector<Got>>(k_));
    std::vector<std::vector<bool>> seen(nsend_);
    for (int s = 0; s < nsend_; s++) seen[s].assign(sent[s].size(), false);
    uint64_t first_epipe[kMaxChans];  // when the first -EPIPE receive ended
    std::fill(first_epipe, first_epipe + kMaxChans, ~0ull);
    std::vector<std::pair<const Worker*, std::string>> receivers;
    for (const Worker& w : workers_) receivers.push_back({&w, name(w)});
    receivers.push_back({&drainer_, "the drain"});
    for (const auto& rw : receivers)
      for (const RecvRec& r : rw.first->recvs)
        if (r.rc == -EPIPE) {
          if (r.t1 < closed[r.chan]->t0)
            return head +
                   absl::StrFormat("%s: a receive on c%d got -EPIPE before the close began", rw.second.c_str(), r.chan);
          first_epipe[r.chan] = std::min(first_epipe[r.chan], r.t1);
        }
    for (const auto& rw : receivers) {
      const std::string& who = rw.second;
      for (const RecvRec& r : rw.first->recvs) {
        if (r.rc != 0) continue;
        if (r.t0 > first_epipe[r.chan])
          return head + absl::StrFormat(
                            "%s: received a value on c%d after a receive there had got -EPIPE (closed and drained)",
                            who.c_str(), r.chan);
        if (r.value == kDiscarded) {
          discarded[r.chan]++;
          continue;
        }
        int s = (int)(r.value >> 32) - 1;
        uint32_t seq = (uint32_t)r.value;
        const SendRec* sr = s >= 0 && s < nsend_ && seq < sent[s].size() ? sent[s][seq] : nullptr;
        std::string what =
            absl::StrFormat("%s: value (sender %d, seq %u) received on c%d", who.c_str(), s, seq, r.chan);
        if (sr == nullptr || sr->rc != 0) return head + what + " was never sent successfully";
        if (sr->chan != r.chan) return head + what + absl::StrFormat(" was sent on c%d", sr->chan);
        if (seen[s][seq]) return head + what + " was received twice";
        seen[s][seq] = true;
        if (r.t1 < sr->t0) return head + what + ": the receive ended before the send began";
        if (cap_[r.chan] == 0 && sr->t1 < r.t0)
          return head + what + ": the unbuffered send ended before the receive began";
        got[s][r.chan].push_back({seq, r.t0, r.t1, who});
      }
    }
    for (int s = 0; s < nsend_; s++)
      for (size_t seq = 1; seq < sent[s].size(); seq++)
        if (sent[s][seq] != nullptr && sent[s][seq]->rc == 0 && !seen[s][seq]) unreceived[sent[s][seq]->chan]++;
    for (int c = 0; c < k_; c++)
      if (unreceived[c] != discarded[c])
        return head + absl::StrFormat("c%d: %ld values sent and never received, %ld received into NULL (of %ld sent)",
                                      c, unreceived[c], discarded[c], sent_ok[c]);

    // FIFO per sender and channel: a receive of seq b may not end before
    // the receive of an earlier seq a began.
    for (int s = 0; s < nsend_; s++)
      for (int c = 0; c < k_; c++) {
        std::vector<Got>& g = got[s][c];
        std::sort(g.begin(), g.end(), [](const Got& x, const Got& y) { return x.seq < y.seq; });
        size_t latest = 0;  // the earlier seq whose receive began last
        for (size_t i = 1; i < g.size(); i++) {
          if (g[i - 1].t0 > g[latest].t0) latest = i - 1;
          if (g[i].t1 < g[latest].t0)
            return head + absl::StrFormat("FIFO: from sender %d on c%d, %s received seq %u before %s received seq %u",
                                          s, c, g[i].who.c_str(), g[i].seq, g[latest].who.c_str(), g[latest].seq);
        }
      }
    return "";
  }

  uint64_t seed_;
  int procs_, k_, nsend_, nrecv_;
  size_t elem_size_, cap_[kMaxChans] = {};
  bool race_, early_stop_, two_closers_;
  std::vector<Worker> workers_;
  std::vector<Closer> closers_;
  Worker drainer_{0};
  Rng main_rng_{0};
  gort_chan* ch_[kMaxChans] = {};
  std::atomic<uint64_t> clock_{1};
};

// ---- the tests -----------------------------------------------------------------

class ChanModel : public gort_test::Test {};

TEST_F(ChanModel, SequentialProgramsMatchTheModel) {
  Watchdog dog;
  int failures = 0;
  std::vector<uint64_t> seeds = Seeds(Scale(40000), 200);
  for (uint64_t seed : seeds) {
    dog.Program(absl::StrFormat("sequential seed %" PRIu64, seed));
    std::string err;
    Sequential prog(seed);
    if (Rng(~seed).Chance(50)) {
      Main([&] { err = prog.Run(); });  // on a goroutine
    } else {
      err = prog.Run();  // on a plain thread
    }
    if (!err.empty()) {
      ADD_FAILURE() << "sequential seed " << seed << " (rerun: GORT_MODEL_SEED=" << seed << "): " << err;
      if (++failures == 3) break;
    }
  }
}

TEST_F(ChanModel, ConcurrentProgramsKeepTheInvariants) {
  Watchdog dog;
  int failures = 0;
  std::vector<uint64_t> seeds = Seeds(Scale(12000), 100);
  Totals t;
  for (uint64_t seed : seeds) {
    Concurrent prog(seed);
    dog.Program(prog.Describe());
    if (std::getenv("GORT_MODEL_VERBOSE") != nullptr) fprintf(stderr, "%s\n", prog.Describe().c_str());
    std::string err = prog.Run(&t);
    if (!err.empty()) {
      ADD_FAILURE() << err << "\n  (rerun: GORT_MODEL_SEED=" << seed << ")";
      if (++failures == 3) break;
    }
  }
  printf(
      "%ld programs: %ld values sent, %ld received (%ld into NULL), %ld left buffered at the close; "
      "-EPIPE: %ld sends, %ld receives; %ld parks\n",
      t.programs, t.sends, t.recvs, t.discarded, t.leftover, t.send_epipe, t.recv_epipe, t.parks);
}

}  // namespace
