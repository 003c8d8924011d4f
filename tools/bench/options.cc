// ringdb-bench's command-line parser.
#include "tools/bench/options.h"

#include "tools/common/args.h"

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
    if (!tools::parse_decimal(item.substr(0, dash), 0, 4095, &first)) return {};
    last = first;
    if (dash != std::string_view::npos &&
        !tools::parse_decimal(item.substr(dash + 1), first, 4095, &last)) {
      return {};
    }
    for (long cpu = first; cpu <= last; ++cpu)
      cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

namespace {

// The checks that look at several options together.
bool check_combination(const Options& o, bool have_workload, std::string* error) {
  if (!have_workload) {
    *error = "no workload given (ping, get, put, mixed, idle, commit, counter, memory, watch)";
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

int parse_options(int argc, char** argv, Options* out) {
  Options o;
  tools::Args args("ringdb-bench", RINGDB_VERSION);
  // Counts are read as longs, then narrowed: each range fits its field.
  long clients = o.clients, depth = o.depth, keys = o.keys, value_size = o.value_size_bytes,
       get_percent = o.get_percent, idle_sessions = 0, background_load = 0, watchers = 0,
       stalled_watchers = 0, noise_depth = o.noise_depth, keys_per_commit = o.keys_per_commit;
  args.text("socket", &o.socket_path);
  args.flag("spawn", &o.spawn);
  args.text("ringdbd", &o.ringdbd_path);
  args.text("cores", &o.daemon_cores);
  args.custom("client-cpus", "a CPU list such as 0,2-3", [&o](std::string_view v) {
    o.client_cpus = parse_cpu_list(std::string(v));
    return !o.client_cpus.empty();
  });
  args.number("clients", 1, kClientsMax, &clients);
  args.number("depth", 1, kDepthMax, &depth);
  args.seconds("duration", 0.001, kDurationMax_s, &o.duration_s);
  args.seconds("warmup", 0, kDurationMax_s, &o.warmup_s);
  args.number("keys", 1, kKeysMax, &keys);
  args.number("value-size", 1, kValueSizeMax, &value_size);
  args.number("get-percent", 0, 100, &get_percent);
  args.number("keys-per-commit", 1, kKeysPerCommitMax, &keys_per_commit);
  args.custom("durability", "sync, async or none", [&o](std::string_view v) {
    o.durability = v == "async"  ? ringdb::Durability::kAsync
                   : v == "none" ? ringdb::Durability::kNone
                                 : ringdb::Durability::kSync;
    return v == "sync" || v == "async" || v == "none";
  });
  args.flag("batch", &o.batch);
  args.text("admin-socket", &o.admin_socket);
  args.number("idle-sessions", 0, kIdleSessionsMax, &idle_sessions);
  args.flag("noisy-neighbour", &o.noisy_neighbour);
  args.number("noise-depth", 1, kDepthMax, &noise_depth);
  args.number("background-load", 0, kBackgroundLoadMax, &background_load);
  args.number("watchers", 0, kWatchersMax, &watchers);
  args.number("stalled-watchers", 0, kWatchersMax, &stalled_watchers);
  args.text("watch-prefix", &o.watch_prefix);
  args.custom("compare", "redis or lmdb", [&o](std::string_view v) {
    o.compare_redis = o.compare_redis || v == "redis";
    o.compare_lmdb = o.compare_lmdb || v == "lmdb";
    return v == "redis" || v == "lmdb";
  });
  args.flag("json", &o.json);
  args.flag("quiet", &o.quiet);
  std::vector<std::string> words;
  if (const int rc = args.parse(argc, argv, kUsage, &words); rc >= 0) return rc;
  o.clients = static_cast<int>(clients);
  o.depth = static_cast<int>(depth);
  o.keys = static_cast<uint32_t>(keys);
  o.value_size_bytes = static_cast<uint32_t>(value_size);
  o.get_percent = static_cast<uint32_t>(get_percent);
  o.keys_per_commit = static_cast<uint32_t>(keys_per_commit);
  o.idle_sessions = static_cast<int>(idle_sessions);
  o.background_load = static_cast<int>(background_load);
  o.watchers = static_cast<int>(watchers);
  o.stalled_watchers = static_cast<int>(stalled_watchers);
  o.noise_depth = static_cast<int>(noise_depth);
  if (words.size() > 1 || (words.size() == 1 && !parse_workload(words[0], &o.workload))) {
    return args.usage_error("unknown workload or extra argument: " + words.back());
  }
  std::string error;
  if (!check_combination(o, words.size() == 1, &error)) return args.usage_error(error);
  *out = std::move(o);
  return -1;
}

}  // namespace ringdb::bench
