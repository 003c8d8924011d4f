// The daemon's log-writer counters, read through its admin socket (docs/PROTOCOL.md section
// 7, command `wal`), before and after a commit run: batch size and fsyncs per commit; and the
// admin request that reads them, which other runs use for other commands.
//
// Thread safety: a free function with no shared state.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ringdb::bench {

struct WalCounters {
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t fsyncs = 0;
};

// Asks the admin socket for `cmd` (no arguments) and hands back the answer's result object;
// false with `error` if it cannot be asked or the answer is not a success.
bool admin_result(const std::string& admin_socket, const char* cmd, nlohmann::json* result,
                  std::string* error);

// false with `error` if the admin socket cannot be asked (no daemon, not allowed, ...).
bool read_wal_counters(const std::string& admin_socket, WalCounters* out, std::string* error);

}  // namespace ringdb::bench
