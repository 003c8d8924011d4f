#include "daemon/admin/admin_server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/base/log.h"
#include "daemon/base/tcp_listen.h"
#include "daemon/base/unix_socket.h"
#include "sync/latch_stats.h"
#include "sync/thread_name.h"

namespace ringdb::daemon {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kDepthMax = 32;  // nesting a request may have (a parser-exhaustion guard)

// An error answer. `code` says what kind, for programs (docs/PROTOCOL.md): unknown_command,
// bad_request (not a request of this protocol), bad_args, busy, refused, idle, failed (the
// command ran and could not do it).
std::string error_line(const std::string& why, const char* code) {
  return admin_line(
      json{{"v", AdminServer::kProtocolVersion}, {"ok", false}, {"error", why}, {"code", code}});
}

// Whether `text` nests deeper than kDepthMax (brackets outside strings).
bool too_deep(const std::string& text) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kDepthMax) return true;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

const char* http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// A whole HTTP/1.1 response; the connection closes after it.
std::string http_response(int status, const std::string& content_type, const std::string& body,
                          bool head_only = false) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\n";
  out += "Content-Type: " + content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

std::string http_error(int status, const std::string& why) {
  return http_response(status, "text/plain; charset=utf-8", why + "\n");
}

}  // namespace

std::string admin_line(const nlohmann::ordered_json& value) {
  // Invalid UTF-8 in a value (a key from a client, say) is replaced, never an exception.
  std::string line = value.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

AdminServer::AdminServer(AdminOptions options) : options_(std::move(options)) {
  add("help", "the commands and what they do", [this](const json&, json* result, std::string*) {
    *result = json::object();
    for (const auto& [name, command] : commands_)
      (*result)[name] = command.help;
    return true;
  });
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::add(const std::string& name, const std::string& help, AdminHandler handler,
                      bool slow) {
  commands_[name] = Command{help, std::move(handler), slow};
}

bool AdminServer::open(std::string* error) {
  listen_fd_ = listen_unix(options_.path, SOCK_STREAM, options_.mode, error);
  if (listen_fd_ < 0) return false;
  bound_ = true;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0) {
    *error = std::string("admin socket: epoll/eventfd: ") + strerror(errno);
    return false;
  }
  if (!options_.http_listen.empty()) {
    http_fd_ = listen_tcp(options_.http_listen, error);
    if (http_fd_ < 0) {
      *error = "metrics endpoint (--metrics-listen): " + *error;
      return false;
    }
  }
  for (int fd : {listen_fd_, event_fd_, http_fd_}) {
    if (fd < 0) continue;
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return true;
}

void AdminServer::start() {
  thread_ = std::thread([this] { loop(); });
  slow_thread_ = std::thread([this] { slow_loop(); });
}

void AdminServer::stop() {
  if (stopping_.exchange(true)) return;
  if (event_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(event_fd_, &one, sizeof one);
  }
  slow_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (slow_thread_.joinable()) slow_thread_.join();
  for (auto& [id, c] : connections_)
    close(c->fd);
  connections_.clear();
  by_fd_.clear();
  for (int* fd : {&listen_fd_, &http_fd_, &epoll_fd_, &event_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (bound_) unlink(options_.path.c_str());
  bound_ = false;
}

void AdminServer::loop() {
  sync::name_this_thread("ringdb-admin");
  epoll_event events[32];
  while (!stopping_.load(std::memory_order_acquire)) {
    // Wake for the nearest idle deadline.
    int64_t next = INT64_MAX;
    for (const auto& [id, c] : connections_) {
      if (!c->waiting_slow) next = std::min(next, c->deadline_ns);
    }
    const int64_t now = sync::now_ns();
    const int timeout_ms =
        next == INT64_MAX ? -1
                          : static_cast<int>(std::max<int64_t>(0, (next - now) / 1'000'000 + 1));
    const int n = epoll_wait(epoll_fd_, events, 32, timeout_ms);
    if (n < 0 && errno != EINTR) {
      log(LogLevel::kError, "admin socket: epoll_wait: %s; admin socket closed", strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      if (fd == http_fd_) {
        accept_http();
        continue;
      }
      if (fd == event_fd_) {
        uint64_t v;
        [[maybe_unused]] const ssize_t r = read(event_fd_, &v, sizeof v);
        take_slow_answers();
        continue;
      }
      auto it = by_fd_.find(fd);
      if (it == by_fd_.end()) continue;
      const uint64_t id = it->second;
      Connection& c = *connections_[id];
      if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0 && (events[i].events & EPOLLIN) == 0) {
        close_connection(id);
        continue;
      }
      if ((events[i].events & EPOLLOUT) != 0) on_writable(c);
      if (connections_.count(id) != 0 && (events[i].events & EPOLLIN) != 0) on_readable(c);
    }
    // Idle connections: told, then closed.
    const int64_t after = sync::now_ns();
    std::vector<uint64_t> idle;
    for (const auto& [id, c] : connections_) {
      if (!c->waiting_slow && c->deadline_ns <= after) idle.push_back(id);
    }
    for (uint64_t id : idle) {
      Connection& c = *connections_[id];
      if (c.closing) {  // told already, and still not reading
        close_connection(id);
        continue;
      }
      c.deadline_ns = after + std::chrono::nanoseconds(options_.idle_timeout).count();
      refuse(c, 408, "idle",
             "idle for " + std::to_string(options_.idle_timeout.count()) +
                 " ms without a complete request: closing");
    }
  }
}

void AdminServer::accept_all() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR)
        log(LogLevel::kWarn, "admin socket: accept: %s", strerror(errno));
      return;
    }
    ucred cred = {};
    socklen_t len = sizeof cred;
    std::string who;
    std::string refusal;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      refusal = "cannot read peer credentials";
    } else if (!peer_allowed(fd, cred, options_.users, options_.groups, &who)) {
      log(LogLevel::kWarn, "admin socket: refused %s: not in admin-users or admin-groups",
          who.c_str());
      refusal = who +
                " is not allowed to use the admin socket (ringdbd --admin-users / "
                "--admin-groups)";
    } else if (count_connections(false) >= options_.connections_max) {
      log(LogLevel::kWarn, "admin socket: refused %s: %u admin connections open", who.c_str(),
          options_.connections_max);
      refusal = "too many admin connections (" + std::to_string(options_.connections_max) + ")";
    }
    if (!refusal.empty()) {
      const std::string line = error_line(refusal, "refused");
      [[maybe_unused]] const ssize_t n = send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      close(fd);
      continue;
    }
    add_connection(fd, false);
  }
}

