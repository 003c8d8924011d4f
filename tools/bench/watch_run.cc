#include "tools/bench/watch_run.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "sync/clock.h"
#include "tools/bench/redis_client.h"
#include "tools/bench/server_process.h"

namespace ringdb::bench {
namespace {

constexpr const char* kWatchKey = "watch/key";

struct Samples {
  std::vector<int64_t> after_answer;
  std::vector<int64_t> after_start;
};

int64_t percentile(std::vector<int64_t>* v, double p) {
  if (v->empty()) return 0;
  const size_t i = std::min(v->size() - 1, static_cast<size_t>(p * static_cast<double>(v->size())));
  std::nth_element(v->begin(), v->begin() + static_cast<ptrdiff_t>(i), v->end());
  return (*v)[i];
}

WatchFigures figures_of(const std::string& system, Samples* s) {
  WatchFigures f;
  f.system = system;
  f.samples = s->after_answer.size();
  f.after_answer_p50 = percentile(&s->after_answer, 0.50);
  f.after_answer_p90 = percentile(&s->after_answer, 0.90);
  f.after_answer_p99 = percentile(&s->after_answer, 0.99);
  f.after_start_p50 = percentile(&s->after_start, 0.50);
  f.after_start_p99 = percentile(&s->after_start, 0.99);
  return f;
}

// The lock step both systems share: commit(i) returns once answered (false: failed); the
// watcher side stores the event's time in `seen_ns` and its number in `seen` (then notifies).
template <typename Commit>
bool lock_step(const Options& o, Commit&& commit, std::atomic<uint64_t>& seen,
               std::atomic<int64_t>& seen_ns, Samples* out, std::string* error) {
  const int64_t warm_until = sync::now_ns() + static_cast<int64_t>(o.warmup_s * 1e9);
  const int64_t end = warm_until + static_cast<int64_t>(o.duration_s * 1e9);
  for (uint64_t i = 1;; ++i) {
    const int64_t started = sync::now_ns();
    if (started >= end) return true;
    if (!commit(i)) {
      *error = "a commit failed";
      return false;
    }
    const int64_t answered = sync::now_ns();
    // The event: waited for on a futex (the watcher notifies), with a bound.
    for (uint64_t s = seen.load(std::memory_order_acquire); s < i;
         s = seen.load(std::memory_order_acquire)) {
      seen.wait(s, std::memory_order_acquire);
      if (sync::now_ns() - answered > 10'000'000'000) {
        *error = "no event within 10 s of a commit";
        return false;
      }
    }
    if (started < warm_until) continue;
    const int64_t event = seen_ns.load(std::memory_order_relaxed);
    out->after_answer.push_back(event - answered);
    out->after_start.push_back(event - started);
  }
}

}  // namespace

bool measure_ringdb_watch(const Options& o, const char* argv0, WatchFigures* out,
                          std::string* error) {
  ServerProcess daemon;
  std::string socket_path = o.socket_path;
  if (o.spawn) {
    if (!daemon.start_ringdbd(o, argv0, error)) return false;
    socket_path = daemon.socket_path();
  }
  ConnectOptions connect;
  connect.socket_path = socket_path;
  std::unique_ptr<Client> committer, watcher;
  if (Client::connect(connect, &committer, error) != Status::kOk ||
      Client::connect(connect, &watcher, error) != Status::kOk) {
    return false;
  }
  WatchOptions w;
  w.prefix = kWatchKey;
  uint32_t id = 0;
  if (const Status s = watcher->watch(w, &id); s != Status::kOk) {
    *error = std::string("watch: ") + status_name(s);
    return false;
  }
  std::atomic<uint64_t> seen{0};
  std::atomic<int64_t> seen_ns{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      WatchEvent e;
      if (watcher->next_event(&e, 100) != Status::kOk || e.changes.empty()) continue;
      seen_ns.store(sync::now_ns(), std::memory_order_relaxed);
      seen.store(std::stoull(e.changes.back().value), std::memory_order_release);
      seen.notify_one();
    }
  });
  Samples samples;
  const std::string value_pad(o.value_size_bytes > 20 ? o.value_size_bytes - 20 : 0, ' ');
  const bool ok = lock_step(
      o,
      [&](uint64_t i) {
        return committer->put(kWatchKey, std::to_string(i) + value_pad, o.durability) ==
               Status::kOk;
      },
      seen, seen_ns, &samples, error);
  stop.store(true);
  reader.join();
  if (!ok) return false;
  *out = figures_of("ringdb", &samples);
  return true;
}

