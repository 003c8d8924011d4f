// Commit sequence numbers that only grow across restarts: DATA_DIR/csn-epoch.
//
// A commit's CSN is its place in the commit order (mvcc/trx_sys.h). Clients keep them: a
// commit's answer and a get's answer carry one, and a conditional batch's "unchanged since"
// compares a key's version with one a client kept (docs/PROTOCOL.md). CSNs are not logged, so a
// restarted daemon cannot continue the old run's count; instead each run of ringdbd on a data
// directory takes a new epoch, made durable before it commits anything, and numbers its commits
// from epoch << kCsnEpochShift. Every CSN of a run is then larger than every CSN of an earlier
// run, and a recovered key (stamped by recovery's own commits) counts as changed since any
// number of an earlier run: "unchanged since" can fail where it might have held, never hold
// where the key changed.
//
// Bounds: 2^44 (1.8e13) commits per run; 2^18 - 1 (262143) runs per data directory. Past the
// first the daemon stops (a fatal error; a restart takes a new epoch); past the second it
// refuses to start (docs/OPERATIONS.md says what to do).
//
// The file: 32 bytes, little-endian: u64 magic "RDBCSNEP", u32 format version 1, u32 CRC32C of
// bytes 0-7 and 16-31, u64 the last epoch taken, u64 zero. Written whole to csn-epoch.new,
// synced, renamed over csn-epoch, and the directory synced.
//
// Thread safety: functions of their arguments; the caller holds the data directory's lock.
#pragma once

#include <cstdint>
#include <string>

namespace ringdb::daemon {

inline constexpr int kCsnEpochShift = 44;
inline constexpr uint64_t kCsnEpochMax = (uint64_t{1} << 18) - 1;

// Reads DATA_DIR/csn-epoch (none yet: epoch 0), makes the next epoch durable in it and sets
// *epoch to it. false with *error if the file is damaged or cannot be written, or the epochs
// are used up.
bool take_csn_epoch(const std::string& data_dir, uint64_t* epoch, std::string* error);

// The largest CSN a run of `epoch` may hand out; the first is (epoch << kCsnEpochShift) + 1.
inline uint64_t csn_epoch_last(uint64_t epoch) {
  return ((epoch + 1) << kCsnEpochShift) - 1;
}

}  // namespace ringdb::daemon