void AdminServer::accept_http() {
  for (;;) {
    const int fd = accept4(http_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR)
        log(LogLevel::kWarn, "metrics endpoint: accept: %s", strerror(errno));
      return;
    }
    if (count_connections(true) >= options_.http_connections_max) {
      const std::string busy =
          http_error(503, "too many metrics connections (" +
                              std::to_string(options_.http_connections_max) + "); try again");
      [[maybe_unused]] const ssize_t n = send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
      close(fd);
      continue;
    }
    add_connection(fd, true);
  }
}

void AdminServer::add_connection(int fd, bool http) {
  auto c = std::make_unique<Connection>();
  c->fd = fd;
  c->id = next_id_++;
  c->http = http;
  c->deadline_ns = sync::now_ns() + std::chrono::nanoseconds(options_.idle_timeout).count();
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  by_fd_[fd] = c->id;
  connections_[c->id] = std::move(c);
}

size_t AdminServer::count_connections(bool http) const {
  size_t n = 0;
  for (const auto& [id, c] : connections_)
    n += c->http == http ? 1u : 0u;
  return n;
}

void AdminServer::refuse(Connection& c, int http_status, const char* code, const std::string& why) {
  c.closing = true;
  c.in.clear();
  answer(c, c.http ? http_error(http_status, why) : error_line(why, code));
}

