// What the write-ahead log tells the workers about their commits, and where it tells them.
//
// The log writer (writer.h) hands each batch's outcomes to one CompletionSink per worker —
// in ringdbd, that worker's pending set (daemon/service/pending_set.h) — with one post() per
// worker per batch: one lock and at most one wake-up for all of that worker's commits in the
// batch, and no hop through the server or the worker on the way.
//
// Thread safety: the writer thread calls post(); the sink decides how the worker hears it.
#pragma once

#include <cstdint>
#include <span>

namespace ringdb::daemon::wal {

enum class LogStatus : uint32_t {
  kOk = 0,
  kDiskFull,   // no space: not durable, retry later
  kFailed,     // the log failed for good (fdatasync or I/O error); the daemon must restart
  kQueueFull,  // append(): queue_bytes_max reached; retry after the writer caught up
  kTooLarge,   // append(): a record larger than a segment's space
};

const char* log_status_name(LogStatus status);

// The outcome of one appended record somebody waits for.
struct Completion {
  static constexpr uint64_t kNoLsn = UINT64_MAX;
  uint64_t request;            // the token the worker gave append()
  LogStatus status;            // kOk (durable), kDiskFull or kFailed
  uint64_t lsn = kNoLsn;       // the record's LSN, once it was given one
  uint64_t next_lsn = kNoLsn;  // where the next record begins (kOk)
};

class CompletionSink {
 public:
  // One worker's completions from one batch, in LSN order. false: the sink had no room and
  // took none of them (a bug in the sizing of the sink: the writer treats it as fatal).
  virtual bool post(std::span<const Completion> completions) = 0;

 protected:
  ~CompletionSink() = default;
};

}  // namespace ringdb::daemon::wal
