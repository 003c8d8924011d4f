#include "daemon/service/watch_hub.h"

#include <algorithm>

#include "daemon/base/log.h"
#include "sync/fence.h"

namespace ringdb::daemon {

using shm::WireStatus;

namespace {

// Records a lagging watcher reads per turn of the feed thread, so that the hub's lock is
// never held for long (add, remove and the workers' pumps wait for it or skip).
constexpr uint32_t kCatchUpRecordsPerTurn = 4096;

}  // namespace

WatchHub::WatchHub(Options options, std::function<uint64_t()> gate,
                   std::function<void()> on_corrupt_session)
    : options_(std::move(options)),
      gate_(std::move(gate)),
      on_corrupt_session_(std::move(on_corrupt_session)),
      head_tail_(options_.wal_dir) {}

WatchHub::~WatchHub() {
  stop();
}

void WatchHub::start() {
  thread_ = std::thread([this] { feed_thread(); });
}

void WatchHub::stop() {
  stopping_.store(true, std::memory_order_seq_cst);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WatchHub::feed_thread() {
  while (!stopping_.load(std::memory_order_acquire)) {
    const auto key = wake_.prepare_wait();
    run_pumps(/*catch_up=*/true, /*wait_for_lock=*/true);
    if (stopping_.load(std::memory_order_seq_cst)) {
      wake_.cancel_wait();
      break;
    }
    // A lagging watcher is looked at every millisecond (its client frees ring space without
    // telling anyone); otherwise the thread sleeps until a watch, the log or stop() wakes it.
    wake_.wait(key, any_lagging_.load(std::memory_order_relaxed)
                        ? std::chrono::nanoseconds(std::chrono::milliseconds(1))
                        : std::chrono::nanoseconds(-1));
  }
}

WireStatus WatchHub::add(const std::shared_ptr<ClientSession>& session, WatchRange range,
                         bool keys_only, uint64_t from, uint32_t* id, uint64_t* position) {
  sync::MutexGuard guard(mu_);
  if (watch_count_.load(std::memory_order_relaxed) >= kWatchesMax)
    return WireStatus::kTooManyWatches;
  auto& slot = outlets_[session.get()];
  if (!slot) {
    slot = std::make_unique<Outlet>();
    slot->session = session;
    const shm::SegmentGeometry& g = session->geometry();
    slot->writer = shm::EventWriter(
        reinterpret_cast<shm::EventAreaHeader*>(session->base() + g.event_area_offset),
        session->base() + g.event_ring_offset(), g.sizes.event_ring_bytes);
    slot->value_max = g.sizes.event_ring_bytes / 4;
  }
  Outlet& o = *slot;
  if (o.corrupt) return WireStatus::kInvalidRequest;
  if (o.watchers.size() >= options_.watches_per_session_max) return WireStatus::kTooManyWatches;
  // The head first goes as far as the gate allows, so that "now" is now.
  pump_locked(false);
  auto w = std::make_unique<Watcher>();
  w->outlet = &o;
  w->range = std::move(range);
  w->keys_only = keys_only;
  w->position = head_;
  if (from != shm::kWatchFromNow && from != head_) {
    uint64_t oldest = 0;
    std::string why;
    w->tail = std::make_unique<wal::LogTail>(options_.wal_dir);
    switch (w->tail->seek(from, head_, &oldest, &why)) {
      case wal::LogTail::Result::kOk:
        w->position = from;
        break;
      case wal::LogTail::Result::kCompacted:
        *position = oldest;
        return WireStatus::kCompacted;
      case wal::LogTail::Result::kBadPosition:
        return WireStatus::kInvalidArgument;
      case wal::LogTail::Result::kDamaged:
        log(LogLevel::kError, "watch: %s", why.c_str());
        return WireStatus::kInvalidArgument;
    }
  }
  w->id = o.next_id++;
  *id = w->id;
  *position = w->position;
  w->lagging = w->tail != nullptr;
  const bool lags = w->lagging;
  o.watchers.push_back(std::move(w));
  watch_count_.fetch_add(1, std::memory_order_relaxed);
  ++stats_.started;
  if (lags) wake_.notify_all();
  return WireStatus::kOk;
}

WireStatus WatchHub::remove(const ClientSession& session, uint32_t id) {
  sync::MutexGuard guard(mu_);
  const auto it = outlets_.find(&session);
  if (it == outlets_.end()) return WireStatus::kNotFound;
  auto& ws = it->second->watchers;
  const auto w = std::find_if(ws.begin(), ws.end(), [&](const auto& x) { return x->id == id; });
  if (w == ws.end()) return WireStatus::kNotFound;
  ws.erase(w);
  watch_count_.fetch_sub(1, std::memory_order_relaxed);
  return WireStatus::kOk;
}

void WatchHub::drop(const ClientSession& session) {
  sync::MutexGuard guard(mu_);
  const auto it = outlets_.find(&session);
  if (it == outlets_.end()) return;
  watch_count_.fetch_sub(static_cast<uint32_t>(it->second->watchers.size()),
                         std::memory_order_relaxed);
  outlets_.erase(it);
}

void WatchHub::pump() {
  run_pumps(/*catch_up=*/false, /*wait_for_lock=*/false);
}

void WatchHub::run_pumps(bool catch_up, bool wait_for_lock) {
  // Whoever holds the lock goes round again if someone asked while it pumped: the asker
  // stores again_ then reads the lock; the holder unlocks then reads again_ (a fence on each
  // side between the two: one of them sees the other).
  again_.store(true, std::memory_order_relaxed);
  sync::full_fence();
  for (;;) {
    if (wait_for_lock) {
      mu_.lock();
    } else if (!mu_.try_lock()) {
      return;  // the holder goes round again
    }
    again_.store(false, std::memory_order_relaxed);
    pump_locked(catch_up);
    mu_.unlock();
    sync::full_fence();
    if (!again_.load(std::memory_order_relaxed)) return;
  }
}

void WatchHub::pump_applied(uint64_t lsn) {
  pump();
  if (head_seen_.load(std::memory_order_acquire) > lsn) return;
  behind_.store(true, std::memory_order_relaxed);
  sync::full_fence();  // the note, then the durable LSN (log_advanced: the other way round)
  pump();              // (the durable LSN may have been stored meanwhile)
}

void WatchHub::pump_locked(bool catch_up_too) {
  const uint64_t gate = gate_();
  last_gate_ = gate;
  advance_head(gate, catch_up_too ? UINT32_MAX : kHeadRecordsPerPump);
  for (auto& [session, o] : outlets_) {
    for (auto& w : o->watchers) {
      if (w->ending) {
        finish_ending(*w);
      } else if (catch_up_too && w->lagging) {
        catch_up(*w);
      }
    }
  }
  // Ended watches leave; a session that misused its area loses them all.
  for (auto& [session, o] : outlets_) {
    if (o->corrupt) {
      end_outlet(*o);
      continue;
    }
    const size_t before = o->watchers.size();
    std::erase_if(o->watchers, [](const auto& w) { return w->ending && w->outlet == nullptr; });
    watch_count_.fetch_sub(static_cast<uint32_t>(before - o->watchers.size()),
                           std::memory_order_relaxed);
  }
  publish_all();
  any_lagging_.store(lagging_locked() != 0, std::memory_order_relaxed);
}

void WatchHub::advance_head(uint64_t gate, uint32_t records_max) {
  if (!head_open_) {
    // The feed starts at the log's end as the hub first sees it: events are for watchers
    // that come, and those that resume read the log behind it with tails of their own.
    uint64_t oldest = 0;
    std::string why;
    if (head_tail_.seek(gate, gate, &oldest, &why) != wal::LogTail::Result::kOk) {
      log(LogLevel::kError, "watch: the feed cannot start at the log's end: %s", why.c_str());
      return;
    }
    head_ = gate;
    head_seen_.store(head_, std::memory_order_release);
    head_open_ = true;
    return;
  }
  if (head_ >= gate) return;
  uint32_t records = 0;
  uint64_t oldest = 0;
  std::string why;
  const auto r = head_tail_.read(
      gate,
      [&](const wal::Record& record) REQUIRES(mu_) {
        for (auto& [session, o] : outlets_) {
          for (auto& w : o->watchers) {
            if (w->lagging || w->ending) continue;  // a live watcher stands at the head
            if (deliver(*w, record) == Delivery::kWhole) {
              w->position = record.lsn + record.size;
            } else {  // its ring is full: the feed thread takes it from here
              w->position = record.lsn;
              w->lagging = true;
              wake_.notify_all();
            }
          }
        }
        ++stats_.records_read;
        return ++records >= records_max ? wal::LogTail::Take::kStop : wal::LogTail::Take::kNext;
      },
      &oldest, &why);
  head_ = head_tail_.position();
  head_seen_.store(head_, std::memory_order_release);
  // Live watchers stand at the head, also past a segment end, where no record moved them.
  for (auto& [session, o] : outlets_) {
    for (auto& w : o->watchers) {
      if (!w->lagging && !w->ending) w->position = head_;
    }
  }
  if (r != wal::LogTail::Result::kOk) {
    log(LogLevel::kError, "watch: the feed stopped at log position %lu: %s",
        static_cast<unsigned long>(head_), why.c_str());
  }
}

void WatchHub::catch_up(Watcher& w) {
  uint64_t oldest = 0;
  std::string why;
  auto ended = [&](wal::LogTail::Result r) REQUIRES(mu_) {
    if (r == wal::LogTail::Result::kCompacted) {
      end_watch(w, shm::EventType::kCompacted, oldest);
    } else {
      log(LogLevel::kError, "watch: a watcher cannot go on at log position %lu: %s",
          static_cast<unsigned long>(w.position), why.c_str());
      end_watch(w, shm::EventType::kEnded, w.position);
    }
  };
  // A client that has not read half its ring since it filled is not worth a read of the log
  // yet: a stalled watcher costs one look at its read position per turn, and one that reads
  // gets its events in runs of half a ring.
  Outlet& o = *w.outlet;
  if (o.writer.refresh() == shm::EventWriter::Result::kCorrupt) {
    o.corrupt = true;
    return;
  }
  if (o.writer.free_bytes() < uint64_t{o.value_max} * 2) return;
  if (!w.tail) {
    w.tail = std::make_unique<wal::LogTail>(options_.wal_dir);
    if (const auto r = w.tail->seek(w.position, head_, &oldest, &why);
        r != wal::LogTail::Result::kOk) {
      ended(r);
      return;
    }
  }
  uint32_t records = 0;
  const auto r = w.tail->read(
      head_,
      [&](const wal::Record& record) REQUIRES(mu_) {
        if (deliver(w, record) != Delivery::kWhole) return wal::LogTail::Take::kKeep;
        return ++records >= kCatchUpRecordsPerTurn ? wal::LogTail::Take::kStop
                                                   : wal::LogTail::Take::kNext;
      },
      &oldest, &why);
  w.position = w.tail->position();
  if (r != wal::LogTail::Result::kOk) {
    ended(r);
    return;
  }
  if (w.position == head_ && w.next_op == 0) {  // live again
    w.lagging = false;
    w.tail.reset();
  }
}

WatchHub::Delivery WatchHub::deliver(Watcher& w, const wal::Record& record) {
  Outlet& o = *w.outlet;
  const auto& ops = record.ops;
  size_t first = ops.size(), last = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!w.range.matches(ops[i].key)) continue;
    first = std::min(first, i);
    last = i;
  }
  if (first == ops.size()) return Delivery::kWhole;
  if (o.corrupt) return Delivery::kCorrupt;
  const uint64_t sequence = record.lsn + record.size;
  for (size_t i = std::max<size_t>(first, w.next_op); i <= last; ++i) {
    const wal::Op& op = ops[i];
    if (!w.range.matches(op.key)) continue;
    shm::EventHeader h{};
    h.type = static_cast<uint8_t>(op.kind == wal::OpKind::kPut ? shm::EventType::kPut
                                                               : shm::EventType::kDelete);
    h.flags = static_cast<uint8_t>((i == first ? shm::kEventTxnFirst : 0) |
                                   (i == last ? shm::kEventTxnLast : 0));
    h.watch = w.id;
    h.sequence = sequence;
    std::string_view value = w.keys_only ? std::string_view() : op.value;
    if (value.size() > o.value_max) {
      value = {};
      h.flags |= shm::kEventValueOmitted;
    }
    switch (o.writer.append(h, op.key, value)) {
      case shm::EventWriter::Result::kOk:
        break;
      case shm::EventWriter::Result::kFull:
        w.next_op = static_cast<uint32_t>(i);
        return Delivery::kFull;
      case shm::EventWriter::Result::kCorrupt:
        o.corrupt = true;
        return Delivery::kCorrupt;
    }
    ++w.events;
    ++stats_.events;
    stats_.event_bytes += shm::event_size(op.key.size(), value.size());
  }
  w.next_op = 0;
  return Delivery::kWhole;
}