void AdminServer::handle_http(Connection& c) {
  if (c.closing) return;
  size_t head_end = c.in.find("\r\n\r\n");
  if (head_end == std::string::npos) head_end = c.in.find("\n\n");
  if (head_end == std::string::npos) return;
  // The request line: METHOD TARGET HTTP/1.x. Headers are not needed.
  const std::string line = c.in.substr(0, c.in.find_first_of("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.compare(sp2 + 1, 7, "HTTP/1.") != 0) {
    refuse(c, 400, "bad_request", "not an HTTP/1 request");
    return;
  }
  const std::string method = line.substr(0, sp1);
  const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method != "GET" && method != "HEAD") {
    refuse(c, 405, "bad_request", "only GET and HEAD");
    return;
  }
  if (target.substr(0, target.find('?')) != "/metrics") {
    refuse(c, 404, "bad_request", "ringdbd serves its metrics at /metrics");
    return;
  }
  json result;
  std::string error;
  const auto metrics = commands_.find("metrics");
  if (metrics == commands_.end() || !metrics->second.handler(json::object(), &result, &error)) {
    refuse(c, 500, "failed", "no metrics: " + error);
    return;
  }
  c.closing = true;
  c.in.clear();
  answer(c, http_response(200, result.value("content_type", std::string("text/plain")),
                          result.value("text", std::string()), method == "HEAD"));
}

void AdminServer::on_readable(Connection& c) {
  const uint64_t id = c.id;
  char buf[16 << 10];
  for (;;) {
    if (c.waiting_slow || c.closing) break;  // paused: the answers keep request order
    const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n == 0) {
      close_connection(id);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      close_connection(id);
      return;
    }
    c.in.append(buf, static_cast<size_t>(n));
    if (c.http) {
      handle_http(c);
    } else {
      handle_lines(c);
    }
    if (connections_.count(id) == 0) return;
    if (c.in.size() > options_.request_bytes_max) {
      refuse(
          c, 431, "bad_request",
          "request longer than " + std::to_string(options_.request_bytes_max) + " bytes: closing");
      return;
    }
  }
  update_events(c);  // reads pause while a slow answer is due
}

void AdminServer::handle_lines(Connection& c) {
  const uint64_t id = c.id;
  for (;;) {
    if (c.waiting_slow || c.closing) return;
    const size_t end = c.in.find('\n');
    if (end == std::string::npos) return;
    std::string line = c.in.substr(0, end);
    c.in.erase(0, end + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    c.deadline_ns = sync::now_ns() + std::chrono::nanoseconds(options_.idle_timeout).count();
    const std::string reply = run(line, c);
    if (!reply.empty()) answer(c, reply);
    if (connections_.count(id) == 0) return;  // answer() may have closed it
  }
}

std::string AdminServer::run(const std::string& line, Connection& c) {
  if (line.size() > options_.request_bytes_max)
    return error_line("request too long", "bad_request");
  if (too_deep(line)) return error_line("request nested too deep", "bad_request");
  const json request = json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    return error_line("not a JSON object: send {\"v\":1,\"cmd\":\"help\"}", "bad_request");
  }
  const auto v = request.find("v");
  if (v == request.end() || !v->is_number_integer() || v->get<int64_t>() != kProtocolVersion) {
    return error_line("unsupported or missing protocol version \"v\" (this daemon speaks " +
                          std::to_string(kProtocolVersion) + ")",
                      "bad_request");
  }
  const auto cmd = request.find("cmd");
  if (cmd == request.end() || !cmd->is_string())
    return error_line("missing \"cmd\"", "bad_request");
  const auto it = commands_.find(cmd->get<std::string>());
  if (it == commands_.end()) {
    return error_line("unknown command '" + cmd->get<std::string>() + "' (see help)",
                      "unknown_command");
  }
  json args = json::object();
  if (const auto a = request.find("args"); a != request.end()) {
    if (!a->is_object()) return error_line("\"args\" must be an object", "bad_request");
    args = *a;
  }
  if (it->second.slow) {
    sync::MutexGuard guard(slow_mu_);
    if (slow_jobs_.size() >= options_.slow_queue_max) {
      return error_line("busy: " + std::to_string(options_.slow_queue_max) +
                            " slow commands queued; try again later",
                        "busy");
    }
    slow_jobs_.push_back(SlowJob{c.id, &it->second, std::move(args)});
    c.waiting_slow = true;
    slow_wake_.notify_one();
    return {};
  }
  json result;
  std::string error;
  try {
    if (!it->second.handler(args, &result, &error)) return error_line(error, "failed");
  } catch (const BadArgs& e) {
    return error_line(e.what(), "bad_args");
  } catch (const std::exception& e) {  // a bad argument's type, say: an error, not a crash
    return error_line(std::string("bad arguments: ") + e.what(), "bad_args");
  }
  return admin_line(json{{"v", kProtocolVersion}, {"ok", true}, {"result", std::move(result)}});
}

