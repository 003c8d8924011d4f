// Checking a data directory offline (ringdb-admin verify; issue 12): every checkpoint read
// whole and checked (frame, checksum, key order and limits), every log segment and record
// checked in LSN order by the reader recovery uses (wal::recover as a dry run: nothing is
// cleared, copied, moved or removed), and the newest checkpoint's replay point within the log.
// Safe beside a running daemon (it only reads), though what it reads of the live log's tail
// may be a moment old.
//
// Thread safety: none needed (a tool's one thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/wal/reader.h"

namespace ringdb::daemon {

struct VerifyReport {
  struct Checkpoint {
    std::string path;
    uint64_t seq = 0;
    uint64_t wal_lsn = 0;
    uint64_t keys = 0;
    bool ok = false;
    std::string error;  // when not ok
  };
  std::vector<Checkpoint> checkpoints;  // the readable ones, newest first
  wal::RecoveryResult log;              // first_lsn, next_lsn, segments, records, end, damage
  std::vector<std::string> problems;    // every finding that is damage, for people
  bool damaged() const { return !problems.empty(); }
};

// false (with `error`) only when the directory cannot be read at all.
bool verify_data_dir(const std::string& data_dir, VerifyReport* report, std::string* error);

}  // namespace ringdb::daemon