void WatchHub::end_watch(Watcher& w, shm::EventType type, uint64_t sequence) {
  w.ending = true;
  w.end_type = type;
  w.end_sequence = sequence;
  w.tail.reset();
  finish_ending(w);
}

void WatchHub::finish_ending(Watcher& w) {
  if (w.outlet == nullptr) return;  // done: it leaves at the end of the pump
  shm::EventHeader h{};
  h.type = static_cast<uint8_t>(w.end_type);
  h.watch = w.id;
  h.sequence = w.end_sequence;
  const auto r = w.outlet->writer.append(h, {}, {});
  if (r == shm::EventWriter::Result::kCorrupt) w.outlet->corrupt = true;
  if (r != shm::EventWriter::Result::kOk) return;  // full: again next turn
  if (w.end_type == shm::EventType::kCompacted) ++stats_.compacted;
  w.outlet = nullptr;
}

void WatchHub::end_outlet(Outlet& o) {
  if (o.watchers.empty()) return;
  watch_count_.fetch_sub(static_cast<uint32_t>(o.watchers.size()), std::memory_order_relaxed);
  o.watchers.clear();
  o.session->mark_corrupt("the session rewrote its event area's read position");
  log(LogLevel::kWarn, "session %lu: its event area was misused; its watches ended",
      static_cast<unsigned long>(o.session->id()));
  on_corrupt_session_();
}

