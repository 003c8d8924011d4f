// The LMDB baseline of the commit workload: the same transactions (begin, --keys-per-commit
// puts of format_commit_key keys, commit) against one LMDB environment that every client
// process shares, with LMDB's synchronous commits: no MDB_NOSYNC, MDB_NOMETASYNC or
// MDB_WRITEMAP, so each mdb_txn_commit writes its pages, fdatasyncs the data file, then
// writes the meta page through an O_DSYNC descriptor before it returns. LMDB runs one write
// transaction at a time (a process-shared mutex in its lock file): N clients queue for it,
// which is what the comparison with ringdb's group commit is about.
//
// Process safety: an MDB_env must not be used across fork(), so the parent only creates the
// directory and the database (then closes them), and every client process opens the
// environment itself.
#pragma once

#include <string>

#include "tools/bench/driver.h"
#include "tools/bench/options.h"

namespace ringdb::bench {

// A new directory /tmp/ringdb-bench-lmdb-XXXXXX (beside a spawned ringdbd's
// /tmp/ringdb-bench-XXXXXX, so on the same filesystem as its log) holding an empty LMDB
// environment, removed with everything in it by remove() or the destructor.
class LmdbDir {
 public:
  LmdbDir() = default;
  ~LmdbDir() { remove(); }
  LmdbDir(const LmdbDir&) = delete;
  LmdbDir& operator=(const LmdbDir&) = delete;

  bool create(std::string* error);
  void remove();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A client process: opens the environment at `dir`, then runs write transactions until the
// stop. Records committed transactions only (begin to mdb_txn_commit's return); a failed
// LMDB call fails the client, since this workload expects none.
int lmdb_client(int index, Recorder& recorder, const std::string& dir, const Options& options);

}  // namespace ringdb::bench
