// Recovery at start (issue 5): the newest valid checkpoint (daemon/durability/checkpoint.h) is
// loaded into the empty engine — a damaged one is passed over for the one before it, whose log is
// kept — then the write-ahead log is replayed from the checkpoint's LSN (daemon/wal/reader.h:
// a torn tail is cleared; damage refuses, unless `wal_mode` is kPointInTime), each key's
// operations applied in log order (on two threads, each owning half of the keys; consecutive
// records share an engine transaction: safe with no reader, see BatchedWriter and SplitReplay
// in recovery.cc), skipping the records of transactions the checkpoint holds.
// Transaction ids then go on above every id the checkpoint and the log name.
//
// Thread safety: none needed (runs before the daemon serves). It starts a helper thread of its
// own for the replay and ends it before it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "daemon/durability/checkpoint.h"
#include "daemon/engine/engine.h"
#include "daemon/wal/reader.h"

namespace ringdb::daemon {

struct RecoveryReport {
  CheckpointInfo checkpoint;  // seq 0: none was loaded
  double checkpoint_seconds = 0;
  std::vector<std::string> unusable_checkpoints;  // passed over, with why
  wal::RecoveryResult log;
  uint64_t replayed = 0;       // transactions applied from the log
  uint64_t in_checkpoint = 0;  // log records skipped: the checkpoint holds them
  double seconds = 0;          // all of it
};

// Progress on large checkpoints and logs: a line at most every `interval` (checked every
// 4096 keys or records), given to `report` (default: the daemon's log, at INFO).
struct RecoveryProgress {
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::function<void(const std::string& line)> report;
};

// REQUIRES: `engine` is empty and has no open transaction.
bool recover(Engine& engine, const std::string& checkpoint_dir, const std::string& wal_dir,
             RecoveryReport* report, std::string* error, const RecoveryProgress& progress = {},
             wal::RecoveryMode wal_mode = wal::RecoveryMode::kStrict);

}  // namespace ringdb::daemon
