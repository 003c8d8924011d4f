// ringdb-bench's command line: the workload, where the daemon is, how many client processes
// with how many requests in flight, for how long. Parsing only; nothing here runs anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringdb/client.h"

namespace ringdb::bench {

enum class Workload { kPing, kGet, kPut, kMixed, kIdle, kCommit, kCounter, kMemory, kWatch };

struct Options {
  Workload workload = Workload::kPing;
  std::string socket_path;       // --socket; empty with --spawn
  bool spawn = false;            // start a private ringdbd
  std::string ringdbd_path;      // --ringdbd; empty: look beside the executable
  std::string daemon_cores;      // --cores, passed to a spawned ringdbd
  std::vector<int> client_cpus;  // --client-cpus: pin client i to client_cpus[i % size]
  int clients = 1;
  int depth = 1;
  double duration_s = 5;
  double warmup_s = 1;
  uint32_t keys = 100000;
  uint32_t value_size_bytes = 100;
  uint32_t get_percent = 90;                                  // mixed: the rest are puts
  uint32_t keys_per_commit = 1;                               // commit: puts per transaction
  ringdb::Durability durability = ringdb::Durability::kSync;  // commit, counter: --durability
  // --batch: commit's puts as one conditional batch request; counter's increments as
  // compare-and-set batches instead of transactions.
  bool batch = false;
  std::string admin_socket;  // --admin-socket (without --spawn): for the log's counters
  int idle_sessions = 0;
  // --noisy-neighbour: the run twice, alone and beside a session that keeps noise_depth
  // maximal scans in flight (tools/bench/scan_flood.h).
  bool noisy_neighbour = false;
  int background_load = 0;   // --background-load: CPU-bound processes beside the whole run
  int watchers = 0;          // --watchers: sessions watching --watch-prefix during the run
  int stalled_watchers = 0;  // --stalled-watchers: the same, never reading
  std::string watch_prefix;  // --watch-prefix; empty: every key
  int noise_depth = 256;
  bool json = false;
  bool compare_redis = false;
  bool compare_lmdb = false;  // commit only
  bool quiet = false;
};

// Limits: each bound keeps a run within what one machine and one daemon can hold.
inline constexpr int kClientsMax = 256;              // client processes (sessions_max is 256)
inline constexpr int kDepthMax = 256;                // the daemon's default in-flight limit
inline constexpr int kIdleSessionsMax = 4096;        // descriptors in one helper process
inline constexpr int kBackgroundLoadMax = 64;        // CPU-bound processes beside a run
inline constexpr int kWatchersMax = 128;             // watching sessions (a thread each)
inline constexpr uint32_t kValueSizeMax = 1u << 20;  // the daemon's default value limit
inline constexpr uint32_t kKeysMax = 100000000;      // "key%08d"
inline constexpr uint32_t kKeysPerCommitMax = 1024;  // puts per benchmark transaction (a batch's
                                                     // entries at most, too)
// A commit's puts (values) at most: a quarter of ringdbd's default log segment (64 MiB), since
// a record larger than a segment is refused (kTooLarge).
inline constexpr uint64_t kCommitBytesMax = uint64_t{16} << 20;
inline constexpr double kDurationMax_s = 3600;

const char* workload_name(Workload workload);

// Parses argv into *out (tools/common/args.h). Returns -1 to go on, else the exit code: 0
// after --help or --version, 2 after a usage error (its message printed).
int parse_options(int argc, char** argv, Options* out);

// Parses a CPU list such as "0,2-3" (empty on error).
std::vector<int> parse_cpu_list(const std::string& text);

}  // namespace ringdb::bench
