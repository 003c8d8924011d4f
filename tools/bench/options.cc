// ringdb-bench's command-line parser.
#include "tools/bench/options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ringdb::bench {
namespace {

constexpr const char* kUsage =
    "Usage: ringdb-bench WORKLOAD [--socket PATH | --spawn] [OPTION]...\n"
    "Measures ringdbd through libringdb: latency percentiles, throughput, context\n"
    "switches.\n"
    "\n"
    "Workloads:\n"
    "  ping       also measures the shm-floor and unix-socket baselines\n"
    "  get        point reads of the --keys preloaded keys\n"
    "  put        point writes\n"
    "  mixed      --get-percent gets, the rest puts\n"
    "  idle       daemon CPU while idle\n"
    "  commit     transactions of --keys-per-commit puts, each client its own keys;\n"
    "             latency from begin to the acknowledged durable commit; beside it\n"
    "             the fsync-floor baseline: a 4 KiB write + fdatasync in a loop under\n"
    "             /tmp\n"
    "  counter    every client increments one shared key in a transaction, retried\n"
    "             after CONFLICT as run_transaction does: commits/s, aborted attempts\n"
    "             per commit, attempts that gave up; fsync-floor beside it\n"
    "  memory     with --spawn: the daemon's resident memory per key after loading\n"
    "             --keys keys of --value-size bytes; with --compare redis, Redis's\n"
    "             too\n"
    "  watch      a committer puts one key, a watcher in another session hears of it:\n"
    "             the event's time after the put's answer, one commit at a time; with\n"
    "             --compare redis, Redis keyspace notifications the same way\n"
    "\n"
    "Options:\n"
    "  --socket PATH        the daemon's session socket [libringdb's default]\n"
    "  --spawn              start a private ringdbd in a temporary directory, stop it\n"
    "                       at the end\n"
    "  --ringdbd PATH       the ringdbd to spawn [beside this executable, ../daemon/,\n"
    "                       $PATH]\n"
    "  --cores LIST         --cores for the spawned ringdbd [its default]\n"
    "  --client-cpus LIST   pin client process i to the i-th CPU of LIST (cyclic) [no\n"
    "                       pinning]\n"
    "  --clients N          client processes, one session each [1]\n"
    "  --depth D            requests in flight per client; 1 uses the synchronous\n"
    "                       calls [1]\n"
    "  --duration S         measured seconds [5]\n"
    "  --warmup S           seconds run before measuring, not recorded [1]\n"
    "  --keys N             keys key00000000.. preloaded for get and mixed; commit:\n"
    "                       each client's transactions cycle through N key sets\n"
    "                       [100000]\n"
    "  --value-size B       value bytes [100]\n"
    "  --get-percent P      mixed: share of gets [90]\n"
    "  --keys-per-commit K  commit: puts per transaction [1]\n"
    "  --durability D       commit, counter, put, mixed: sync (answered once on\n"
    "                       disk), async or none [sync]; --compare redis runs Redis\n"
    "                       with the matching persistence (appendfsync always,\n"
    "                       everysec, or none)\n"
    "  --batch              commit: each transaction's puts as one conditional batch\n"
    "                       request; counter: each increment a compare-and-set batch\n"
    "                       (if unchanged since the value read) instead of a\n"
    "                       transaction\n"
    "  --admin-socket PATH  commit without --spawn: the daemon's admin socket, for\n"
    "                       batch sizes and fsyncs per commit [beside --socket:\n"
    "                       admin.sock]\n"
    "  --idle-sessions N    open N idle sessions in a helper process before measuring\n"
    "                       [0]\n"
    "  --noisy-neighbour    get, put, mixed: run twice, the clients alone, then\n"
    "                       beside another session that keeps --noise-depth maximal\n"
    "                       scans in flight; keys are preloaded for the scans to read\n"
    "  --noise-depth N      the noisy session's scans in flight [256]\n"
    "  --background-load N  a busy host: N CPU-bound processes at normal priority,\n"
    "                       unpinned, for the whole run (every system measured) [0]\n"
    "  --watchers N         N more sessions, each watching --watch-prefix and reading\n"
    "                       its events in a thread, during the run; their events and\n"
    "                       largest lag go to stderr [0]\n"
    "  --stalled-watchers N\n"
    "                       N sessions watching --watch-prefix whose clients never\n"
    "                       read: their rings fill and they fall behind [0]\n"
    "  --watch-prefix P     what --watchers watch: a prefix no key has (idle/) makes\n"
    "                       watchers that only cost [every key]\n"
    "  --compare redis      also run the workload against a private redis-server (not\n"
    "                       commit)\n"
    "  --compare lmdb       commit: also run it against LMDB with synchronous\n"
    "                       commits, one environment in a new directory under /tmp\n"
    "                       shared by all clients\n"
    "  --json               one JSON object per measured system per line on stdout\n"
    "  --quiet              no progress line on stderr\n"
    "  --help               this text\n"
    "  --version            the version\n";

bool parse_int(std::string_view text, long min, long max, long* out) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(copy.c_str(), &end, 10);
  if (errno != 0 || end == copy.c_str() || *end != '\0' || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

bool parse_seconds(std::string_view text, double max, double* out) {
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end == copy.c_str() || *end != '\0' || !(value >= 0) || value > max) {
    return false;
  }
  *out = value;
  return true;
}

bool parse_workload(std::string_view name, Workload* out) {
  static constexpr Workload kAll[] = {Workload::kPing,    Workload::kGet,    Workload::kPut,
                                      Workload::kMixed,   Workload::kIdle,   Workload::kCommit,
                                      Workload::kCounter, Workload::kMemory, Workload::kWatch};
  for (Workload w : kAll) {
    if (name == workload_name(w)) {
      *out = w;
      return true;
    }
  }
  return false;
}

// The combinations that only make sense for the commit and counter workloads, or never for
// them.
bool check_commit_options(const Options& o, std::string* error) {
  const bool commit = o.workload == Workload::kCommit;
  const bool counter = o.workload == Workload::kCounter;
  if (o.compare_lmdb && !commit) {
    *error = "--compare lmdb applies to the commit workload only";
    return false;
  }
  if (o.batch && !commit && !counter) {
    *error = "--batch applies to commit and counter";
    return false;
  }
  if (!commit && !counter) return true;
  if (o.compare_redis) {
    *error = "--compare redis does not apply to commit or counter";
    return false;
  }
  if (o.depth != 1) {
    *error = "commit and counter run one transaction at a time per client: --depth must be 1";
    return false;
  }
  if (uint64_t{o.keys_per_commit} * o.value_size_bytes > kCommitBytesMax) {
    *error = "--keys-per-commit x --value-size is over " + std::to_string(kCommitBytesMax) +
             " bytes (a log record must fit in a segment)";
    return false;
  }
  return true;
}

}  // namespace

