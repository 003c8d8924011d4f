// The admin socket end to end (issue 6): a real ringdbd under a real client's requests, asked
// through the real ringdb-admin; figures that must move are checked after a known number of
// requests. Then the socket's defences, with raw connections: a user who is not allowed, a
// client that sends garbage, one that sends nothing, one that sends an endless line, each
// while another admin client is served.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "ringdb/client.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/helpers.h"
#include "tests/support/child_process.h"
#include "tests/support/loopback.h"
#include "tests/support/memory_cgroup.h"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::ordered_json;
using ringdb::Status;
using ringdb::test::ChildOptions;
using ringdb::test::ChildProcess;
using ringdb::test::connect;
using ringdb::test::DaemonProcess;
using ringdb::test::program_path;

// Runs ringdb-admin --json with `args`; returns its one line of output parsed, and its exit
// status in *status.
json admin(const DaemonProcess& daemon, const std::vector<std::string>& args, int* status) {
  std::vector<std::string> argv = {program_path("RINGDB_ADMIN"), "--json", "--socket",
                                   daemon.admin_socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess p(argv, options);
  std::string line;
  const bool got = p.read_line(&line);
  *status = p.wait();
  REQUIRE_MESSAGE(got, "ringdb-admin printed nothing; stderr: " << p.read_stderr());
  const json j = json::parse(line, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), line);
  return j;
}

json admin_ok(const DaemonProcess& daemon, const std::vector<std::string>& args) {
  int status = -1;
  json j = admin(daemon, args, &status);
  CHECK_MESSAGE(WIFEXITED(status), j.dump());
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, j.dump());
  return j;
}

