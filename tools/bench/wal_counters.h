// The daemon's log-writer counters, read through its admin socket (docs/PROTOCOL.md section
// 7, command `wal`), before and after a commit run: batch size and fsyncs per commit.
//
// Thread safety: a free function with no shared state.
#pragma once

#include <cstdint>
#include <string>

namespace ringdb::bench {

struct WalCounters {
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t fsyncs = 0;
};

// false with `error` if the admin socket cannot be asked (no daemon, not allowed, ...).
bool read_wal_counters(const std::string& admin_socket, WalCounters* out, std::string* error);

}  // namespace ringdb::bench