void WatchHub::publish_all() {
  for (auto& [session, o] : outlets_) {
    if (o->corrupt) continue;
    // The client's read position is checked at every publication, not only when the ring
    // is full: a misused area ends the session's watches at once.
    if (o->writer.has_unpublished() && o->writer.refresh() == shm::EventWriter::Result::kCorrupt) {
      o->corrupt = true;
      end_outlet(*o);
      continue;
    }
    o->writer.publish(head_);
  }
}

uint64_t WatchHub::lagging_locked() const {
  uint64_t n = 0;
  for (const auto& [session, o] : outlets_) {
    for (const auto& w : o->watchers) {
      if (w->lagging || w->ending) ++n;
    }
  }
  return n;
}

WatchHubStats WatchHub::stats() const {
  sync::MutexGuard guard(mu_);
  WatchHubStats s = stats_;
  s.watches = watch_count_.load(std::memory_order_relaxed);
  s.lagging = lagging_locked();
  s.head = head_;
  s.gate = last_gate_;
  return s;
}

std::vector<WatcherRow> WatchHub::watchers() const {
  sync::MutexGuard guard(mu_);
  std::vector<WatcherRow> rows;
  for (const auto& [session, o] : outlets_) {
    for (const auto& w : o->watchers) {
      WatcherRow row;
      row.session = o->session->id();
      row.watch = w->id;
      row.range = w->range;
      row.keys_only = w->keys_only;
      row.position = w->position;
      row.lag_bytes = head_ > w->position ? head_ - w->position : 0;
      row.events = w->events;
      row.lagging = w->lagging;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace ringdb::daemon
