// ringdb-admin: asks ringdbd through its admin socket (docs/PROTOCOL.md, "Admin socket";
// docs/OPERATIONS.md walks through the commands). A human layout by default, the answer's
// JSON on one line with --json. Exit codes: 0 done, 1 the daemon could not do it or could not
// be reached (verify: the data directory is damaged or unreadable), 2 a usage error (the
// daemon's answer code unknown_command or bad_args included).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sync/latch_stats.h"
#include "tools/admin/admin_client.h"
#include "tools/admin/render.h"
#include "tools/admin/verify.h"
#include "tools/common/args.h"

namespace {

using json = nlohmann::ordered_json;

// RINGDB_ADMIN_SOCKET if set, else the daemon's default (daemon/service/config.cc): in /run/ringdb
// for root, $XDG_RUNTIME_DIR/ringdb, or /tmp/ringdb-UID.
std::string default_admin_socket() {
  if (const char* env = std::getenv("RINGDB_ADMIN_SOCKET"); env != nullptr && *env != '\0')
    return env;
  if (geteuid() == 0) return "/run/ringdb/admin.sock";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/')
    return std::string(xdg) + "/ringdb/admin.sock";
  return "/tmp/ringdb-" + std::to_string(geteuid()) + "/admin.sock";
}

std::string help_text() {
  char text[4096];
  snprintf(text, sizeof text,
           "Usage: ringdb-admin [OPTION]... COMMAND [ARG]\n"
           "Asks a running ringdbd through its admin socket; verify needs no daemon.\n"
           "\n"
           "Commands:\n"
           "  status              version, uptime, workers, sessions, memory, log,\n"
           "                      checkpoint, health\n"
           "  stats               requests by type and status since the start, service-time\n"
           "                      percentiles\n"
           "  workers             per worker: core, node, requests, busy share, sleeps,\n"
           "                      pending set\n"
           "  latches [--top N]   the most contended named latches\n"
           "  mvcc                read views, history length, purge, transactions\n"
           "  wal                 the write-ahead log: LSNs, batches, fdatasyncs, segments\n"
           "  metrics             everything in Prometheus text format\n"
           "  watch [--count N]   a line a second: requests/s, p99, sessions, history, log\n"
           "                      rate (from two readings a second apart)\n"
           "  backup DIR          an online, consistent copy of the data into DIR (new; the\n"
           "                      daemon writes it, as its user): restore = ringdbd\n"
           "                      --data-dir DIR\n"
           "  checkpoint          write a checkpoint now and report it\n"
           "  sessions            who is connected: pid, uid, process, age, open\n"
           "                      transactions\n"
           "  contention          open transactions holding keys others failed to write\n"
           "                      (CONFLICT)\n"
           "  kill-session ID     end a session (its transactions aborted)\n"
           "  config              the effective configuration\n"
           "  log-level LEVEL     error, warn, info or debug\n"
           "  shutdown            stop the daemon gracefully\n"
           "  help                the commands this daemon knows\n"
           "  verify DIR          check a data directory offline, no daemon needed: every\n"
           "                      checkpoint, every log segment and record\n"
           "\n"
           "Options:\n"
           "  --socket PATH       the admin socket [%s]\n"
           "  --json              the answer as one JSON object on one line\n"
           "  --timeout-ms N      give up waiting for the answer after N ms [60000]\n"
           "  --args JSON         the request's args as a JSON object (any other command)\n"
           "  --help              this text\n"
           "  --version           the version\n"
           "\n"
           "Exit status: 0 done; 1 the daemon could not do it or could not be reached\n"
           "(verify: the directory is damaged or unreadable); 2 a usage error, the daemon's\n"
           "too (an unknown command, wrong arguments).\n",
           default_admin_socket().c_str());
  return text;
}

// One request; false after printing why.
bool ask_result(const std::string& path, const json& request, int timeout_ms, json* result) {
  std::string answer, error;
  if (!ringdb::admin::exchange(path, request.dump(), timeout_ms, &answer, &error)) {
    fprintf(stderr, "ringdb-admin: %s\n", error.c_str());
    return false;
  }
  const json reply = json::parse(answer, nullptr, false);
  if (reply.is_discarded() || !reply.value("ok", false)) {
    fprintf(stderr, "ringdb-admin: %s: %s\n", request.value("cmd", std::string()).c_str(),
            answer.c_str());
    return false;
  }
  *result = reply["result"];
  return true;
}

bool ask_result(const std::string& path, const char* cmd, int timeout_ms, json* result) {
  return ask_result(path, json{{"v", 1}, {"cmd", cmd}}, timeout_ms, result);
}

// One `stats` reading: total requests, the daemon's uptime and each type's latency buckets.
struct Reading {
  double uptime = 0;
  uint64_t requests = 0;
  std::map<std::string, ringdb::sync::LogHistogram::Counts> buckets;  // log2, as the daemon's
  uint64_t durable_lsn = 0;
};

bool read_stats(const std::string& path, int timeout_ms, Reading* r) {
  json stats, wal;
  if (!ask_result(path, json{{"v", 1}, {"cmd", "stats"}, {"args", {{"buckets", true}}}}, timeout_ms,
                  &stats) ||
      !ask_result(path, "wal", timeout_ms, &wal)) {
    return false;
  }
  r->uptime = stats.value("uptime_seconds", 0.0);
  r->requests = stats.value("requests", uint64_t{0});
  for (const json& t : stats["by_type"]) {
    const auto counts = t.value("latency_log2_ns", std::vector<uint64_t>());
    auto& into = r->buckets[t.value("type", std::string())];
    std::copy_n(counts.begin(), std::min(counts.size(), into.size()), into.begin());
  }
  r->durable_lsn = wal.value("durable_lsn", uint64_t{0});
  return true;
}

volatile sig_atomic_t g_interrupted = 0;

// A line a second until interrupted (or `count` lines): the rates and the p99 of the second
// just past, computed here from two readings of the daemon's counters (the daemon keeps no
// window per caller); sessions from `status`, history length from `mvcc`.
int watch(const std::string& path, int timeout_ms, long count, bool as_json) {
  signal(SIGINT, [](int) { g_interrupted = 1; });
  Reading last;
  if (!read_stats(path, timeout_ms, &last)) return 1;
  auto last_time = std::chrono::steady_clock::now();
  for (long n = 0; !g_interrupted && (count <= 0 || n < count); ++n) {
    // The next whole second after the last reading, not a fixed sleep: the requests' own
    // time does not accumulate.
    const auto next = last_time + std::chrono::seconds(1);
    while (!g_interrupted && std::chrono::steady_clock::now() < next) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          next - std::chrono::steady_clock::now());
      poll(nullptr, 0, static_cast<int>(std::max<int64_t>(1, left.count())));
    }
    if (g_interrupted) break;
    Reading now;
    json status, mvcc;
    if (!read_stats(path, timeout_ms, &now) || !ask_result(path, "status", timeout_ms, &status) ||
        !ask_result(path, "mvcc", timeout_ms, &mvcc)) {
      return 1;
    }
    last_time = std::chrono::steady_clock::now();
    const double seconds = now.uptime - last.uptime;
    const auto rate = [&](uint64_t a, uint64_t b) {
      return seconds <= 0 || a < b ? 0.0 : static_cast<double>(a - b) / seconds;
    };
    double p99_us = 0;  // the slowest type's, over the second just past
    for (const auto& [type, counts] : now.buckets) {
      ringdb::sync::LogHistogram::Counts delta = counts;
      if (const auto before = last.buckets.find(type); before != last.buckets.end()) {
        for (size_t b = 0; b < delta.size(); ++b)
          delta[b] -= std::min(delta[b], before->second[b]);
      }
      const int64_t ns = ringdb::sync::LogHistogram::quantile_of(delta, 0.99);
      p99_us = std::max(p99_us, static_cast<double>(ns) / 1e3);
    }
    const json line = {{"requests_per_second", rate(now.requests, last.requests)},
                       {"p99_us", p99_us},
                       {"sessions", status.value("sessions", 0)},
                       {"history_length", mvcc.value("history_length", 0)},
                       {"wal_bytes_per_second", rate(now.durable_lsn, last.durable_lsn)},
                       {"health", status.value("health", std::string("?"))}};
    last = std::move(now);
    if (as_json) {
      printf("%s\n", line.dump().c_str());
    } else {
      if (n % 20 == 0)
        printf("%12s %10s %9s %10s %12s  %s\n", "requests/s", "p99_us", "sessions", "history",
               "wal_MiB/s", "health");
      printf("%12.0f %10.1f %9d %10lu %12.2f  %s\n", line["requests_per_second"].get<double>(),
             p99_us, line["sessions"].get<int>(),
             static_cast<unsigned long>(line["history_length"].get<uint64_t>()),
             line["wal_bytes_per_second"].get<double>() / (1 << 20),
             line["health"].get<std::string>().c_str());
    }
    fflush(stdout);
  }
  return 0;
}

