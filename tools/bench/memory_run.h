// ringdb-bench memory: what holding the same keys costs ringdbd and (with --compare redis)
// Redis. Each server is started empty, its anonymous resident memory (RssAnon in
// /proc/PID/status: the heap, not the shared-memory segments or the binary) read, the keys
// loaded (--keys keys "key%08u" with --value-size values, as the get workload preloads them),
// and read again once the server is quiet: bytes per key. For ringdbd also its own account
// (ringdb-admin status: memory_used_bytes for chains, versions and values; index_bytes).
//
// Thread safety: free functions, one run at a time.
#pragma once

#include <cstdint>
#include <string>

#include "tools/bench/options.h"

namespace ringdb::bench {

struct MemoryFigures {
  std::string system;
  uint64_t keys = 0;
  uint64_t value_bytes = 0;
  uint64_t rss_anon_before = 0;  // bytes
  uint64_t rss_anon_after = 0;
  uint64_t stored_bytes = 0;  // ringdbd: memory_used_bytes (0 for Redis)
  uint64_t index_bytes = 0;   // ringdbd: index_bytes

  double rss_per_key() const;
};

bool measure_ringdb_memory(const Options& options, const char* argv0, MemoryFigures* out,
                           std::string* error);
bool measure_redis_memory(const Options& options, MemoryFigures* out, std::string* error);

// One line of the table, or one JSON object per line with --json.
void print_memory(const MemoryFigures& figures, bool json);

}  // namespace ringdb::bench