bool measure_redis_watch(const Options& o, WatchFigures* out, std::string* error) {
  ServerProcess redis;
  if (!start_redis_where_ringdbd_runs(o, &redis, error)) return false;
  RespClient setter, subscriber;
  if (!setter.connect(redis.socket_path(), error) ||
      !subscriber.connect(redis.socket_path(), error) ||
      !setter.command({"CONFIG", "SET", "notify-keyspace-events", "K$"}, error)) {
    return false;
  }
  const std::string channel = std::string("__keyspace@0__:") + kWatchKey;
  if (!subscriber.command({"SUBSCRIBE", channel}, error)) return false;  // its confirmation
  std::atomic<uint64_t> seen{0};
  std::atomic<int64_t> seen_ns{0};
  std::atomic<bool> stop{false};
  // Notifications carry the key and the command, not the value: the lock step numbers them.
  std::thread reader([&] {
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      bool is_error = false;
      int r = 0;
      while ((r = subscriber.next_reply(&is_error)) == 0) {
        if (!subscriber.receive()) return;  // closed at the end
      }
      if (r != 1) return;
      seen_ns.store(sync::now_ns(), std::memory_order_relaxed);
      seen.store(++n, std::memory_order_release);
      seen.notify_one();
    }
  });
  Samples samples;
  const std::string value_pad(o.value_size_bytes > 20 ? o.value_size_bytes - 20 : 0, ' ');
  std::string cmd;
  const bool ok = lock_step(
      o,
      [&](uint64_t i) {
        cmd.clear();
        RespClient::append_command(RequestKind::kPut, kWatchKey, std::to_string(i) + value_pad,
                                   &cmd);
        if (!setter.send(cmd)) return false;
        bool is_error = false;
        int r = 0;
        while ((r = setter.next_reply(&is_error)) == 0) {
          if (!setter.receive()) return false;
        }
        return r == 1 && !is_error;
      },
      seen, seen_ns, &samples, error);
  stop.store(true);
  redis.stop();  // closes the subscriber's connection: the reader returns
  reader.join();
  if (!ok) return false;
  *out = figures_of("redis", &samples);
  return true;
}

void print_watch(const WatchFigures& f, bool json) {
  auto us = [](int64_t ns) { return static_cast<double>(ns) / 1e3; };
  if (json) {
    std::printf(
        "{\"workload\":\"watch\",\"system\":\"%s\",\"samples\":%llu,"
        "\"after_answer_p50_ns\":%lld,\"after_answer_p90_ns\":%lld,\"after_answer_p99_ns\":%lld,"
        "\"after_start_p50_ns\":%lld,\"after_start_p99_ns\":%lld}\n",
        f.system.c_str(), static_cast<unsigned long long>(f.samples),
        static_cast<long long>(f.after_answer_p50), static_cast<long long>(f.after_answer_p90),
        static_cast<long long>(f.after_answer_p99), static_cast<long long>(f.after_start_p50),
        static_cast<long long>(f.after_start_p99));
    return;
  }
  std::printf(
      "%-8s samples %-7llu event after the answer: p50 %8.1f us  p90 %8.1f us  p99 %8.1f us;"
      "  after the commit's start: p50 %8.1f us  p99 %8.1f us\n",
      f.system.c_str(), static_cast<unsigned long long>(f.samples), us(f.after_answer_p50),
      us(f.after_answer_p90), us(f.after_answer_p99), us(f.after_start_p50), us(f.after_start_p99));
}

bool Watchers::start(const std::string& socket_path, int count, const std::string& prefix,
                     bool read, std::string* error) {
  ConnectOptions connect;
  connect.socket_path = socket_path;
  for (int i = 0; i < count; ++i) {
    auto one = std::make_unique<One>();
    if (Client::connect(connect, &one->client, error) != Status::kOk) return false;
    WatchOptions w;
    w.prefix = prefix;
    uint32_t id = 0;
    if (const Status s = one->client->watch(w, &id); s != Status::kOk) {
      *error = std::string("watch: ") + status_name(s);
      return false;
    }
    One* self = one.get();
    if (!read) {
      watchers_.push_back(std::move(one));
      continue;
    }
    one->thread = std::thread([this, self] {
      while (!stop_.load(std::memory_order_relaxed)) {
        WatchEvent e;
        if (self->client->next_event(&e, 100) != Status::kOk) continue;
        ++self->events;
        const uint64_t feed = self->client->feed_position();
        self->lag_last = feed > e.sequence ? feed - e.sequence : 0;
        self->lag_max = std::max(self->lag_max, self->lag_last);
      }
    });
    watchers_.push_back(std::move(one));
  }
  return true;
}

void Watchers::stop() {
  if (watchers_.empty()) return;
  stop_.store(true);
  uint64_t events = 0, lag_max = 0, lag_last = 0;
  for (auto& w : watchers_) {
    if (w->thread.joinable()) w->thread.join();
    events += w->events;
    lag_max = std::max(lag_max, w->lag_max);
    lag_last = std::max(lag_last, w->lag_last);
  }
  std::fprintf(stderr,
               "ringdb-bench: %zu watchers: %llu events in all; the largest lag behind the feed "
               "%llu bytes of log, at the last event %llu\n",
               watchers_.size(), static_cast<unsigned long long>(events),
               static_cast<unsigned long long>(lag_max), static_cast<unsigned long long>(lag_last));
  watchers_.clear();
}

}  // namespace ringdb::bench