// The command line: options and the command's words.
struct Cli {
  std::string socket_path = default_admin_socket();
  bool as_json = false;
  int timeout_ms = 60'000;
  std::vector<std::string> words;
  long top = 0, count = 0;
  std::string raw_args;  // --args JSON: for commands without a dedicated syntax
};

// -1 to go on, else the exit code (help or the version printed, or a usage error).
int parse_cli(int argc, char** argv, Cli* cli) {
  ringdb::tools::Args args("ringdb-admin", RINGDB_VERSION);
  long timeout_ms = cli->timeout_ms;
  args.text("socket", &cli->socket_path);
  args.flag("json", &cli->as_json);
  args.number("timeout-ms", 1, 86'400'000L, &timeout_ms);
  args.number("top", 1, 1'000'000'000L, &cli->top);
  args.number("count", 1, 1'000'000'000L, &cli->count);
  args.text("args", &cli->raw_args);
  if (const int rc = args.parse(argc, argv, help_text(), &cli->words); rc >= 0) return rc;
  cli->timeout_ms = static_cast<int>(timeout_ms);
  if (cli->words.empty()) return args.usage_error("no command given");
  return -1;
}

// The request for the command's words; false (with a message printed) if they are wrong.
bool build_request(const Cli& cli, json* request) {
  const std::vector<std::string>& words = cli.words;
  *request = {{"v", 1}, {"cmd", words[0]}, {"args", json::object()}};
  if (cli.top > 0) (*request)["args"]["top"] = cli.top;
  if (words[0] == "kill-session") {
    char* end = nullptr;
    const unsigned long long id = words.size() == 2 ? strtoull(words[1].c_str(), &end, 10) : 0;
    if (words.size() != 2 || end == nullptr || *end != '\0' || id == 0) {
      fprintf(stderr, "ringdb-admin: kill-session needs a session ID (see sessions)\n");
      return false;
    }
    (*request)["args"]["id"] = id;
  } else if (!cli.raw_args.empty()) {
    const json args = json::parse(cli.raw_args, nullptr, false);
    if (args.is_discarded() || !args.is_object() || words.size() != 1) {
      fprintf(stderr, "ringdb-admin: --args needs a JSON object\n");
      return false;
    }
    (*request)["args"] = args;
  } else if (words[0] == "backup") {
    if (words.size() != 2) {
      fprintf(stderr, "ringdb-admin: backup needs a directory to create (DIR)\n");
      return false;
    }
    // The daemon resolves nothing against its own working directory: an absolute path.
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::absolute(words[1], ec);
    if (ec) {
      fprintf(stderr, "ringdb-admin: %s: %s\n", words[1].c_str(), ec.message().c_str());
      return false;
    }
    (*request)["args"]["dir"] = dir.lexically_normal().string();
  } else if (words[0] == "log-level") {
    if (words.size() != 2) {
      fprintf(stderr, "ringdb-admin: log-level needs a LEVEL (error, warn, info, debug)\n");
      return false;
    }
    (*request)["args"]["level"] = words[1];
  } else if (words.size() != 1) {
    fprintf(stderr, "ringdb-admin: %s takes no argument\n", words[0].c_str());
    return false;
  }
  return true;
}

// Prints the daemon's answer as asked; the exit code.
int print_answer(const Cli& cli, const std::string& answer) {
  const json reply = json::parse(answer, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    fprintf(stderr, "ringdb-admin: the daemon's answer is not JSON: %s\n", answer.c_str());
    return 1;
  }
  const bool ok = reply.value("ok", false);
  if (cli.as_json) {
    printf("%s\n", (ok ? reply["result"] : reply).dump().c_str());
  } else if (ok && cli.words[0] == "metrics") {
    fputs(reply["result"].value("text", std::string()).c_str(), stdout);
  } else if (ok) {
    fputs(ringdb::admin::render(reply["result"]).c_str(), stdout);
  } else {
    fprintf(stderr, "ringdb-admin: %s\n", reply.value("error", std::string("error")).c_str());
  }
  if (ok) return 0;
  // The daemon did not know the command, or its arguments were wrong: a usage error.
  const std::string code = reply.value("code", std::string());
  return code == "unknown_command" || code == "bad_args" || code == "bad_request" ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  if (const int rc = parse_cli(argc, argv, &cli); rc >= 0) return rc;
  if (cli.words[0] == "watch")
    return watch(cli.socket_path, cli.timeout_ms, cli.count, cli.as_json);
  if (cli.words[0] == "verify") {
    if (cli.words.size() != 2) {
      fprintf(stderr, "ringdb-admin: verify needs a data directory (ringdbd's --data-dir)\n");
      return 2;
    }
    return ringdb::admin::verify_command(cli.words[1], cli.as_json);
  }
  json request;
  if (!build_request(cli, &request)) return 2;
  std::string answer, error;
  if (!ringdb::admin::exchange(cli.socket_path, request.dump(), cli.timeout_ms, &answer, &error)) {
    if (cli.as_json) {
      printf("%s\n", json{{"ok", false}, {"error", error}}.dump().c_str());
    } else {
      fprintf(stderr, "ringdb-admin: %s\n", error.c_str());
    }
    return 1;
  }
  return print_answer(cli, answer);
}