const char* workload_name(Workload workload) {
  switch (workload) {
    case Workload::kPing:
      return "ping";
    case Workload::kGet:
      return "get";
    case Workload::kPut:
      return "put";
    case Workload::kMixed:
      return "mixed";
    case Workload::kIdle:
      return "idle";
    case Workload::kCommit:
      return "commit";
    case Workload::kCounter:
      return "counter";
    case Workload::kMemory:
      return "memory";
    case Workload::kWatch:
      return "watch";
  }
  return "?";
}

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t dash = item.find('-');
    long first = 0;
    long last = 0;
    if (!parse_int(item.substr(0, dash), 0, 4095, &first)) return {};
    last = first;
    if (dash != std::string_view::npos && !parse_int(item.substr(dash + 1), first, 4095, &last)) {
      return {};
    }
    for (long cpu = first; cpu <= last; ++cpu)
      cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

namespace {

// An option that takes a value: sets it in *o. kUnknown if `arg` is no such option.
enum class ValueResult { kOk, kBad, kUnknown };
ValueResult parse_value_option(std::string_view arg, std::string_view value, Options* o) {
  long n = 0;
  bool ok = true;
  if (arg == "--socket") {
    o->socket_path = value;
  } else if (arg == "--ringdbd") {
    o->ringdbd_path = value;
  } else if (arg == "--cores") {
    o->daemon_cores = value;
  } else if (arg == "--client-cpus") {
    o->client_cpus = parse_cpu_list(std::string(value));
    ok = !o->client_cpus.empty();
  } else if (arg == "--clients") {
    ok = parse_int(value, 1, kClientsMax, &n);
    o->clients = static_cast<int>(n);
  } else if (arg == "--depth") {
    ok = parse_int(value, 1, kDepthMax, &n);
    o->depth = static_cast<int>(n);
  } else if (arg == "--duration") {
    ok = parse_seconds(value, kDurationMax_s, &o->duration_s) && o->duration_s > 0;
  } else if (arg == "--warmup") {
    ok = parse_seconds(value, kDurationMax_s, &o->warmup_s);
  } else if (arg == "--keys") {
    ok = parse_int(value, 1, kKeysMax, &n);
    o->keys = static_cast<uint32_t>(n);
  } else if (arg == "--value-size") {
    ok = parse_int(value, 1, kValueSizeMax, &n);
    o->value_size_bytes = static_cast<uint32_t>(n);
  } else if (arg == "--get-percent") {
    ok = parse_int(value, 0, 100, &n);
    o->get_percent = static_cast<uint32_t>(n);
  } else if (arg == "--idle-sessions") {
    ok = parse_int(value, 0, kIdleSessionsMax, &n);
    o->idle_sessions = static_cast<int>(n);
  } else if (arg == "--background-load") {
    ok = parse_int(value, 0, kBackgroundLoadMax, &n);
    o->background_load = static_cast<int>(n);
  } else if (arg == "--watchers") {
    ok = parse_int(value, 0, kWatchersMax, &n);
    o->watchers = static_cast<int>(n);
  } else if (arg == "--stalled-watchers") {
    ok = parse_int(value, 0, kWatchersMax, &n);
    o->stalled_watchers = static_cast<int>(n);
  } else if (arg == "--watch-prefix") {
    o->watch_prefix = std::string(value);
  } else if (arg == "--noise-depth") {
    ok = parse_int(value, 1, kDepthMax, &n);
    o->noise_depth = static_cast<int>(n);
  } else if (arg == "--keys-per-commit") {
    ok = parse_int(value, 1, kKeysPerCommitMax, &n);
    o->keys_per_commit = static_cast<uint32_t>(n);
  } else if (arg == "--durability") {
    ok = value == "sync" || value == "async" || value == "none";
    o->durability = value == "async"  ? ringdb::Durability::kAsync
                    : value == "none" ? ringdb::Durability::kNone
                                      : ringdb::Durability::kSync;
  } else if (arg == "--admin-socket") {
    o->admin_socket = std::string(value);
  } else if (arg == "--compare") {
    o->compare_redis = o->compare_redis || value == "redis";
    o->compare_lmdb = o->compare_lmdb || value == "lmdb";
    ok = value == "redis" || value == "lmdb";
  } else {
    return ValueResult::kUnknown;
  }
  return ok ? ValueResult::kOk : ValueResult::kBad;
}

// The checks that look at several options together.
bool check_combination(const Options& o, bool have_workload, std::string* error) {
  if (!have_workload) {
    *error =
        "no workload given (ping, get, put, mixed, idle, commit, counter, memory, watch; see "
        "--help)";
    return false;
  }
  if (!check_commit_options(o, error)) return false;
  if (o.noisy_neighbour && !(o.workload == Workload::kGet || o.workload == Workload::kPut ||
                             o.workload == Workload::kMixed)) {
    *error = "--noisy-neighbour applies to get, put and mixed";
    return false;
  }
  if (o.noisy_neighbour && (o.compare_redis || o.compare_lmdb)) {
    *error = "--noisy-neighbour measures ringdb alone (no --compare)";
    return false;
  }
  if (o.spawn && !o.socket_path.empty()) {
    *error = "--socket and --spawn exclude each other";
    return false;
  }
  if (o.workload == Workload::kWatch &&
      (o.clients != 1 || o.depth != 1 || o.watchers != 0 || o.stalled_watchers != 0)) {
    *error = "watch runs one committer and one watcher (no --clients, --depth, --watchers)";
    return false;
  }
  if (o.workload == Workload::kMemory && !o.spawn) {
    *error = "memory measures a daemon it starts empty: it needs --spawn";
    return false;
  }
  return true;
}

}  // namespace

