// ringdbd's configuration: embedded defaults, an optional config file, and command-line
// flags (flags win over the file). Every option has the same name in both places:
// `--sessions-max 64` on the command line is `sessions-max = 64` in the file.
//
// One table, config_options(), defines each option once; parsing (flags and file),
// `ringdbd --help`, the commented config file (`ringdbd --print-config-file`, which meson
// installs as ringdbd.conf) and the admin socket's `config` dump are all derived from it.
//
// Thread safety: Config is a value type, filled once at start. The table is immutable after
// its first use (a function-local static), so any thread may read it.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/base/log.h"

namespace ringdb::daemon {

struct Config {
  std::string data_dir;     // holds wal/ (the log's segments) and checkpoints/
  std::string socket_path;  // the session socket
  std::string admin_socket_path;
  uint32_t socket_mode = 0660;
  std::vector<int> cores;           // one worker per core; empty: chosen at start (see placement.h)
  std::vector<uid_t> allow_users;   // empty: the daemon's own user and root
  std::vector<gid_t> allow_groups;  // peers whose primary or supplementary group is listed
  std::vector<uid_t> admin_users;   // the admin socket's; empty: the daemon's own user and root
  std::vector<gid_t> admin_groups;
  uint32_t admin_idle_timeout_ms = 10'000;  // an admin connection with no request is closed

  uint32_t sessions_max = 256;
  // Sessions one user may hold, so that no allowed user can take them all; 0: half of
  // sessions_max (Config::sessions_per_user()). Not for the daemon's own user.
  uint32_t sessions_per_user_max = 0;
  uint32_t sessions_per_user() const {
    return sessions_per_user_max != 0 ? sessions_per_user_max
                                      : std::max<uint32_t>(1, sessions_max / 2);
  }
  uint32_t inflight_max = 256;  // request contexts per session
  uint32_t ring_slots = 128;    // per CPU per session
  uint32_t context_size = 512;  // bytes: 64-byte header + inline data
  uint32_t request_area_bytes = (2u << 20) + (64u << 10);
  uint32_t response_area_bytes = (4u << 20) + (128u << 10);
  uint32_t transactions_max = 16;  // open transactions per session
  // Watches (issue 16): each session's event ring (a power of two), and the watches a session
  // may hold at once.
  uint32_t event_ring_bytes = 1u << 20;
  uint32_t watches_per_session_max = 16;
  uint32_t key_size_max = 1024;
  uint32_t value_size_max = 1u << 20;
  uint64_t memory_limit_bytes = 0;  // 0: auto, chosen at start (daemon/main.cc)
  // Write-ahead log segment files (preallocated); a transaction's redo must fit in one.
  uint64_t wal_segment_bytes = uint64_t{64} << 20;
  // A checkpoint starts when this much time passed or this many log bytes were written since
  // the last one began (0: that trigger is off; both 0: only on request).
  // An async commit's record waits at most this long for others to share its write and sync
  // (a sync commit takes everything queued at once).
  uint32_t wal_async_flush_ms = 10;
  // Damage in the log (not a torn tail) refuses the start, unless an operator chose to
  // recover to the last consistent point before it (daemon/wal/reader.h).
  bool wal_point_in_time = false;
  // Log kept behind its end for watchers that resume (beyond what checkpoints need).
  uint64_t watch_retain_bytes = uint64_t{256} << 20;
  uint64_t checkpoint_interval_ms = 300'000;
  uint64_t checkpoint_wal_bytes = uint64_t{256} << 20;
  uint32_t spin_us = 50;  // a worker polls this long without work before it sleeps
  // Guards. An open transaction older than this is aborted (TRX_TOO_OLD); 0: no limit.
  uint64_t transaction_age_max_ms = 30'000;
  // A worker that is awake and completes no polling round for this long is reported (and,
  // with watchdog_abort, the daemon aborts so that a supervisor restarts it); 0: off.
  uint64_t watchdog_ms = 10'000;
  uint32_t watchdog_abort = 0;
  uint32_t test_hooks = 0;  // admin commands that break things on purpose (tests only)
  LogLevel log_level = LogLevel::kInfo;
  int ready_fd = -1;           // writes "ready\n" here once serving (tests, supervisors)
  std::string metrics_listen;  // HOST:PORT for Prometheus over HTTP; "" (off) by default
  std::string config_file;     // the file --config named ("" if none): not an option itself
};

// How one option's value is read from and written into a Config.
struct ConfigValue {
  // Reads `text`, as an operator writes it, into `config`; false if malformed or out of range.
  std::function<bool(Config* config, const std::string& text)> parse;
  // The value as an operator writes it (socket-mode 0660, sizes with K/M/G), which `parse`
  // reads back to the same value; a keyword where the value is unset: `auto` (chosen at
  // start), `none` or `off`.
  std::function<std::string(const Config& config)> print;
};

// One row of the table: everything said about one option. Its default is what `value.print`
// gives for Config{}; when that is a keyword chosen at start (`auto`), the row says what it
// stands for.
struct ConfigOption {
  const char* heading = nullptr;       // starts a group of options in the config file
  const char* name = nullptr;          // `--name`, `name =` in the file, the admin dump's key
  const char* value_name = nullptr;    // the placeholder in --help: N, BYTES, MS, LIST...
  const char* help = nullptr;          // what it does, without its default
  const char* default_text = nullptr;  // what the default keyword (auto) stands for
  const char* example = nullptr;       // an example value, for the config file's comment
  ConfigValue value;
};

// Every option, in the order --help and the config file list them.
const std::vector<ConfigOption>& config_options();

// The commented configuration file: every option commented out, with its default (or an
// example). Independent of the environment (user, $XDG_*), since it is generated at build time.
std::string config_file_text();

// Fills `config` from defaults, the file named by --config (if any) and the flags. Returns
// 0 to go on, -1 after --help, --version or --print-config-file (exit 0), or 2 on a usage
// error (the message already printed).
int parse_config(int argc, char** argv, Config* config);

// The default socket folder: $RUNTIME_DIRECTORY under systemd (RuntimeDirectory=), else as
// the client library computes it: /run/ringdb/ for root, $XDG_RUNTIME_DIR/ringdb/ or
// /tmp/ringdb-$UID/ otherwise. The default data directory: $STATE_DIRECTORY under systemd,
// else /var/lib/ringdb for root, $XDG_DATA_HOME/ringdb or ~/.local/share/ringdb.
std::string default_runtime_dir();
std::string default_data_dir();

// Parses "0-3,6,8-9" (no duplicates); false on a malformed list.
bool parse_core_list(const std::string& text, std::vector<int>* cores);

}  // namespace ringdb::daemon
