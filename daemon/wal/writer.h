// LogWriter: the write-ahead log's group commit (issue 5; format in docs/STORAGE.md).
//
// Workers append one record per committing transaction (append(), any thread). One writer
// thread takes everything appended so far as a batch, gives the records their LSNs, writes the
// batch with one write and one fdatasync, linked in io_uring (the sync starts only after the
// write completed, and fails if it failed), reaps both completions itself, and posts each
// commit's outcome straight into its worker's sink (completion.h: in ringdbd, the worker's
// pending set), one post per worker per batch. While a
// batch is on its way to disk, new appends queue up; the next batch takes them all. So a batch
// is as large as what arrived during one write+fdatasync: one record when idle, hundreds under
// load, with no timer and no artificial delay.
//
// Async commits (request kNoNotify: nobody waits) may wait up to `async_flush_delay` in the
// queue so that several share a write and an fdatasync: while the queue holds only async
// records, the writer waits until the oldest is that old, or until a record somebody waits
// for arrives (it then takes them all at once). 0: every record is written at once.
//
// Segments: files of `segment_bytes` (header included), preallocated with fallocate when
// created (then fdatasync has no size change to write) and made durable with the directory's
// fsync. A batch that does not fit in the current segment is split at a record boundary; the
// rest goes to a new segment. Leaving a segment takes two steps, so that recovery can tell a
// missing segment from the end of the log: the next segment is created and made durable,
// then the old one sealed with a segment-end record (written and synced) that names it; the
// new segment starts after that record. After a restart the writer goes on in the segment
// recovery left open (continue_segment), or starts a new one.
//
// Faults:
//   - no space for a new segment (ENOSPC from fallocate or from a write): the commits that did
//     not reach the disk get DISK_FULL, never OK; their LSNs are given again to the next batch,
//     which tries again (so writes succeed again once space returns). on_disk_full reports it
//     (rate-limited) and disk_full() shows it. A writer that cannot make its first segment
//     for want of space opens anyway, with none: every commit gets DISK_FULL until space
//     returns (so that a daemon restarted on a full disk serves reads);
//   - a failed fdatasync (or any other write error) is never retried: after it, what the page
//     cache holds is unknown. The writer calls `on_fatal` with the reason, answers nothing more
//     as durable, and refuses further appends (kFailed). The daemon logs it and exits so that
//     recovery can run.
//
// Bounds: the bytes queued for the next batch (queue_bytes_max: append() returns kQueueFull
// beyond it) and a record's size (one segment's space: kTooLarge beyond it).
//
// Thread safety: append() and stats() from any thread; the constructor's caller owns stop().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemon/base/log_limiter.h"
#include "daemon/wal/completion.h"
#include "daemon/wal/format.h"
#include "daemon/wal/log_io.h"
#include "sync/event_count.h"
#include "sync/latch_stats.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon::wal {

struct LogWriterOptions {
  std::string dir;  // the log's directory (must exist)
  uint64_t segment_bytes = uint64_t{64} << 20;
  size_t queue_bytes_max = size_t{32} << 20;  // bytes appended and not yet taken by a batch
  uint64_t start_lsn = 0;                     // the LSN of the first record (after recovery)
  uint64_t first_segment_id = 0;              // of the segment continued or created first
  // Recovery's open segment (wal::RecoveryResult): the writer appends to this file, at
  // continue_offset (where start_lsn goes); empty: it creates segment first_segment_id at
  // start_lsn.
  std::string continue_segment;
  uint64_t continue_offset = 0;
  uint64_t continue_bytes = 0;  // its size (it may have been made with another segment_bytes)
  std::chrono::nanoseconds async_flush_delay{0};  // see above
  // A write + fdatasync slower than this calls on_slow (at most once per slow_sync_interval;
  // the others are counted and passed along).
  std::chrono::nanoseconds slow_sync_threshold = std::chrono::seconds(1);
  std::chrono::nanoseconds slow_sync_interval = std::chrono::seconds(10);
  std::function<void(std::chrono::nanoseconds took, uint64_t suppressed)> on_slow;
  // The disk is full (a new segment or a write got ENOSPC or EDQUOT): called with kFull when it
  // becomes full (refused: the commits just refused), kStillFull at most once per
  // disk_full_interval while it stays full (refused since the last call), kRoomAgain when a
  // write succeeds again (refused: all of them while it was full). From the writer thread.
  enum class DiskFull { kFull, kStillFull, kRoomAgain };
  std::chrono::nanoseconds disk_full_interval = std::chrono::seconds(10);
  std::function<void(DiskFull event, uint64_t refused)> on_disk_full;
  // Records became durable (durable_lsn() moved, after their outcomes were posted); `unawaited`:
  // some of them have nobody waiting (async commits). From the writer thread; keep it short.
  std::function<void(bool unawaited)> on_durable;
  // The disk (log_io.h); nullptr: the writer opens an io_uring of its own (UringLogIo). Tests
  // and RINGDB_FAULT_INJECT put a FaultyLogIo here. Must outlive the writer.
  LogIo* io = nullptr;
};

