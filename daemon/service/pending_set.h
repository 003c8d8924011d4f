// PendingSet: the completions the write-ahead log posts to one worker — "this commit is on
// disk" or "it failed with DISK_FULL" — which the worker applies at the top of its loop and
// answers to the client. It is the worker's wal::CompletionSink: the log writer posts each
// batch's completions for this worker straight into it, in one post().
//
// After kv_engine's MB-25822 (docs/ARCHITECTURE.md cites the seed): the set has a mutex of its
// own, held only to append or to swap the list out, never while the worker executes requests,
// so a poster never waits for a busy worker. For the same reason each entry carries its own
// status code: the poster may not touch the parked request (the worker may be reading it);
// the worker applies the status when it drains the set.
//
// Waking: a post that finds the worker asleep (its need_wakeup flag, docs/PROTOCOL.md section
// 3) rings its doorbell. The poster's "append, fence, read need_wakeup" and the worker's
// "store need_wakeup, fence, look at the set" (maybe_nonempty) form the same Dekker pair as a
// client's submit, so no wake-up is lost and a busy worker costs the poster no system call.
//
// Bounds: `capacity` entries, fixed at construction (the worker's limit on parked commits);
// the set's buffer is allocated then and the worker's at its first drain, after which neither
// post() nor drain() allocates. post() of a full set fails (returns false) and posts nothing.
//
// Thread safety: post() from any thread; maybe_nonempty() and drain() from the owning worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "daemon/wal/completion.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

class PendingSet final : public wal::CompletionSink {
 public:
  // `sleeping`: the worker's need_wakeup flag (nullptr: never rings); `ring`: rings its
  // doorbell. `stats` (may be nullptr) records the set's mutex (sync/latch_stats.h).
  PendingSet(uint32_t capacity, const std::atomic<uint32_t>* sleeping, std::function<void()> ring,
             sync::LatchStats* stats = nullptr);
  PendingSet(const PendingSet&) = delete;
  PendingSet& operator=(const PendingSet&) = delete;

  uint32_t capacity() const { return capacity_; }

  // notify_io_complete: appends the completions (all, or none if they do not fit: returns
  // false), then wakes the worker if it sleeps. One lock and at most one wake-up per call, so
  // the log writer posts a whole group-commit batch for this worker at once.
  bool post(std::span<const wal::Completion> completions) override EXCLUDES(mu_);

  // The worker, at the top of its loop and before it sleeps: one relaxed load, no lock.
  bool maybe_nonempty() const { return size_.load(std::memory_order_relaxed) != 0; }
  uint32_t size() const { return size_.load(std::memory_order_relaxed); }
  // The worker: replaces *out with every completion posted so far, in posting order. `out`
  // should be kept between calls: the two buffers are swapped, not copied or reallocated.
  void drain(std::vector<wal::Completion>* out) EXCLUDES(mu_);
  // The worker, once it applied everything drain() gave it.
  void applied() EXCLUDES(mu_);

  // The lowest log LSN among the completions posted and not yet applied (Completion::kNoLsn if
  // none): a checkpoint's bound on the log records whose commits are not visible yet.
  uint64_t oldest_unapplied_lsn() const EXCLUDES(mu_);

 private:
  const uint32_t capacity_;
  const std::atomic<uint32_t>* const sleeping_;
  const std::function<void()> ring_;
  mutable sync::Mutex mu_;
  std::vector<wal::Completion> entries_ GUARDED_BY(mu_);
  uint64_t drained_lsn_ GUARDED_BY(mu_) = wal::Completion::kNoLsn;  // until applied()
  std::atomic<uint32_t> size_{0};  // entries_.size(), readable without mu_
};

}  // namespace ringdb::daemon
