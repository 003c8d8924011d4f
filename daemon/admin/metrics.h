// The daemon's counters for the admin socket: one reading of every request counter
// (take_sample(), which `stats`, `workers` and the metrics share) and the Prometheus text
// exposition (metrics_text(): the `metrics` command and the HTTP endpoint).
//
// Every figure is a counter or a gauge read now: nothing depends on who asked before, so
// two operators and a scraper never disturb each other's figures. Rates are the caller's
// business (two readings and their at_ns), as Prometheus's rate() does.
//
// Thread safety: free functions over AdminContext's thread-safe accessors.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/admin/admin_commands.h"
#include "shm/wire.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {

// Every request counter, read at one moment (not a consistent cut: each is read once,
// relaxed).
struct Sample {
  int64_t at_ns = 0;  // steady clock
  std::array<uint64_t, shm::kOpcodeMax + 1> by_opcode{};
  std::array<uint64_t, shm::kWireStatusMax + 1> by_status{};
  std::array<sync::LogHistogram::Counts, shm::kOpcodeMax + 1> latency{};
  std::array<int64_t, shm::kOpcodeMax + 1> latency_total_ns{};
  struct Worker {
    uint64_t requests = 0, rounds = 0, work_rounds = 0, sleeps = 0, sleep_ns = 0;
  };
  std::vector<Worker> workers;
};

Sample take_sample(const AdminContext& ctx);

// Log segment files in `dir`.
size_t count_segments(const std::string& dir);

// Everything, in the Prometheus text format (version 0.0.4).
std::string metrics_text(const AdminContext& ctx);

}  // namespace ringdb::daemon