struct LogWriterStats {
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t fsyncs = 0;
  uint64_t segments_created = 0;
  uint64_t disk_full_batches = 0;
  uint64_t durable_lsn = 0;                  // every record below it is on disk
  std::vector<uint64_t> batch_records_log2;  // [k]: batches of 2^k .. 2^(k+1)-1 records
  // Each chunk's write + fdatasync, submission to both completions.
  sync::HistogramSummary sync_latency;
  sync::LogHistogram::Counts sync_counts{};  // its log2 buckets (the metrics' histogram)
  uint64_t slow_syncs = 0;                   // those over slow_sync_threshold
};

class LogWriter {
 public:
  using OnFatal = std::function<void(const std::string& reason)>;

  // Creates the first segment and starts the writer thread; nullptr (with `error`) on failure.
  // `sinks[w]` hears the outcomes of worker w's records, from the writer thread; the sinks
  // outlive the writer. A batch's records are posted before durable_lsn() moves past them,
  // so whoever reads durable_lsn() == D knows that every record below D was posted (a
  // checkpoint relies on it: daemon/durability/checkpoint.h).
  static std::unique_ptr<LogWriter> open(const LogWriterOptions& options,
                                         std::vector<CompletionSink*> sinks, OnFatal on_fatal,
                                         std::string* error);
  ~LogWriter();  // stop()
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // append()'s `request` for a record whose outcome nobody waits for (an async commit).
  static constexpr uint64_t kNoNotify = UINT64_MAX;

  // Queues transaction `txn`'s record; its outcome comes later through sinks[worker]
  // (unless request is kNoNotify). REQUIRES: worker < the number of sinks.
  // kOk, kQueueFull, kTooLarge or kFailed (then nothing is queued or notified).
  LogStatus append(uint64_t txn, std::span<const Op> ops, uint32_t worker, uint64_t request)
      EXCLUDES(mu_);

  // The largest record append() takes (a segment's room for records): a transaction whose
  // record is larger gets kTooLarge.
  uint64_t record_bytes_max() const {
    return options_.segment_bytes - kSegmentHeaderSize - kSegmentEndSize;
  }

  // Writes what is queued, then stops the thread. Idempotent.
  void stop();

  uint64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  // Where the records handed to the disk end (durable_lsn() once their sync completes).
  uint64_t written_lsn() const { return written_lsn_.load(std::memory_order_relaxed); }
  // The log failed for good (on_fatal was called).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // The last batch found the disk full, and none has been written since: commits get
  // DISK_FULL until space returns.
  bool disk_full() const { return disk_full_.load(std::memory_order_acquire); }
  LogWriterStats stats() const EXCLUDES(stats_mu_);

 private:
  struct Entry {
    uint32_t worker;
    uint64_t request;
    uint32_t size;  // the record's bytes in the batch
    uint64_t lsn;   // set when the batch is written
  };

