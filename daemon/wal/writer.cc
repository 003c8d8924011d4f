#include "daemon/wal/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "daemon/base/file_util.h"
#include "sync/clock.h"
#include "sync/latch_stats.h"
#include "sync/thread_name.h"

namespace ringdb::daemon::wal {

const char* log_status_name(LogStatus status) {
  switch (status) {
    case LogStatus::kOk:
      return "OK";
    case LogStatus::kDiskFull:
      return "DISK_FULL";
    case LogStatus::kFailed:
      return "LOG_FAILED";
    case LogStatus::kQueueFull:
      return "QUEUE_FULL";
    case LogStatus::kTooLarge:
      return "TOO_LARGE";
  }
  return "?";
}

LogWriter::LogWriter(const LogWriterOptions& options, std::vector<CompletionSink*> sinks,
                     OnFatal on_fatal)
    : options_(options),
      sinks_(std::move(sinks)),
      on_fatal_(std::move(on_fatal)),
      by_worker_(sinks_.size()) {
  segment_id_ = options.first_segment_id;
  next_lsn_ = options.start_lsn;
  durable_lsn_.store(options.start_lsn, std::memory_order_relaxed);
  written_lsn_.store(options.start_lsn, std::memory_order_relaxed);
}

std::unique_ptr<LogWriter> LogWriter::open(const LogWriterOptions& options,
                                           std::vector<CompletionSink*> sinks, OnFatal on_fatal,
                                           std::string* error) {
  if (options.segment_bytes < kSegmentHeaderSize + 4096) {
    *error = "the log segment size is too small";
    return nullptr;
  }
  std::unique_ptr<LogWriter> writer(new LogWriter(options, std::move(sinks), std::move(on_fatal)));
  if (!writer->init(error)) return nullptr;
  writer->thread_ = std::thread([w = writer.get()] { w->run(); });
  return writer;
}

bool LogWriter::init(std::string* error) {
  dir_fd_ = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    *error = "cannot open the log directory " + options_.dir + ": " + errno_text(errno);
    return false;
  }
  io_ = options_.io;
  if (io_ == nullptr) {
    own_io_ = UringLogIo::open(error);
    if (!own_io_) return false;
    io_ = own_io_.get();
  }
  if (!options_.continue_segment.empty()) {
    segment_fd_ = ::open(options_.continue_segment.c_str(), O_RDWR | O_CLOEXEC);
    if (segment_fd_ < 0) {
      *error =
          "cannot open the log segment " + options_.continue_segment + ": " + errno_text(errno);
      return false;
    }
    segment_offset_ = options_.continue_offset;
    segment_end_ = options_.continue_bytes;
    return true;
  }
  if (const int rc = new_segment(); rc < 0) {
    if (rc == -ENOSPC || rc == -EDQUOT) {  // no segment yet: each batch tries to make it
      report_disk_full();
      return true;
    }
    *error = "cannot create the first log segment in " + options_.dir + ": " + errno_text(-rc);
    return false;
  }
  return true;
}

