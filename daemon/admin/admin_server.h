// AdminServer: the admin socket (issue 6; protocol in docs/PROTOCOL.md, "Admin socket").
//
// A unix stream socket, separate from the session socket, for ringdb-admin and monitoring.
// Each request is one JSON object on one line, `{"v":1,"cmd":"status","args":{...}}`; each
// answer one line, `{"v":1,"ok":true,"result":...}` or `{"v":1,"ok":false,"error":"..."}`,
// in request order. Commands are registered by the daemon (add()); `help` lists them.
//
// Optionally (http_listen, ringdbd --metrics-listen) it also listens on a TCP address for
// Prometheus: `GET /metrics` answers the `metrics` command's text over HTTP/1.1, one request
// per connection (Connection: close); any other path is 404, any other method 405. The same
// bounds hold for those connections (request bytes, idle timeout), and at most
// http_connections_max at once, counted apart from the admin socket's: there is no peer check
// on TCP (the address is loopback unless the operator means otherwise), so anyone who reaches
// the port may hold HTTP connections, but never an operator's place on the admin socket.
//
// It runs on one thread of its own (epoll), never on a worker, and nothing a client does can
// stall it: sockets are non-blocking; a request line is bounded (request_bytes_max, then an
// error and the connection closed); unsent answers are bounded (response_bytes_max: a client
// that does not read is dropped); a connection with no complete request for idle_timeout is
// told so and closed; at most connections_max at once (beyond: an error and closed). Slow
// commands (a checkpoint) run on a second thread, one at a time, queued (at most
// slow_queue_max), so the admin thread keeps answering others meanwhile. A peer that is not
// among the admin users or groups gets one error line and is closed.
//
// Thread safety: add() before start(); start() and stop() from one thread. Handlers run on
// the admin thread (or, for slow ones, the slow-command thread) and must be thread-safe
// against the rest of the daemon.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sync/event_count.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

struct AdminOptions {
  std::string path;
  unsigned mode = 0660;
  std::vector<uid_t> users;
  std::vector<gid_t> groups;
  uint32_t connections_max = 16;      // admin socket connections
  uint32_t http_connections_max = 4;  // metrics endpoint connections
  std::chrono::milliseconds idle_timeout{10'000};
  size_t request_bytes_max = 64 << 10;
  size_t response_bytes_max = 4 << 20;
  uint32_t slow_queue_max = 16;
  std::string http_listen;  // HOST:PORT for GET /metrics; "" (the default): not served
};

// Thrown by a command whose arguments are wrong: its answer says so (code bad_args), as
// for any exception a command throws (a wrong JSON type, say).
struct BadArgs : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A command: fills *result (any JSON value), or returns false with *error (it could not do
// it: code failed), or throws BadArgs.
using AdminHandler = std::function<bool(const nlohmann::ordered_json& args,
                                        nlohmann::ordered_json* result, std::string* error)>;

class AdminServer {
 public:
  static constexpr int kProtocolVersion = 1;

  explicit AdminServer(AdminOptions options);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // `slow`: runs on the slow-command thread.
  void add(const std::string& name, const std::string& help, AdminHandler handler,
           bool slow = false);
  // Binds the socket (and the HTTP address, if any); false with error.
  bool open(std::string* error);
  // The HTTP address being served, "" if none.
  const std::string& http_address() const { return options_.http_listen; }
  void start();
  // Closes every connection (answers to slow commands still queued are dropped) and removes
  // the socket file. Idempotent.
  void stop();

 private:
  struct Command {
    std::string help;
    AdminHandler handler;
    bool slow = false;
  };
  struct Connection {
    int fd = -1;
    uint64_t id = 0;
    std::string in;
    std::string out;
    int64_t deadline_ns = 0;    // idle: closed after it
    bool waiting_slow = false;  // an answer from the slow thread is due; reads pause
    bool closing = false;       // close once `out` is sent
    bool http = false;          // a Prometheus scrape over TCP: one HTTP request, then close
  };
  struct SlowJob {
    uint64_t connection;
    const Command* command;
    nlohmann::ordered_json args;
  };
  struct SlowDone {
    uint64_t connection;
    std::string line;
  };

  void loop();
  void slow_loop();
  void accept_all();
  void accept_http();
  // Answers c's HTTP request once its head is complete.
  void handle_http(Connection& c);
  // An error for c in its protocol: a JSON line, or an HTTP response; then c closes.
  void refuse(Connection& c, int http_status, const char* code, const std::string& why);
  void add_connection(int fd, bool http);
  // Of connections_, those on the metrics endpoint (`http`) or on the admin socket.
  size_t count_connections(bool http) const;
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  // Handles complete lines in c.in (stops at one that went to the slow thread).
  void handle_lines(Connection& c);
  void answer(Connection& c, const std::string& line);
  void close_connection(uint64_t id);
  void update_events(Connection& c);
  void take_slow_answers();
  std::string run(const std::string& line, Connection& c);

  const AdminOptions options_;
  std::map<std::string, Command> commands_;
  int listen_fd_ = -1;
  int http_fd_ = -1;
  int epoll_fd_ = -1;
  int event_fd_ = -1;  // stop, and slow answers ready
  bool bound_ = false;
  std::atomic<bool> stopping_{false};
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;  // the admin thread's
  std::map<int, uint64_t> by_fd_;
  uint64_t next_id_ = 1;

  sync::Mutex slow_mu_;
  std::deque<SlowJob> slow_jobs_ GUARDED_BY(slow_mu_);
  std::vector<SlowDone> slow_done_ GUARDED_BY(slow_mu_);
  sync::EventCount slow_wake_;  // jobs queued, or stop
  std::thread thread_;
  std::thread slow_thread_;
};

// Renders a JSON value as the line format (no newline inside; one `\n` appended).
std::string admin_line(const nlohmann::ordered_json& value);

}  // namespace ringdb::daemon