// A raw admin connection.
class Raw {
 public:
  explicit Raw(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Raw() { close(fd_); }
  bool connected() const { return connected_; }
  bool send_text(const std::string& text) {
    return send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }
  // The next line (false on EOF or timeout).
  bool read_line(std::string* line, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const size_t end = buffer_.find('\n'); end != std::string::npos) {
        *line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd p = {fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  // Whether the daemon closed the connection (EOF within the timeout).
  bool closed_by_peer(std::chrono::milliseconds timeout = 20s) {
    std::string ignored;
    while (read_line(&ignored, timeout)) {
    }
    pollfd p = {fd_, POLLIN, 0};
    char c;
    return poll(&p, 1, 0) == 1 && recv(fd_, &c, 1, MSG_DONTWAIT) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

json ask_raw(Raw& raw, const std::string& request) {
  REQUIRE(raw.send_text(request + "\n"));
  std::string line;
  REQUIRE(raw.read_line(&line));
  const json j = json::parse(line, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), line);
  return j;
}

// promtool (Debian's prometheus package, installed by scripts/install-deps.sh) must accept
// `text`, without lint warnings either.
void check_with_promtool(const std::string& text, const std::string& dir) {
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool not installed: the metrics format check is skipped (install prometheus)");
    return;
  }
  const std::string file = dir + "/metrics.txt";
  {
    FILE* f = fopen(file.c_str(), "w");
    REQUIRE(f != nullptr);
    fputs(text.c_str(), f);
    fclose(f);
  }
  const std::string cmd = "promtool check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p) != nullptr)
    out += buf;
  const int rc = pclose(p);
  CHECK_MESSAGE(rc == 0, "promtool: " << out);
  CHECK_MESSAGE(out.empty(), "promtool: " << out);
}

TEST_CASE("admin: status, wal, mvcc, config, checkpoint, log-level and shutdown end to end") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  const json before_wal = admin_ok(daemon, {"wal"});
  const json before_mvcc = admin_ok(daemon, {"mvcc"});
  {
    auto c = connect(daemon);
    REQUIRE(c);
    constexpr int kPuts = 25;
    for (int i = 0; i < kPuts; ++i)
      REQUIRE(c->put("admin/" + std::to_string(i), "v") == Status::kOk);
    const json status = admin_ok(daemon, {"status"});
    CHECK(status["health"] == "ok");
    CHECK(status["pid"] == daemon.pid());
    CHECK(status["sessions"] == 1);  // this client
    CHECK(status["data_dir"] == daemon.dir() + "/data");
    CHECK(status["workers"].size() >= 1);
    CHECK(status["memory_used_bytes"].get<uint64_t>() > 0);
    CHECK(status["index_bytes"].get<uint64_t>() > 0);
    CHECK(status["keys"].get<uint64_t>() >= kPuts);
    CHECK(status["uptime_seconds"].get<double>() > 0);
    // The daemon tells its clients the version it tells operators; here, the library's.
    CHECK(status["version"] == c->daemon_version());
    CHECK(c->daemon_version() == ringdb::version());
    const json wal = admin_ok(daemon, {"wal"});
    CHECK(wal["records"].get<uint64_t>() - before_wal["records"].get<uint64_t>() == kPuts);
    CHECK(wal["fsyncs"].get<uint64_t>() >= before_wal["fsyncs"].get<uint64_t>() + 1);
    CHECK(wal["durable_lsn"].get<uint64_t>() > before_wal["durable_lsn"].get<uint64_t>());
    CHECK(wal["written_lsn"].get<uint64_t>() >= wal["durable_lsn"].get<uint64_t>());
    CHECK(status["wal_lsn"].get<uint64_t>() >= status["wal_durable_lsn"].get<uint64_t>());
    CHECK(status["wal_durable_lsn"].get<uint64_t>() > 0);
    CHECK(wal["segments"] == 1);
    CHECK(wal["sync_p99_us"].get<double>() > 0);
    CHECK(wal["sync_max_us"].get<double>() >= wal["sync_p50_us"].get<double>());
    const json mvcc = admin_ok(daemon, {"mvcc"});
    CHECK(mvcc["trx_committed"].get<uint64_t>() - before_mvcc["trx_committed"].get<uint64_t>() ==
          kPuts);
    CHECK(mvcc["keys"].get<uint64_t>() >= kPuts);
  }
  const json config = admin_ok(daemon, {"config"});
  CHECK(config["socket"] == daemon.socket());
  CHECK(config["admin-socket"] == daemon.admin_socket());
  CHECK(config["wal-segment-size"] == "4M");

  const json first = admin_ok(daemon, {"checkpoint"});
  const json second = admin_ok(daemon, {"checkpoint"});
  CHECK(second["seq"].get<uint64_t>() == first["seq"].get<uint64_t>() + 1);
  CHECK(second["keys"].get<uint64_t>() >= 25);
  CHECK(std::filesystem::exists(second["path"].get<std::string>()));
  CHECK(admin_ok(daemon, {"status"})["last_checkpoint"]["seq"] == second["seq"]);

  CHECK(admin_ok(daemon, {"log-level", "debug"})["level"] == "debug");
  CHECK(admin_ok(daemon, {"config"})["log-level"] == "debug");
  int status = -1;
  const json bad = admin(daemon, {"log-level", "loud"}, &status);
  CHECK(WEXITSTATUS(status) == 2);  // a usage error, as the daemon's code says
  CHECK(bad["ok"] == false);
  CHECK(bad["code"] == "bad_args");
  CHECK(bad["error"] == "the level must be one of error, warn, info, debug");
  const json unknown = admin(daemon, {"no-such-command"}, &status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(unknown["code"] == "unknown_command");
  const json bad_type = admin(daemon, {"--args", "{\"top\": \"ten\"}", "latches"}, &status);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(bad_type["code"] == "bad_args");
  // A command that could not do what it was asked: 1.
  const json no_session = admin(daemon, {"kill-session", "999999"}, &status);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(no_session["code"] == "failed");

  CHECK(admin_ok(daemon, {"shutdown"})["shutting_down"] == true);
  const int exit_status = daemon.process().wait();
  CHECK(WIFEXITED(exit_status));
  CHECK(WEXITSTATUS(exit_status) == 0);
  CHECK_FALSE(std::filesystem::exists(daemon.admin_socket()));  // removed on the way out
}

// The option names of ringdbd's table, as its --print-config-file lists them (`# name = ...`).
std::vector<std::string> option_names() {
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess p({program_path("RINGDBD"), "--print-config-file"}, options);
  std::vector<std::string> names;
  std::string line;
  while (p.read_line(&line)) {
    const size_t eq = line.find(" = ");
    if (line.rfind("# ", 0) == 0 && eq != std::string::npos && line.find(' ', 2) == eq)
      names.push_back(line.substr(2, eq - 2));
  }
  const int status = p.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return names;
}

// One HTTP exchange with 127.0.0.1:port: sends `request` as it is, returns everything the
// server sent until it closed.
std::string http(int port, const std::string& request) {
  const int fd = ringdb::test::connect_loopback(port);
  REQUIRE(fd >= 0);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[16 << 10];
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    REQUIRE_MESSAGE(poll(&p, 1, 20'000) == 1, "no answer within 20 s");
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

TEST_CASE(
    "metrics over HTTP (--metrics-listen): Prometheus scrapes /metrics; histograms, "
    "build info, process metrics") {
  const int port = ringdb::test::free_loopback_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  DaemonProcess daemon({"--metrics-listen", address, "--admin-idle-timeout-ms", "2000"});
  REQUIRE(daemon.ready());
  {
    auto c = connect(daemon);
    REQUIRE(c);
    for (int i = 0; i < 64; ++i)
      REQUIRE(c->put("m/" + std::to_string(i), "v") == Status::kOk);
    std::string v;
    for (int i = 0; i < 64; ++i)
      REQUIRE(c->get("m/" + std::to_string(i), &v) == Status::kOk);
  }
  const std::string answer = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const size_t head_end = answer.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = answer.substr(0, head_end);
  const std::string body = answer.substr(head_end + 4);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(head.find("Content-Length: " + std::to_string(body.size())) != std::string::npos);
  check_with_promtool(body, daemon.dir());
  // Histograms with fixed bounds (aggregatable), not summaries.
  CHECK(body.find("# TYPE ringdb_request_duration_seconds histogram") != std::string::npos);
  CHECK(body.find("ringdb_request_duration_seconds_bucket{type=\"put\",le=\"0.000000255\"} ") !=
        std::string::npos);
  CHECK(body.find("ringdb_request_duration_seconds_bucket{type=\"put\",le=\"+Inf\"} ") !=
        std::string::npos);
  CHECK(body.find("# TYPE ringdb_wal_sync_duration_seconds histogram") != std::string::npos);
  CHECK(body.find("quantile=") == std::string::npos);
  CHECK(body.find(std::string("ringdb_build_info{version=\"") + ringdb::version() + "\"") !=
        std::string::npos);
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                             "process_start_time_seconds"}) {
    CHECK_MESSAGE(body.find(std::string("\n") + family + " ") != std::string::npos, family);
  }
  // The same text as the admin socket's metrics command gives (a moment apart: same families).
  const std::string via_admin = admin_ok(daemon, {"metrics"})["text"].get<std::string>();
  CHECK(via_admin.find("# TYPE ringdb_request_duration_seconds histogram") != std::string::npos);

  // Anything else is refused with the right status, and the connection closed.
  CHECK(http(port, "HEAD /metrics HTTP/1.0\r\n\r\n").find("Content-Length: ") != std::string::npos);
  CHECK(http(port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(http(port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(http(port, "hello\r\n\r\n").rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(http(port, "GET /" + std::string(70 << 10, 'a')).rfind("HTTP/1.1 431 ", 0) == 0);
  // A client that never finishes its request is told so after the idle timeout.
  CHECK(http(port, "GET /metr").rfind("HTTP/1.1 408 ", 0) == 0);
  // Connections held open, as anyone who reaches the port may: a fifth is turned away, and
  // the operators' admin socket, counted apart, is not.
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(ringdb::test::connect_loopback(port));
    REQUIRE(held.back() >= 0);
  }
  CHECK(http(port, "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(admin_ok(daemon, {"status"})["health"] == "ok");
  for (const int fd : held)
    close(fd);
}

TEST_CASE("a metrics address that cannot be served stops the start with a clear error") {
  int port = 0;
  const int taken = ringdb::test::listen_loopback(&port);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  DaemonProcess daemon({"--metrics-listen", address});
  CHECK_FALSE(daemon.ready());
  const int status = daemon.process().wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(daemon.wait_log("metrics endpoint (--metrics-listen): cannot listen on " + address));
  close(taken);
}

TEST_CASE("admin: figures with no samples are null, not 0") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  const json wal = admin_ok(daemon, {"wal"});  // nothing committed yet
  CHECK(wal["fsyncs"] == 0);
  CHECK(wal["sync_p50_us"].is_null());
  CHECK(wal["sync_p99_us"].is_null());
  CHECK(wal["sync_max_us"].is_null());
  bool uncontended = false;
  const json latches = admin_ok(daemon, {"latches", "--top", "1000"});
  for (const json& l : latches["latches"]) {
    if (l["contended"].get<uint64_t>() != 0) continue;
    uncontended = true;
    CHECK(l["wait_p50_us"].is_null());
    CHECK(l["wait_max_us"].is_null());
  }
  CHECK_MESSAGE(uncontended, latches.dump());
  // The human layout says "-" for them.
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess p({program_path("RINGDB_ADMIN"), "--socket", daemon.admin_socket(), "wal"}, options);
  std::string line;
  bool dash = false;
  while (p.read_line(&line)) {
    if (line.rfind("sync_p99_us ", 0) == 0) dash = line.back() == '-';
  }
  CHECK(ringdb::test::exit_code(p.wait()) == 0);
  CHECK(dash);
}

TEST_CASE("admin: config lists every option of the table, written as in the config file") {
  const std::vector<std::string> names = option_names();
  REQUIRE(names.size() >= 30);
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  const json config = admin_ok(daemon, {"config"});
  std::vector<std::string> keys;
  for (auto it = config.begin(); it != config.end(); ++it) {
    keys.push_back(it.key());
    CHECK_MESSAGE(it.value().is_string(), it.key());
  }
  for (const std::string& name : names)
    CHECK_MESSAGE(config.contains(name), "missing from the dump: " << name);
  for (const std::string& key : keys)
    CHECK_MESSAGE(std::find(names.begin(), names.end(), key) != names.end(),
                  "not an option: " << key);
  CHECK(keys == names);  // and in the table's order
  CHECK(config["socket-mode"] == "0660");
  CHECK(config["wal-segment-size"] == "4M");
  CHECK(config["request-area"] == "2112K");
  CHECK(config["ready-fd"] == "3");
  CHECK(config["watchdog-abort"] == "0");
  CHECK(config["cores"] != "");  // the cores chosen at start
}

TEST_CASE("admin: stats, workers, latches, metrics (valid for promtool) and watch under load") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  // Background load: two writer processes committing transactions as fast as they can.
  std::vector<std::unique_ptr<ChildProcess>> load;
  for (const char* id : {"load0", "load1"}) {
    load.push_back(ringdb::test::it_client({"writer", daemon.socket(), id}));
    std::string acked;
    REQUIRE(load.back()->read_line(&acked));  // committing
  }
  auto c = connect(daemon);
  REQUIRE(c);
  constexpr int kGets = 300, kPuts = 40;
  for (int i = 0; i < kPuts; ++i)
    REQUIRE(c->put("s/" + std::to_string(i), "v") == Status::kOk);
  std::string v;
  for (int i = 0; i < kGets; ++i)
    REQUIRE(c->get("s/" + std::to_string(i % kPuts), &v) == Status::kOk);
  CHECK(c->get("absent", &v) == Status::kNotFound);

  const json stats = admin_ok(daemon, {"stats"});
  std::map<std::string, json> by_type;
  for (const json& t : stats["by_type"])
    by_type[t["type"].get<std::string>()] = t;
  REQUIRE(by_type.count("get") == 1);
  REQUIRE(by_type.count("put") == 1);
  CHECK(by_type["get"]["requests"] == kGets + 1);             // the writers never get
  CHECK(by_type["put"]["requests"].get<uint64_t>() > kPuts);  // theirs and ours
  CHECK(by_type["commit"]["requests"].get<uint64_t>() > 0);
  CHECK(by_type["put"]["p99_us"].get<double>() > 0);  // every logged commit is timed
  CHECK(by_type["put"]["sampled"].get<uint64_t>() > 0);
  // Counters only: no rate over a window that one caller's request would reset for another.
  CHECK(stats["uptime_seconds"].get<double>() > 0);
  CHECK_FALSE(stats.contains("window_seconds"));
  CHECK_FALSE(by_type["get"].contains("per_second"));
  CHECK_FALSE(by_type["get"].contains("latency_log2_ns"));  // only when asked for
  const json with_buckets = admin_ok(daemon, {"--args", "{\"buckets\": true}", "stats"});
  for (const json& t : with_buckets["by_type"]) {
    REQUIRE(t["latency_log2_ns"].size() == 64);
    uint64_t sampled = 0;
    for (const json& count : t["latency_log2_ns"])
      sampled += count.get<uint64_t>();
    CHECK(sampled >= t["sampled"].get<uint64_t>());  // read a moment later
  }
  std::map<std::string, uint64_t> by_status;
  for (const json& s : stats["by_status"])
    by_status[s["status"].get<std::string>()] = s["answers"].get<uint64_t>();
  CHECK(by_status["NOT_FOUND"] == 1);
  CHECK(by_status["OK"] >= kGets + kPuts);

  // Every read-only command answers under the load, and the figures move. (The writers'
  // "acked" lines are drained first: a full pipe would stop them.)
  for (auto& w : load) {
    std::string ignored;
    while (w->read_line(&ignored, std::chrono::milliseconds(1))) {
    }
  }
  const json wal1 = admin_ok(daemon, {"wal"});
  for (const char* cmd : {"status", "config", "mvcc", "sessions", "latches", "help"})
    CHECK(!admin_ok(daemon, {cmd}).is_null());
  CHECK(admin_ok(daemon, {"checkpoint"})["keys"].get<uint64_t>() > 0);
  CHECK(admin_ok(daemon, {"status"})["sessions"] == 3);
  const json wal2 = admin_ok(daemon, {"wal"});
  CHECK(wal2["records"].get<uint64_t>() > wal1["records"].get<uint64_t>());  // writers go on

  const json workers = admin_ok(daemon, {"workers"});
  REQUIRE(workers["workers"].size() >= 1);
  uint64_t served = 0;
  for (const json& w : workers["workers"]) {
    served += w["requests"].get<uint64_t>();
    CHECK(w["busy_share"].get<double>() >= 0);
    CHECK(w["busy_share"].get<double>() <= 1);
  }
  CHECK(served >= kGets + kPuts + 1);

  const json latches = admin_ok(daemon, {"latches", "--top", "20"});
  bool commit_latch = false;
  for (const json& l : latches["latches"]) {
    if (l["latch"] == "trx.commit") {
      commit_latch = true;
      CHECK(l["acquisitions"].get<uint64_t>() >= kPuts);
    }
  }
  CHECK(commit_latch);

  const json metrics = admin_ok(daemon, {"metrics"});
  const std::string text = metrics["text"].get<std::string>();
  CHECK(text.find("ringdb_requests_total{type=\"get\"} " + std::to_string(kGets + 1) + "\n") !=
        std::string::npos);
  CHECK(text.find("ringdb_wal_records_total ") != std::string::npos);
  check_with_promtool(text, daemon.dir());

  // watch: two lines, a second apart, with the fields a person watches.
  std::vector<std::string> argv = {program_path("RINGDB_ADMIN"),
                                   "--json",
                                   "--socket",
                                   daemon.admin_socket(),
                                   "watch",
                                   "--count",
                                   "2"};
  ChildOptions options;
  options.pipe_stdin = false;
  ChildProcess w(argv, options);
  for (int i = 0; i < 2; ++i) {
    std::string line;
    REQUIRE(w.read_line(&line));
    const json j = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), line);
    CHECK(j["sessions"] == 3);  // this test's client and the two writers
    CHECK(j["health"] == "ok");
    CHECK(j.contains("requests_per_second"));
    CHECK(j.contains("history_length"));
    CHECK(j.contains("wal_bytes_per_second"));
  }
  const int status = w.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE(
    "admin: sessions shows who is connected; kill-session ends one and aborts its "
    "transaction") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto victim = connect(daemon);
  REQUIRE(victim);
  REQUIRE(daemon.wait_sessions(1));
  std::unique_ptr<ringdb::Transaction> t;
  REQUIRE(victim->begin(&t) == Status::kOk);
  REQUIRE(t->put("held", "uncommitted") == Status::kOk);

  const json sessions = admin_ok(daemon, {"sessions"})["sessions"];
  REQUIRE(sessions.size() == 1);
  const json& row = sessions[0];
  CHECK(row["pid"] == getpid());
  CHECK(row["uid"] == geteuid());
  CHECK(row["process"] == "test_admin");
  CHECK(row["open_transactions"] == 1);
  CHECK(row["oldest_transaction_age_seconds"].is_number());
  CHECK(row["age_seconds"].get<double>() >= 0);
  // The open transaction's view is visible in mvcc before any guard acts on it.
  const json mvcc = admin_ok(daemon, {"mvcc"});
  CHECK(mvcc["active_views"].get<uint64_t>() >= 1);

  const uint64_t id = row["id"].get<uint64_t>();
  CHECK(admin_ok(daemon, {"kill-session", std::to_string(id)})["killed"] == id);
  REQUIRE(daemon.wait_sessions(0));
  CHECK(t->put("more", "x") == Status::kDisconnected);
  // Its write never became visible, and the key is free at once.
  auto other = connect(daemon);
  REQUIRE(other);
  std::string v;
  CHECK(other->get("held", &v) == Status::kNotFound);
  CHECK(other->put("held", "mine") == Status::kOk);
  int status = -1;
  CHECK(admin(daemon, {"kill-session", std::to_string(id)}, &status)["ok"] == false);  // gone
  CHECK(WEXITSTATUS(status) == 1);
}

TEST_CASE("guards: a transaction open longer than --transaction-age-max-ms gets TRX_TOO_OLD") {
  DaemonProcess daemon({"--transaction-age-max-ms", "200"});
  REQUIRE(daemon.ready());
  auto c = connect(daemon);
  REQUIRE(c);
  std::unique_ptr<ringdb::Transaction> t;
  REQUIRE(c->begin(&t) == Status::kOk);
  REQUIRE(t->put("old", "v") == Status::kOk);
  REQUIRE(daemon.wait_log("transactions open longer than 200 ms aborted"));
  CHECK(t->put("old", "w") == Status::kTrxTooOld);
  CHECK(t->commit() == Status::kTrxTooOld);
  std::string v;
  CHECK(c->get("old", &v) == Status::kNotFound);  // nothing of it is there
  // The session goes on: a new transaction works.
  std::unique_ptr<ringdb::Transaction> fresh;
  REQUIRE(c->begin(&fresh) == Status::kOk);
  REQUIRE(fresh->put("old", "new") == Status::kOk);
  CHECK(fresh->commit() == Status::kOk);
  CHECK(admin_ok(daemon, {"mvcc"})["trx_aborted"].get<uint64_t>() >= 1);
}

TEST_CASE(
    "contention: the holder of keys others fail to write is named, with its session and pid") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto holder = connect(daemon);
  auto writer = connect(daemon);
  REQUIRE(holder);
  REQUIRE(writer);
  CHECK(admin_ok(daemon, {"contention"})["holders"].empty());
  std::unique_ptr<ringdb::Transaction> t;
  REQUIRE(holder->begin(&t) == Status::kOk);
  REQUIRE(t->put("hot\x01", "mine") == Status::kOk);
  // A stuck client: it holds the key; every other writer of it is turned away.
  for (int i = 0; i < 3; ++i)
    CHECK(writer->put("hot\x01", "theirs") == Status::kConflict);
  CHECK(writer->put("cold", "fine") == Status::kOk);
  const json holders = admin_ok(daemon, {"contention"})["holders"];
  REQUIRE(holders.size() == 1);
  CHECK(holders[0]["session"] == holder->session_id());
  CHECK(holders[0]["pid"] == getpid());
  CHECK(holders[0]["conflicts"] == 3);
  CHECK(holders[0]["key"] == "hot\\x01");
  CHECK(holders[0]["transaction_age_seconds"].get<double>() >= 0);
  // Once it ends, it holds nothing.
  t->abort();
  CHECK(admin_ok(daemon, {"contention"})["holders"].empty());
  CHECK(writer->put("hot\x01", "theirs") == Status::kOk);
}

TEST_CASE(
    "memory: under a 200 MiB cgroup the default limit follows it, and writes get OUT_OF_MEMORY "
    "before the kernel acts; reads and deletes go on") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  MESSAGE(
      "skipped: a sanitizer's own memory (shadow, quarantine) does not fit in a 200 MiB "
      "cgroup; the release build runs this test");
  return;
#endif
  constexpr uint64_t kCgroupBytes = uint64_t{200} << 20;
  ringdb::test::MemoryCgroup cgroup(kCgroupBytes);
  if (!cgroup.ok) {
    MESSAGE("skipped: " << cgroup.why);
    return;
  }
  REQUIRE(cgroup.enter());
  DaemonProcess daemon;  // started inside the cgroup, with --memory-limit auto
  cgroup.leave();
  REQUIRE(daemon.ready());
  std::string line;
  REQUIRE(daemon.wait_log("memory limit for stored data: ", &line));
  CHECK(line.find("limit (" + cgroup.dir() + "/memory.") != std::string::npos);
  const json status = admin_ok(daemon, {"status"});
  const uint64_t limit = status["memory_limit_bytes"].get<uint64_t>();
  CHECK(limit > 0);
  CHECK(limit < kCgroupBytes / 2);
  CHECK(admin_ok(daemon, {"config"})["memory-limit"] != "auto");  // the figure in effect
  auto c = connect(daemon);
  REQUIRE(c);
  const std::string value(512 << 10, 'm');
  Status s = Status::kOk;
  int stored = 0;
  while (s == Status::kOk && stored < 800) {  // 400 MiB: twice the cgroup
    std::string key = "m";  // (not "m" + std::to_string(): GCC 12 warns falsely, bug 105329)
    key += std::to_string(stored);
    s = c->put(key, value);
    if (s == Status::kOk) ++stored;
  }
  CHECK(s == Status::kOutOfMemory);
  CHECK(stored > 8);
  // Alive, answering; reads and deletes work.
  std::string got;
  CHECK(c->get("m0", &got) == Status::kOk);
  CHECK(got == value);
  CHECK(c->del("m0") == Status::kOk);
  CHECK(admin_ok(daemon, {"status"})["health"] == "ok");
  CHECK(daemon.stop() == 0);  // a clean exit: not killed by the kernel
}

TEST_CASE("scans run in slices that yield to other sessions, and see one snapshot throughout") {
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto a = connect(daemon);
  auto b = connect(daemon);
  REQUIRE(a);
  REQUIRE(b);
  // 3000 keys of 600 bytes: one answer (under 2 MiB) holds them all, about 28 slices of 64 KiB.
  const auto key = [](int i) {
    char k[16];
    snprintf(k, sizeof k, "s%05d", i);
    return std::string(k);
  };
  for (int i = 0; i < 3000; ++i)
    REQUIRE(a->put(key(i), std::string(600, 'o'), ringdb::Durability::kNone) == Status::kOk);
  const json before = admin_ok(daemon, {"workers"})["workers"][0];
  // While `a` scans everything, `b` commits the first and the last key together, again and
  // again, between the scan's slices: a scan that took a new snapshot for a slice would see
  // the two differ.
  std::atomic<bool> scanning{true};
  std::thread writer([&] {
    for (int gen = 0; scanning.load(); ++gen) {
      std::unique_ptr<ringdb::Transaction> t;
      REQUIRE(b->begin(&t) == Status::kOk);
      std::string v = "gen";
      v += std::to_string(gen);
      v.resize(600, '.');
      REQUIRE(t->put(key(0), v) == Status::kOk);
      REQUIRE(t->put(key(2999), v) == Status::kOk);
      REQUIRE(t->commit(ringdb::Durability::kNone) == Status::kOk);
    }
  });
  ringdb::ScanOptions all;
  all.limit = 100000;
  for (int round = 0; round < 20; ++round) {
    std::vector<ringdb::KeyValue> items;
    bool truncated = true;
    REQUIRE(a->scan(all, &items, &truncated) == Status::kOk);
    CHECK_FALSE(truncated);
    REQUIRE(items.size() == 3000);
    CHECK(items.front().key == key(0));
    CHECK(items.back().key == key(2999));
    CHECK(items.front().value == items.back().value);
  }
  scanning = false;
  writer.join();
  const json after = admin_ok(daemon, {"workers"})["workers"][0];
  CHECK(after["scan_slices"].get<uint64_t>() - before["scan_slices"].get<uint64_t>() >= 20 * 20);
  CHECK(after["scans_paused"].get<uint64_t>() > before["scans_paused"].get<uint64_t>());
  // `b`'s requests kept arriving during the slices, and `b` is served far less than `a`:
  // slices stepped aside for them.
  CHECK(after["slices_stepped_aside"].get<uint64_t>() >
        before["slices_stepped_aside"].get<uint64_t>());
}

TEST_CASE("a scan between slices goes on while other sessions come and go") {
  // Sessions arriving and leaving make the worker rebuild its list of rings; a scan paused
  // between slices, whose client has nothing else queued, must not be forgotten then (it
  // was: the scan's client waited forever while the worker slept).
  DaemonProcess daemon;
  REQUIRE(daemon.ready());
  auto a = connect(daemon);
  REQUIRE(a);
  for (int i = 0; i < 3000; ++i) {
    char k[16];
    snprintf(k, sizeof k, "p%05d", i);
    REQUIRE(a->put(k, std::string(600, 'o'), ringdb::Durability::kNone) == Status::kOk);
  }
  std::atomic<bool> scanning{true};
  std::atomic<int> sessions{0};
  std::thread churn([&] {
    while (scanning.load()) {
      if (connect(daemon)) sessions.fetch_add(1);  // connected, then closed at once
    }
  });
  ringdb::ScanOptions all;
  all.limit = 100000;
  int answered = 0;
  for (int round = 0; round < 30; ++round) {
    auto op = std::make_unique<ringdb::Operation>(ringdb::Operation::scan(all));
    REQUIRE(a->submit(op.get()) == Status::kOk);
    // Bounded only for a failure: a forgotten scan never completes.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool complete = false;
    while (!(complete = a->poll(op.get())) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    if (!complete) {  // still in flight: neither may be destroyed; leaked, the test failed
      (void)op.release();
      (void)a.release();
      break;
    }
    CHECK(op->status() == Status::kOk);
    CHECK(op->items().size() == 3000);
    ++answered;
  }
  scanning = false;
  churn.join();
  CHECK(answered == 30);
  CHECK(sessions.load() > 0);
  MESSAGE("sessions that came and went during the scans: " << sessions.load());
}

TEST_CASE("a worker waiting for the log's completions polls instead of sleeping") {
  // A slow disk (every write + fdatasync takes at least 0.5 ms) and a worker that sleeps as
  // soon as it finds nothing to do (--spin-us 0). One sync put at a time: between two puts
  // the worker sleeps (nothing to do, nothing parked); while a put's commit waits for the
  // log it must keep polling, or each lone durable commit pays a wake-up as well.
  DaemonProcess daemon({"--spin-us", "0"}, {}, {{"RINGDB_FAULT_INJECT", "fsync-delay-us:500"}});
  REQUIRE(daemon.ready());
  auto client = ringdb::test::connect(daemon);
  REQUIRE(client);
  REQUIRE(client->put("warm", "up") == ringdb::Status::kOk);
  auto sleeps = [&] {
    return admin_ok(daemon, {"workers"})["workers"][0]["sleeps"].get<uint64_t>();
  };
  const uint64_t before = sleeps();
  constexpr uint64_t kPuts = 40;
  for (uint64_t i = 0; i < kPuts; ++i) {
    std::string key = "lone";
    key += std::to_string(i);
    REQUIRE(client->put(key, "v") == ringdb::Status::kOk);
  }
  const uint64_t slept = sleeps() - before;
  // About one sleep per put (between puts) with the polling, two without (one more during
  // each sync); the slack is for a scheduler that delays the worker past its 2 ms bound.
  CHECK(slept <= kPuts + kPuts / 4);
}

TEST_CASE("workers on every CPU yield their CPUs when idle, and clients beside them are served") {
  cpu_set_t all;
  CPU_ZERO(&all);
  REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
  std::vector<int> cpus;
  std::string list;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(static_cast<size_t>(c), &all)) continue;
    cpus.push_back(c);
    list += (list.empty() ? "" : ",") + std::to_string(c);
  }
  {
    // A CPU left for clients: the workers keep theirs, pausing while idle.
    DaemonProcess daemon({"--cores", std::to_string(cpus.back())});
    REQUIRE(daemon.ready());
    const json workers = admin_ok(daemon, {"workers"})["workers"];
    REQUIRE(workers.size() == 1);
    CHECK(workers[0]["yields_when_idle"] == (cpus.size() == 1));
  }
  DaemonProcess daemon({"--cores", list});
  REQUIRE(daemon.ready());
  const json workers = admin_ok(daemon, {"workers"})["workers"];
  REQUIRE(workers.size() == cpus.size());
  for (const json& w : workers)
    CHECK(w["yields_when_idle"] == true);
  // A client thread pinned to each CPU, every request answered right while it shares the CPU
  // with that CPU's worker.
  auto client = ringdb::test::connect(daemon);
  REQUIRE(client);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (const int cpu : cpus) {
    threads.emplace_back([&, cpu] {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(static_cast<size_t>(cpu), &one);
      if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0) ++wrong;
      std::string key = "cpu";
      key += std::to_string(cpu);
      std::string value;
      for (int i = 0; i < 2000; ++i) {
        const std::string v = std::to_string(i);
        if (client->put(key, v, ringdb::Durability::kNone) != ringdb::Status::kOk ||
            client->get(key, &value) != ringdb::Status::kOk || value != v) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("guards: the watchdog reports a worker that stalls, and aborts when configured to") {
  {
    DaemonProcess daemon({"--test-hooks", "1", "--watchdog-ms", "200"});
    REQUIRE(daemon.ready());
    admin_ok(daemon, {"test-stall-worker", "--args", R"({"worker":0,"ms":1500})"});
    std::string line;
    REQUIRE(daemon.wait_log("watchdog: worker 0 ", &line));
    CHECK(line.find("has made no progress for") != std::string::npos);
    REQUIRE(daemon.wait_log("watchdog: worker 0 makes progress again"));
    CHECK(admin_ok(daemon, {"status"})["health"] == "ok");  // logged only: it goes on
  }
  {
    DaemonProcess daemon({"--test-hooks", "1", "--watchdog-ms", "200", "--watchdog-abort", "1"});
    REQUIRE(daemon.ready());
    admin_ok(daemon, {"test-stall-worker", "--args", R"({"worker":0,"ms":60000})"});
    REQUIRE(daemon.wait_log("aborting so that a supervisor restarts the daemon"));
    const int status = daemon.process().wait();
    CHECK(WIFSIGNALED(status));  // abort(): a core dump for the post-mortem, never a hang
  }
  {
    // Without --test-hooks the hook does not exist.
    DaemonProcess daemon;
    REQUIRE(daemon.ready());
    int status = -1;
    CHECK(admin(daemon, {"test-stall-worker", "--args", R"({"worker":0,"ms":10})"},
                &status)["ok"] == false);
  }
}

// A stand-in for systemd's notify socket: the datagrams ringdbd sends (sd_notify).
class NotifyListener {
 public:
  NotifyListener() {
    char tmpl[] = "/tmp/ringdb-notify-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/notify.sock";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifyListener() {
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  // How many datagrams holding `needle` arrive within `window` (all of it is waited).
  int count(const std::string& needle, std::chrono::milliseconds window) {
    int seen = 0;
    const auto end = std::chrono::steady_clock::now() + window;
    for (std::string m; next(&m, end);)
      seen += m.find(needle) != std::string::npos ? 1 : 0;
    return seen;
  }
  // Waits up to `timeout` for a datagram holding `needle`.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (std::string m; next(&m, end);) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  // Drops what has arrived so far.
  void drain() {
    char buf[4096];
    while (recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }

 private:
  bool next(std::string* message, std::chrono::steady_clock::time_point end) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    pollfd p = {fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) return false;
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    message->assign(buf, static_cast<size_t>(n));
    return true;
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_CASE("systemd's watchdog: WATCHDOG=1 while the workers are healthy, none while one hangs") {
  NotifyListener notify;
  DaemonProcess daemon({"--test-hooks", "1", "--watchdog-ms", "200"}, {},
                       {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "2000000"}});
  REQUIRE(daemon.ready());
  CHECK(notify.wait_for("READY=1", 10s));
  CHECK(notify.wait_for("WATCHDOG=1", 5s));  // a tick is at most a second
  admin_ok(daemon, {"test-stall-worker", "--args", R"({"worker":0,"ms":60000})"});
  REQUIRE(daemon.wait_log("watchdog: worker 0 "));
  notify.drain();  // sent before the verdict
  // The stall goes on for a minute: no keep-alive for three ticks, so systemd's WatchdogSec=
  // would restart the daemon.
  CHECK(notify.count("WATCHDOG=1", 3s) == 0);
  CHECK(admin_ok(daemon, {"status"})["health"] == "ok");  // the rest of the daemon still runs
}

TEST_CASE("admin: a user who is not allowed is refused with a clear error") {
  DaemonProcess daemon({"--socket-mode", "0666"});  // anyone may connect; the check decides
  REQUIRE(daemon.ready());
  REQUIRE(geteuid() == 0);  // the tests run as root (CI); nobody is uid 65534
  REQUIRE(chmod(daemon.dir().c_str(), 0711) == 0);  // nobody may reach the socket
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // only async-signal-safe calls from here (the test has threads)
    close(pipe_fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    const std::string& path = daemon.admin_socket();
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(4);
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      if (write(pipe_fds[1], buf, static_cast<size_t>(n)) != n) _exit(5);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0)
    got.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const json j = json::parse(got, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), got);
  CHECK(j["ok"] == false);
  CHECK(j["error"].get<std::string>().find("not allowed") != std::string::npos);
  CHECK(daemon.wait_log("admin socket: refused user 65534"));
  // Root still is.
  CHECK(admin_ok(daemon, {"status"})["health"] == "ok");
}

TEST_CASE(
    "admin: garbage, silence and an endless line get errors or a timeout; others are "
    "served meanwhile") {
  DaemonProcess daemon({"--admin-idle-timeout-ms", "300"});
  REQUIRE(daemon.ready());
  Raw silent(daemon.admin_socket());  // connects and says nothing
  REQUIRE(silent.connected());
  Raw garbage(daemon.admin_socket());
  REQUIRE(garbage.connected());
  const json g = ask_raw(garbage, "\x01\x02 not json {{{");
  CHECK(g["ok"] == false);
  CHECK(g["error"].get<std::string>().find("not a JSON object") != std::string::npos);
  CHECK(ask_raw(garbage, R"({"v":2,"cmd":"status"})")["ok"] == false);  // unknown version
  CHECK(ask_raw(garbage, R"({"v":1,"cmd":"nope"})")["ok"] == false);    // unknown command
  CHECK(ask_raw(garbage, R"({"v":1,"cmd":"status","args":7})")["ok"] == false);
  CHECK(ask_raw(garbage, std::string(100, '[') + std::string(100, ']'))["ok"] == false);
  // The same connection still works after its errors.
  CHECK(ask_raw(garbage, R"({"v":1,"cmd":"status"})")["ok"] == true);

  Raw endless(daemon.admin_socket());
  REQUIRE(endless.connected());
  const std::string chunk(16 << 10, 'x');
  bool refused = false;
  for (int i = 0; i < 64 && !refused; ++i)  // 1 MiB, no newline; the bound is 64 KiB
    refused = !endless.send_text(chunk);
  std::string line;
  REQUIRE(endless.read_line(&line));
  CHECK(line.find("request longer than") != std::string::npos);
  CHECK(endless.closed_by_peer());

  // Another client is served while the silent one waits out its timeout.
  CHECK(admin_ok(daemon, {"status"})["health"] == "ok");
  REQUIRE(silent.read_line(&line));
  CHECK(line.find("idle for 300 ms") != std::string::npos);
  CHECK(silent.closed_by_peer());
  CHECK(admin_ok(daemon, {"wal"})["failed"] == false);
}

}  // namespace
