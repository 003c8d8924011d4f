// The LMDB baseline of the commit workload: its directory and the client process loop.
#include "tools/bench/lmdb_load.h"

#include <lmdb.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tools/bench/workload.h"

namespace ringdb::bench {
namespace {

// Address space, not disk: without MDB_WRITEMAP the data file grows only by the pages
// written. Many times what a run of minutes writes at LMDB's durable commit rates; a run that
// fills it fails with MDB_MAP_FULL.
constexpr size_t kMapBytes = size_t{16} << 30;
// Synchronous commits: the flags that would trade durability for speed are left out.
constexpr unsigned kEnvFlags = 0;
static_assert((kEnvFlags & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_MAPASYNC)) == 0);

std::string lmdb_error(const char* call, int rc) {
  return std::string(call) + ": " + mdb_strerror(rc);
}

// Opens the environment at `dir` and the main database (a write transaction that writes
// nothing: it does not sync). On failure closes what it opened.
bool open_env(const std::string& dir, MDB_env** env_out, MDB_dbi* dbi, std::string* error) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) {
    *error = lmdb_error("mdb_env_create", rc);
    return false;
  }
  MDB_txn* txn = nullptr;
  const char* call = "mdb_env_set_mapsize";
  rc = mdb_env_set_mapsize(env, kMapBytes);
  if (rc == 0) {
    call = "mdb_env_open";
    rc = mdb_env_open(env, dir.c_str(), kEnvFlags, 0600);
  }
  if (rc == 0) {
    call = "mdb_txn_begin";
    rc = mdb_txn_begin(env, nullptr, 0, &txn);
  }
  if (rc == 0) {
    call = "mdb_dbi_open";
    rc = mdb_dbi_open(txn, nullptr, 0, dbi);
    if (rc != 0) mdb_txn_abort(txn);
  }
  if (rc == 0) {
    call = "mdb_txn_commit";
    rc = mdb_txn_commit(txn);
  }
  if (rc != 0) {
    *error = lmdb_error(call, rc);
    mdb_env_close(env);
    return false;
  }
  *env_out = env;
  return true;
}

// One transaction: begin, the puts, commit. 0 or the failing call's code (*call names it).
int one_transaction(MDB_env* env, MDB_dbi dbi, int index, uint64_t n, const Options& options,
                    const std::string& value, const char** call) {
  MDB_txn* txn = nullptr;
  *call = "mdb_txn_begin";
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) return rc;
  char key_buf[kCommitKeyBytesMax];
  *call = "mdb_put";
  for (uint32_t i = 0; i < options.keys_per_commit; ++i) {
    MDB_val key{format_commit_key(index, n, options.keys, i, key_buf), key_buf};
    MDB_val val{value.size(), const_cast<char*>(value.data())};  // read only (no MDB_RESERVE)
    rc = mdb_put(txn, dbi, &key, &val, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return rc;
    }
  }
  *call = "mdb_txn_commit";
  return mdb_txn_commit(txn);  // frees the transaction whatever it returns
}

}  // namespace

bool LmdbDir::create(std::string* error) {
  std::string templ = "/tmp/ringdb-bench-lmdb-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  path_ = templ;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  if (!open_env(path_, &env, &dbi, error)) {
    remove();
    return false;
  }
  mdb_env_close(env);  // before the fork: the clients open their own
  return true;
}

void LmdbDir::remove() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

int lmdb_client(int index, Recorder& recorder, const std::string& dir, const Options& options) {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::string error;
  if (!open_env(dir, &env, &dbi, &error)) {
    recorder.fail(error);
    return 1;
  }
  std::string value(options.value_size_bytes, 'v');
  int code = 0;
  if (recorder.ready_and_wait()) {
    for (uint64_t n = 0; recorder.running(); ++n) {
      const char* call = "";
      uint64_t start = now_ns();
      int rc = one_transaction(env, dbi, index, n, options, value, &call);
      uint64_t end = now_ns();
      if (rc != 0) {
        recorder.fail(lmdb_error(call, rc));
        code = 1;
        break;
      }
      recorder.record(start, end);
    }
  }
  mdb_env_close(env);
  return code;
}

}  // namespace ringdb::bench