LogWriter::~LogWriter() {
  stop();
  if (segment_fd_ >= 0) close(segment_fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
}

void LogWriter::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    sync::MutexGuard guard(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

sync::LatchStats* LogWriter::queue_latch_stats() {
  static sync::LatchStats stats("wal.queue");
  return &stats;
}

LogStatus LogWriter::append(uint64_t txn, std::span<const Op> ops, uint32_t worker,
                            uint64_t request) {
  assert(request == kNoNotify || worker < sinks_.size());
  if (failed_.load(std::memory_order_acquire)) return LogStatus::kFailed;
  const size_t size = record_size(ops);
  if (size > record_bytes_max()) return LogStatus::kTooLarge;
  {
    sync::MutexGuard guard(mu_);
    if (queue_.size() + size > options_.queue_bytes_max) return LogStatus::kQueueFull;
    if (queue_entries_.empty()) queue_since_ns_ = sync::now_ns();
    append_record(0, txn, ops, &queue_);  // the writer sets the LSN
    queue_entries_.push_back(Entry{worker, request, static_cast<uint32_t>(size), 0});
    if (request != kNoNotify) queue_has_waiter_ = true;
  }
  // The writer stores writer_idle_ (writer_delaying_) before it looks at the queue under mu_;
  // we look at the flags after queueing under mu_: one of us sees the other (as in
  // mvcc/purge.cc). A delaying writer is woken only for a record somebody waits for.
  if (writer_idle_.load(std::memory_order_relaxed) ||
      (request != kNoNotify && writer_delaying_.load(std::memory_order_relaxed))) {
    wake_.notify_one();
  }
  return LogStatus::kOk;
}

void LogWriter::run() {
  sync::name_this_thread("ringdb-wal");
  for (;;) {
    // Every path below either waits with this key or cancels it.
    const sync::EventCount::Key key = wake_.prepare_wait();
    bool stopping;
    int64_t delay_ns = 0;  // > 0: only async records are queued, and not for long enough
    {
      sync::MutexGuard guard(mu_);
      if (options_.async_flush_delay.count() > 0 && !stopping_ && !queue_has_waiter_ &&
          !queue_entries_.empty()) {
        delay_ns = queue_since_ns_ + options_.async_flush_delay.count() - sync::now_ns();
      }
      if (delay_ns <= 0) {
        batch_.clear();
        batch_entries_.clear();
        queue_.swap(batch_);
        queue_entries_.swap(batch_entries_);
        queue_has_waiter_ = false;
      }
      stopping = stopping_;
    }
    if (delay_ns > 0) {
      writer_delaying_.store(true, std::memory_order_relaxed);
      bool wait;
      {
        sync::MutexGuard guard(mu_);
        wait = !queue_has_waiter_ && !stopping_;
      }
      if (wait) {
        wake_.wait(key, std::chrono::nanoseconds(delay_ns));
      } else {
        wake_.cancel_wait();
      }
      writer_delaying_.store(false, std::memory_order_relaxed);
      continue;
    }
    if (!batch_entries_.empty()) {
      wake_.cancel_wait();
      write_batch();
      continue;
    }
    if (stopping) {
      wake_.cancel_wait();
      return;
    }
    writer_idle_.store(true, std::memory_order_relaxed);
    bool empty;
    {
      sync::MutexGuard guard(mu_);
      empty = queue_entries_.empty() && !stopping_;
    }
    if (empty) {
      wake_.wait(key);
    } else {
      wake_.cancel_wait();
    }
    writer_idle_.store(false, std::memory_order_relaxed);
  }
}

void LogWriter::notify_range(size_t first_entry, size_t end_entry, LogStatus status) {
  // Grouped by worker first, so that each worker's sink is locked (and its worker woken) once
  // per batch, not once per commit. The scratch vectors keep their capacity between batches.
  for (size_t i = first_entry; i < end_entry; ++i) {
    const Entry& e = batch_entries_[i];
    if (e.request == kNoNotify) continue;
    std::vector<Completion>& list = by_worker_[e.worker];
    if (list.empty()) workers_touched_.push_back(e.worker);
    list.push_back(Completion{e.request, status, e.lsn, e.lsn + e.size});
  }
  for (const uint32_t w : workers_touched_) {
    if (!sinks_[w]->post(by_worker_[w]))
      on_fatal_("worker " + std::to_string(w) + " has no room for the log's completions");
    by_worker_[w].clear();
  }
  workers_touched_.clear();
}

void LogWriter::refuse_disk_full(size_t first_entry) {
  const uint64_t refused = batch_entries_.size() - first_entry;
  notify_range(first_entry, batch_entries_.size(), LogStatus::kDiskFull);
  {
    sync::MutexGuard guard(stats_mu_);
    ++stats_.disk_full_batches;
  }
  refused_while_full_ += refused;
  refused_unreported_ += refused;
  report_disk_full();
}

void LogWriter::report_disk_full() {
  const int64_t now = sync::now_ns();
  const bool became_full = !disk_full_.exchange(true, std::memory_order_acq_rel);
  if (!became_full && now < next_full_report_ns_) return;
  if (options_.on_disk_full) {
    options_.on_disk_full(
        became_full ? LogWriterOptions::DiskFull::kFull : LogWriterOptions::DiskFull::kStillFull,
        refused_unreported_);
  }
  refused_unreported_ = 0;
  next_full_report_ns_ = now + options_.disk_full_interval.count();
}

void LogWriter::disk_has_room() {
  if (!disk_full_.load(std::memory_order_relaxed)) return;
  disk_full_.store(false, std::memory_order_release);
  if (options_.on_disk_full)
    options_.on_disk_full(LogWriterOptions::DiskFull::kRoomAgain, refused_while_full_);
  refused_while_full_ = refused_unreported_ = 0;
}

void LogWriter::count_batch() {
  sync::MutexGuard guard(stats_mu_);
  ++stats_.batches;
  size_t bucket = 0;
  for (size_t n = batch_entries_.size(); n > 1; n >>= 1)
    ++bucket;
  if (stats_.batch_records_log2.size() <= bucket) stats_.batch_records_log2.resize(bucket + 1);
  ++stats_.batch_records_log2[bucket];
}

uint64_t LogWriter::assign_lsns(size_t entry, size_t end_entry, size_t offset) {
  // The LSNs are given here, at the position the records really take.
  uint64_t lsn = next_lsn_;
  for (size_t i = entry, at = offset; i < end_entry; at += batch_entries_[i].size, ++i) {
    set_record_lsn(reinterpret_cast<std::byte*>(batch_.data()) + at, lsn);
    batch_entries_[i].lsn = lsn;
    lsn += batch_entries_[i].size;
  }
  return lsn;
}

void LogWriter::write_batch() {
  if (failed_.load(std::memory_order_relaxed)) {
    notify_range(0, batch_entries_.size(), LogStatus::kFailed);
    return;
  }
  count_batch();
  size_t entry = 0;
  size_t offset = 0;
  while (entry < batch_entries_.size()) {
    // The records that fit in the current segment, from `entry` on.
    // (Every segment keeps room for its segment-end record. No segment: none was made yet.)
    const uint64_t room = segment_fd_ < 0 ? 0 : segment_end_ - kSegmentEndSize - segment_offset_;
    size_t end_entry = entry;
    size_t end_offset = offset;
    while (end_entry < batch_entries_.size() &&
           end_offset - offset + batch_entries_[end_entry].size <= room) {
      end_offset += batch_entries_[end_entry].size;
      ++end_entry;
    }
    if (end_entry == entry) {
      if (const int rc = new_segment(); rc < 0) {
        if (rc == -ENOSPC || rc == -EDQUOT) {
          refuse_disk_full(entry);
        } else {
          fail("cannot create a log segment: " + errno_text(-rc));
          notify_range(entry, batch_entries_.size(), LogStatus::kFailed);
        }
        return;
      }
      continue;
    }
    const uint64_t lsn = assign_lsns(entry, end_entry, offset);
    written_lsn_.store(lsn, std::memory_order_relaxed);
    const int rc = write_chunk(offset, end_offset);
    if (rc == -ENOSPC || rc == -EDQUOT) {
      // Nothing of it counts: the next batch is written at the same position, same LSNs.
      written_lsn_.store(next_lsn_, std::memory_order_relaxed);
      refuse_disk_full(entry);
      return;
    }
    if (rc < 0) {
      notify_range(entry, batch_entries_.size(), LogStatus::kFailed);
      return;
    }
    segment_offset_ += end_offset - offset;
    next_lsn_ = lsn;
    disk_has_room();
    {
      // Before the notifications: whoever heard "durable" finds the batch counted.
      sync::MutexGuard guard(stats_mu_);
      stats_.records += end_entry - entry;
      stats_.bytes += end_offset - offset;
      ++stats_.fsyncs;
      stats_.durable_lsn = next_lsn_;
    }
    notify_range(entry, end_entry, LogStatus::kOk);
    // After the notifications (see LogWriter::open).
    durable_lsn_.store(next_lsn_, std::memory_order_release);
    if (options_.on_durable) {
      const bool unawaited = std::any_of(batch_entries_.begin() + static_cast<ptrdiff_t>(entry),
                                         batch_entries_.begin() + static_cast<ptrdiff_t>(end_entry),
                                         [](const Entry& e) { return e.request == kNoNotify; });
      options_.on_durable(unawaited);
    }
    entry = end_entry;
    offset = end_offset;
  }
}

int LogWriter::write_chunk(size_t from, size_t to) {
  const int64_t submitted_ns = sync::now_ns();
  WriteSyncResult r;
  std::string error;
  if (!io_->write_and_sync(segment_fd_, reinterpret_cast<const std::byte*>(batch_.data()) + from,
                           to - from, segment_offset_, &r, &error)) {
    fail(error);
    return -EIO;
  }
  const int write_res = r.write_res;
  const int sync_res = r.sync_res;
  const int64_t took_ns = sync::now_ns() - submitted_ns;
  sync_latency_.record(took_ns);
  if (took_ns >= options_.slow_sync_threshold.count()) {
    slow_syncs_.fetch_add(1, std::memory_order_relaxed);
    uint64_t unreported = 0;
    if (slow_reports_.allow(sync::now_ns(), &unreported) && options_.on_slow)
      options_.on_slow(std::chrono::nanoseconds(took_ns), unreported);
  }
  if (write_res == -ENOSPC || write_res == -EDQUOT) return write_res;
  if (write_res < 0 || static_cast<size_t>(write_res) != to - from) {
    // A short write into preallocated space, or an I/O error: the file's state is unknown.
    fail(write_res < 0 ? "log write failed: " + errno_text(-write_res)
                       : "short log write (" + std::to_string(write_res) + " of " +
                             std::to_string(to - from) + " bytes)");
    return write_res < 0 ? write_res : -EIO;
  }
  if (sync_res < 0) {
    // Never retried: after a failed fdatasync the page cache may have dropped the dirty
    // pages, and a second fdatasync could succeed without them being on disk.
    fail("fdatasync of the log failed: " + errno_text(-sync_res) +
         "; the log cannot be trusted until recovery runs");
    return sync_res;
  }
  return 0;
}

int LogWriter::new_segment() {
  const bool leaving = segment_fd_ >= 0;
  const uint64_t id = leaving ? segment_id_ + 1 : segment_id_;
  const uint64_t start_lsn = leaving ? next_lsn_ + kSegmentEndSize : next_lsn_;
  // Made whole under a temporary name, then renamed: a segment's name never stands for a file
  // a crash left half made (recovery removes leftover *.new files).
  const std::string name = segment_file_name(start_lsn);
  const std::string temp = name + std::string(kNewSegmentSuffix);
  const int fd = openat(dir_fd_, temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  auto undo = [&](int err) {
    close(fd);
    unlinkat(dir_fd_, temp.c_str(), 0);
    return -err;
  };
  if (const int rc = posix_fallocate(fd, 0, static_cast<off_t>(options_.segment_bytes)); rc != 0)
    return undo(rc);
  std::vector<std::byte> header(kSegmentHeaderSize);
  encode_segment_header(SegmentHeader{start_lsn, id, sync::realtime_ns(), options_.segment_bytes},
                        header.data());
  if (pwrite(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
    return undo(errno != 0 ? errno : EIO);
  if (fdatasync(fd) != 0) {
    const int err = errno;
    close(fd);
    fail("fdatasync of a new log segment failed: " + errno_text(err));
    return -err;
  }
  // (renameat2's RENAME_NOREPLACE: a file of that name is never overwritten.)
  if (renameat2(dir_fd_, temp.c_str(), dir_fd_, name.c_str(), RENAME_NOREPLACE) != 0)
    return undo(errno);
  if (fsync(dir_fd_) != 0) {
    const int err = errno;
    close(fd);
    fail("fsync of the log directory failed: " + errno_text(err));
    return -err;
  }
  // A crash from here until the seal is durable leaves the new segment empty after an
  // unsealed one: recovery removes it (an unfinished switch).
  if (leaving) {
    if (const int rc = seal(id); rc < 0) {
      close(fd);
      return rc;
    }
    close(segment_fd_);
  }
  segment_fd_ = fd;
  segment_id_ = id;
  segment_offset_ = kSegmentHeaderSize;
  segment_end_ = options_.segment_bytes;
  next_lsn_ = start_lsn;
  written_lsn_.store(start_lsn, std::memory_order_relaxed);
  sync::MutexGuard guard(stats_mu_);
  ++stats_.segments_created;
  return 0;
}

int LogWriter::seal(uint64_t next_segment_id) {
  std::string record;
  append_segment_end(next_lsn_, next_segment_id, &record);
  WriteSyncResult r;
  std::string error;
  if (!io_->write_and_sync(segment_fd_, reinterpret_cast<const std::byte*>(record.data()),
                           record.size(), segment_offset_, &r, &error)) {
    fail(error);
    return -EIO;
  }
  const int err = r.write_res < 0                                     ? -r.write_res
                  : static_cast<size_t>(r.write_res) != record.size() ? EIO
                  : r.sync_res < 0                                    ? -r.sync_res
                                                                      : 0;
  if (err != 0) {
    // Never retried, as any other failed write or sync of the log (and never taken for a
    // full disk: the space was allocated with the segment).
    fail("sealing the log segment " + std::to_string(segment_id_) + " failed: " + errno_text(err));
    return -EIO;
  }
  return 0;
}

void LogWriter::fail(const std::string& reason) {
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  on_fatal_(reason);
}

LogWriterStats LogWriter::stats() const {
  LogWriterStats s;
  {
    sync::MutexGuard guard(stats_mu_);
    s = stats_;
  }
  s.sync_latency = sync_latency_.summary();
  sync_latency_.add_counts(&s.sync_counts);
  s.slow_syncs = slow_syncs_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ringdb::daemon::wal
