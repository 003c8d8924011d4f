// DataDirLock: one ringdbd per data directory. An exclusive flock(2) on DIR/LOCK, taken at
// start before anything in the directory is read or written, held for the daemon's life and
// released by the kernel when the process ends, a crash included (as PostgreSQL's
// postmaster.pid, LMDB's lock file and RocksDB's LOCK do): two daemons can never write one
// log. The file names its holder (pid, sockets), so that a second daemon's refusal says who
// holds the directory.
//
// Thread safety: acquire() once, at start; the lock is the process's until it exits.
#pragma once

#include <memory>
#include <string>

namespace ringdb::daemon {

class DataDirLock {
 public:
  // Takes the lock of `dir` (which must exist) and writes `holder` (e.g. "pid 123, socket
  // /run/ringdb/ringdb.sock") into the lock file. nullptr with *error if another process
  // holds it (naming that process) or the file cannot be made.
  static std::unique_ptr<DataDirLock> acquire(const std::string& dir, const std::string& holder,
                                              std::string* error);
  ~DataDirLock();  // closes the file: the lock is released
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace ringdb::daemon