void AdminServer::slow_loop() {
  sync::name_this_thread("ringdb-admin2");
  while (!stopping_.load(std::memory_order_acquire)) {
    const sync::EventCount::Key key = slow_wake_.prepare_wait();
    SlowJob job{};
    bool have = false;
    {
      sync::MutexGuard guard(slow_mu_);
      if (!slow_jobs_.empty()) {
        job = std::move(slow_jobs_.front());
        slow_jobs_.pop_front();
        have = true;
      }
    }
    if (!have) {
      if (stopping_.load(std::memory_order_acquire)) {
        slow_wake_.cancel_wait();
      } else {
        slow_wake_.wait(key);
      }
      continue;
    }
    slow_wake_.cancel_wait();
    json result;
    std::string error;
    std::string line;
    try {
      line = job.command->handler(job.args, &result, &error)
                 ? admin_line(json{{"v", kProtocolVersion}, {"ok", true}, {"result", result}})
                 : error_line(error, "failed");
    } catch (const BadArgs& e) {
      line = error_line(e.what(), "bad_args");
    } catch (const std::exception& e) {
      line = error_line(std::string("bad arguments: ") + e.what(), "bad_args");
    }
    {
      sync::MutexGuard guard(slow_mu_);
      slow_done_.push_back(SlowDone{job.connection, std::move(line)});
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(event_fd_, &one, sizeof one);
  }
}

void AdminServer::take_slow_answers() {
  std::vector<SlowDone> done;
  {
    sync::MutexGuard guard(slow_mu_);
    done.swap(slow_done_);
  }
  for (SlowDone& d : done) {
    auto it = connections_.find(d.connection);
    if (it == connections_.end()) continue;  // it went away meanwhile
    Connection& c = *it->second;
    c.waiting_slow = false;
    c.deadline_ns = sync::now_ns() + std::chrono::nanoseconds(options_.idle_timeout).count();
    answer(c, d.line);
    if (connections_.count(d.connection) != 0) {
      handle_lines(c);  // requests that arrived meanwhile
      if (connections_.count(d.connection) != 0) update_events(c);
    }
  }
}

void AdminServer::answer(Connection& c, const std::string& line) {
  if (c.out.size() + line.size() > options_.response_bytes_max) {
    log(LogLevel::kWarn, "admin socket: a client does not read its answers; closing it");
    close_connection(c.id);
    return;
  }
  c.out.append(line);
  on_writable(c);
}

void AdminServer::on_writable(Connection& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      close_connection(c.id);
      return;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (c.out.empty() && c.closing) {
    close_connection(c.id);
    return;
  }
  update_events(c);
}

void AdminServer::update_events(Connection& c) {
  epoll_event ev = {};
  ev.events = (c.waiting_slow || c.closing ? 0u : static_cast<uint32_t>(EPOLLIN)) |
              (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  ev.data.fd = c.fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void AdminServer::close_connection(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
  close(it->second->fd);
  by_fd_.erase(it->second->fd);
  connections_.erase(it);
}

}  // namespace ringdb::daemon