  LogWriter(const LogWriterOptions& options, std::vector<CompletionSink*> sinks, OnFatal on_fatal);
  bool init(std::string* error);
  void run();
  // Writes batch_ (records at batch_entries_) to disk in one or more chunks, posting the
  // outcomes.
  void write_batch();
  // write_batch()'s steps: the batch in the statistics; the LSNs of entries
  // [entry, end_entry), whose bytes start at `offset` of batch_ (returns the LSN after them).
  void count_batch() EXCLUDES(stats_mu_);
  uint64_t assign_lsns(size_t entry, size_t end_entry, size_t offset);
  // Writes batch bytes [from, to) at the current position: write + fdatasync. 0 or -errno.
  int write_chunk(size_t from, size_t to);
  // Leaves the current segment (if any) for a new one: creates it, then seals the current
  // one (seal()). 0 or -errno (-ENOSPC: nothing changed; other errors: the log failed).
  int new_segment();
  // Writes the segment-end record at the end of the current segment, synced; 0, or -EIO and
  // the log failed.
  int seal(uint64_t next_segment_id);
  void fail(const std::string& reason);
  // Posts the outcome of batch entries [first_entry, end_entry) to their workers' sinks.
  void notify_range(size_t first_entry, size_t end_entry, LogStatus status);
  // Entries [first_entry, end) of the batch could not be written for want of space.
  void refuse_disk_full(size_t first_entry);
  // Marks the disk full and tells on_disk_full: at once when it became full, then at most
  // once per disk_full_interval while it stays full.
  void report_disk_full();
  // A chunk reached the disk: if it was full, it is no longer.
  void disk_has_room();

  const LogWriterOptions options_;
  const std::vector<CompletionSink*> sinks_;
  const OnFatal on_fatal_;

  sync::Mutex mu_{queue_latch_stats()};  // "wal.queue"
  static sync::LatchStats* queue_latch_stats();
  std::string queue_ GUARDED_BY(mu_);  // encoded records, LSNs not yet set
  std::vector<Entry> queue_entries_ GUARDED_BY(mu_);
  bool queue_has_waiter_ GUARDED_BY(mu_) = false;  // a record somebody waits for is queued
  int64_t queue_since_ns_ GUARDED_BY(mu_) = 0;     // when the oldest queued record came
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<bool> failed_{false};
  std::atomic<bool> writer_idle_{false};
  std::atomic<bool> writer_delaying_{false};  // waiting out async_flush_delay
  sync::EventCount wake_;                     // the writer sleeps on it when idle or delaying

  // The writer thread's own.
  std::string batch_;
  std::vector<Entry> batch_entries_;
  std::vector<std::vector<Completion>> by_worker_;  // notify_range()'s scratch, per worker
  std::vector<uint32_t> workers_touched_;           // those of by_worker_ it filled
  std::unique_ptr<LogIo> own_io_;                   // when options_.io is nullptr
  LogIo* io_ = nullptr;
  int dir_fd_ = -1;
  int segment_fd_ = -1;
  uint64_t segment_id_ = 0;
  uint64_t segment_offset_ = 0;  // where the next record goes in the segment file
  uint64_t segment_end_ = 0;     // the segment file's size
  uint64_t next_lsn_ = 0;

  std::atomic<uint64_t> durable_lsn_{0};
  std::atomic<uint64_t> written_lsn_{0};
  sync::LogHistogram sync_latency_;
  std::atomic<uint64_t> slow_syncs_{0};
  std::atomic<bool> disk_full_{false};
  uint64_t refused_unreported_ = 0;  // the writer thread's: commits refused since the last report
  uint64_t refused_while_full_ = 0;
  int64_t next_full_report_ns_ = 0;
  LogLimiter slow_reports_{options_.slow_sync_interval.count()};  // the writer thread's
  mutable sync::Mutex stats_mu_;
  LogWriterStats stats_ GUARDED_BY(stats_mu_);
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace ringdb::daemon::wal