bool parse_options(int argc, char** argv, Options* out, std::string* error, bool* help) {
  *help = false;
  Options o;
  bool have_workload = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      *error = kUsage;
      return false;
    }
    if (arg == "--version") {
      *help = true;  // printed on standard output, exit 0
      *error = "ringdb-bench " RINGDB_VERSION "\n";
      return false;
    }
    if (arg == "--spawn" || arg == "--json" || arg == "--quiet") {
      (arg == "--spawn" ? o.spawn : arg == "--json" ? o.json : o.quiet) = true;
      continue;
    }
    if (arg == "--noisy-neighbour" || arg == "--batch") {
      (arg == "--batch" ? o.batch : o.noisy_neighbour) = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      if (have_workload || !parse_workload(arg, &o.workload)) {
        *error = "unknown workload or extra argument: " + std::string(arg);
        return false;
      }
      have_workload = true;
      continue;
    }
    if (i + 1 >= argc) {
      *error = std::string(arg) + " needs a value";
      return false;
    }
    const std::string_view value = argv[++i];
    switch (parse_value_option(arg, value, &o)) {
      case ValueResult::kOk:
        break;
      case ValueResult::kBad:
        *error = "bad value for " + std::string(arg) + ": " + std::string(value);
        return false;
      case ValueResult::kUnknown:
        *error = "unknown option " + std::string(arg) + " (see --help)";
        return false;
    }
  }
  if (!check_combination(o, have_workload, error)) return false;
  *out = o;
  return true;
}

}  // namespace ringdb::bench
