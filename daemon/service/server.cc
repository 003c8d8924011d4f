#include "daemon/service/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "daemon/base/log.h"
#include "daemon/base/unix_socket.h"
#include "shm/bus_guard.h"
#include "shm/doorbell.h"
#include "shm/fd_passing.h"
#include "shm/ring.h"
#include "sync/futex.h"

namespace ringdb::daemon {
namespace {

std::string process_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

void set_text(shm::HelloReply* reply, const std::string& text) {
  snprintf(reply->text, sizeof reply->text, "%s", text.c_str());
}

}  // namespace

Server::Server(const Config& config, const Placement& placement, Engine* engine)
    : config_(config),
      placement_(placement),
      engine_(engine),
      watchdog_(config.watchdog_ms, config.watchdog_abort != 0, placement.worker_cores) {
  limits_.key_size_max = config.key_size_max;
  limits_.value_size_max = config.value_size_max;
}

Server::~Server() {
  shm::BusGuard::set_notify_fd(-1);
  if (pool_) pool_->stop();
  for (int fd : {listen_fd_, epoll_fd_, signal_fd_, event_fd_}) {
    if (fd >= 0) close(fd);
  }
  if (socket_bound_) unlink(config_.socket_path.c_str());
}

bool Server::open(std::string* error) {
  shm::SegmentSizes sizes;
  sizes.ring_count = static_cast<uint32_t>(placement_.ring_worker.size());
  sizes.ring_slots = config_.ring_slots;
  sizes.context_count = config_.inflight_max;
  sizes.context_size = config_.context_size;
  sizes.request_area_size = config_.request_area_bytes;
  sizes.response_area_size = config_.response_area_bytes;
  sizes.event_ring_bytes = config_.event_ring_bytes;
  if (!shm::SegmentGeometry::compute(sizes, &geometry_, error)) return false;
  // A value of the maximum size must fit in each direction.
  const uint64_t largest_put = uint64_t{config_.key_size_max} + config_.value_size_max;
  if (largest_put > std::max<uint64_t>(geometry_.inline_capacity(), sizes.request_area_size) ||
      config_.value_size_max >
          std::max<uint64_t>(geometry_.inline_capacity(), sizes.response_area_size)) {
    *error = "the request and response areas must hold the largest key and value";
    return false;
  }

  board_ = shm::Segment::create(shm::kBoardSize, "board", /*read_only_view=*/true, error);
  if (!board_) return false;
  doorbells_ = shm::Segment::create_sealed(shm::kDoorbellsSize, "ringdb-doorbells", error);
  if (!doorbells_) return false;
  auto* board = reinterpret_cast<shm::BoardHeader*>(board_->base());
  board->magic = shm::kBoardMagic;
  board->version = shm::kProtocolVersion;
  board->worker_count = static_cast<uint32_t>(placement_.worker_cores.size());
  board->ring_count = sizes.ring_count;
  for (size_t r = 0; r < placement_.ring_worker.size(); ++r) {
    board->ring_worker[r] = static_cast<uint16_t>(placement_.ring_worker[r]);
  }
  for (size_t w = 0; w < placement_.worker_cores.size(); ++w) {
    auto* line = reinterpret_cast<shm::BoardWorker*>(board_->base() + shm::kBoardWorkersOffset) + w;
    line->core = static_cast<uint32_t>(placement_.worker_cores[w]);
    line->node = static_cast<uint32_t>(placement_.worker_nodes[w]);
    line->yields_when_idle.store(placement_.workers_share_cpus ? 1 : 0, std::memory_order_relaxed);
  }
  // The most commits a worker can park: one per request context of every session, so a
  // pending set never fills (a full one would be a bug, which the log writer treats as fatal).
  pool_ = std::make_unique<WorkerPool>(
      placement_.worker_cores.size(),
      reinterpret_cast<shm::BoardWorker*>(board_->base() + shm::kBoardWorkersOffset),
      reinterpret_cast<shm::Doorbell*>(doorbells_->base()),
      config_.sessions_max * geometry_.sizes.context_count);

  listen_fd_ = listen_unix(config_.socket_path, SOCK_SEQPACKET, config_.socket_mode, error);
  if (listen_fd_ < 0) return false;
  socket_bound_ = true;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (signal_fd_ < 0 || event_fd_ < 0 || epoll_fd_ < 0) {
    *error = std::string("signalfd/eventfd/epoll: ") + strerror(errno);
    return false;
  }
  shm::BusGuard::set_notify_fd(event_fd_);
  for (int fd : {listen_fd_, signal_fd_, event_fd_}) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return true;
}

uint32_t Server::scan_result_bytes_max() const {
  // Half the response area (a scan must leave room for the session's other answers), but
  // at least what fits inline.
  return std::max<uint32_t>(geometry_.inline_capacity(), geometry_.sizes.response_area_size / 2);
}

void Server::start_workers() {
  pool_->start([this](size_t w) {
    WorkerEnv env;
    env.engine = engine_;
    env.sessions = &table_;
    for (size_t r = 0; r < placement_.ring_worker.size(); ++r) {
      if (placement_.ring_worker[r] == static_cast<int>(w))
        env.rings.push_back(static_cast<uint32_t>(r));
    }
    env.core = placement_.worker_cores[w];
    env.node = placement_.worker_nodes[w];
    env.spin_us = config_.spin_us;
    env.yield_when_idle = placement_.workers_share_cpus;
    env.limits = limits_;
    env.scan_result_bytes_max = scan_result_bytes_max();
    env.log = log_;
    env.watches = watches_;
    env.notify_control = [fd = event_fd_] {
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = write(fd, &one, sizeof one);
    };
    return env;
  });
}

int Server::run(const std::function<void()>& on_serving) {
  start_workers();
  if (on_serving) on_serving();
  log(LogLevel::kInfo,
      "serving on %s: %zu workers, %u rings per session, %u requests in flight "
      "per session, up to %u sessions",
      config_.socket_path.c_str(), pool_->size(), geometry_.sizes.ring_count,
      geometry_.sizes.context_count, config_.sessions_max);
  if (config_.ready_fd >= 0) {
    [[maybe_unused]] const ssize_t n = write(config_.ready_fd, "ready\n", 6);
    close(config_.ready_fd);
  }
  for (;;) {
    epoll_event events[64];
    const int n = epoll_wait(epoll_fd_, events, 64, guard_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal("epoll_wait: %s", strerror(errno));
    }
    guard_tick();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
      } else if (fd == event_fd_) {
        uint64_t count;
        [[maybe_unused]] const ssize_t r = read(event_fd_, &count, sizeof count);
        disconnect_corrupt();
      } else if (fd == signal_fd_) {
        signalfd_siginfo info;
        if (read(signal_fd_, &info, sizeof info) == sizeof info) {
          log(LogLevel::kInfo, "signal %u: shutting down", info.ssi_signo);
          shutdown();
          return 0;
        }
      } else {
        on_session_event(fd);
      }
    }
  }
}

void Server::accept_all() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      // EMFILE and friends: log and let the client see its connection closed.
      log(LogLevel::kWarn, "accept: %s", strerror(errno));
      return;
    }
    connect(fd);
  }
}

void Server::refuse(int fd, shm::HelloStatus status, const std::string& why) {
  shm::HelloReply reply = {};
  reply.magic = shm::kSegmentMagic;
  reply.version = shm::kProtocolVersion;
  reply.status = status;
  set_text(&reply, why);
  [[maybe_unused]] const ssize_t n = send(fd, &reply, sizeof reply, MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

bool Server::admit(int fd, ucred* cred, std::string* who) {
  socklen_t len = sizeof *cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0) {
    refuse(fd, shm::HelloStatus::kHelloInternalError, "cannot read peer credentials");
    return false;
  }
  if (!peer_allowed(fd, *cred, config_.allow_users, config_.allow_groups, who)) {
    log_refusal(*who + ": not in allow-users or allow-groups");
    refuse(fd, shm::HelloStatus::kHelloPermissionDenied,
           *who + " is not allowed to connect (ringdbd --allow-users / --allow-groups)");
    return false;
  }
  if (table_.size() >= config_.sessions_max) {
    log_refusal(*who + ": " + std::to_string(config_.sessions_max) +
                " sessions connected (sessions-max)");
    refuse(fd, shm::HelloStatus::kHelloTooManySessions,
           "the daemon serves its maximum of " + std::to_string(config_.sessions_max) +
               " sessions (ringdbd --sessions-max)");
    return false;
  }
  // Per user, but for the daemon's own (its owner, who could stop it anyway).
  uint64_t version;
  uint32_t of_user = 0;
  for (const auto& s : table_.snapshot(&version))
    of_user += s->peer().uid == cred->uid ? 1u : 0u;
  if (cred->uid != geteuid() && of_user >= config_.sessions_per_user()) {
    log_refusal(*who + ": its user has " + std::to_string(of_user) +
                " sessions connected (sessions-per-user-max)");
    refuse(fd, shm::HelloStatus::kHelloTooManySessions,
           "uid " + std::to_string(cred->uid) + " already has " + std::to_string(of_user) +
               " sessions, the most one user may hold (ringdbd --sessions-per-user-max)");
    return false;
  }
  return true;
}

void Server::log_refusal(const std::string& why) {
  uint64_t suppressed = 0;
  if (!refusals_logged_.allow(sync::coarse_now_ns(), &suppressed)) return;
  if (suppressed == 0) {
    log(LogLevel::kWarn, "refused %s", why.c_str());
  } else {
    log(LogLevel::kWarn, "refused %s (and %lu more refusals since the last such line)", why.c_str(),
        static_cast<unsigned long>(suppressed));
  }
}

std::unique_ptr<shm::Segment> Server::make_session_segment(uint64_t id, std::string* error) {
  auto segment = shm::Segment::create(geometry_.segment_size, "session", false, error);
  // The fixed part (header, rings, contexts) gets its memory now: daemon writes there must
  // not fault on a full tmpfs. Data areas are touched lazily (the SIGBUS guard covers them).
  if (!segment || !segment->reserve(geometry_.request_area_offset, error)) return nullptr;
  std::byte* base = segment->base();
  shm::SessionTerms terms;
  terms.session_id = id;
  terms.key_size_max = config_.key_size_max;
  terms.value_size_max = config_.value_size_max;
  terms.scan_result_bytes_max = scan_result_bytes_max();
  terms.transactions_max = config_.transactions_max;
  geometry_.write_header(terms, reinterpret_cast<shm::SegmentHeader*>(base));
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r) {
    void* ring = base + geometry_.rings_offset + uint64_t{r} * geometry_.ring_stride;
    // Before the first touch: the ring's pages come from its worker's node.
    prefer_node(ring, geometry_.ring_stride,
                placement_.worker_nodes[static_cast<size_t>(placement_.ring_worker[r])]);
    shm::RingConsumer::format(ring, geometry_.sizes.ring_slots);
  }
  return segment;
}

void Server::connect(int fd) {
  ucred cred = {};
  std::string who;
  if (!admit(fd, &cred, &who)) return;
  std::string error;
  auto segment = make_session_segment(next_session_id_, &error);
  if (!segment) {
    log(LogLevel::kError, "session for %s: %s", who.c_str(), error.c_str());
    refuse(fd, shm::HelloStatus::kHelloInternalError, "cannot create the session segment");
    return;
  }
  const uint64_t id = next_session_id_++;
  shm::HelloReply reply = {};
  reply.magic = shm::kSegmentMagic;
  reply.version = shm::kProtocolVersion;
  reply.status = shm::HelloStatus::kHelloOk;
  reply.session_id = id;
  reply.segment_size = geometry_.segment_size;
  set_text(&reply, RINGDB_VERSION);
  const int fds[3] = {segment->fd(), board_->read_only_fd(), doorbells_->fd()};
  // The session joins the table before the client learns of it: a request the client
  // submits right after the handshake must find a worker that serves its rings (a worker
  // woken by the doorbell refreshes its view of the table before it polls).
  PeerInfo peer{cred.pid, cred.uid, cred.gid, process_name(cred.pid)};
  auto session = std::make_shared<ClientSession>(id, geometry_, std::move(segment), fd,
                                                 std::move(peer), config_.transactions_max);
  table_.add(session);
  if (shm::send_with_fds(fd, &reply, sizeof reply, fds, MSG_NOSIGNAL | MSG_DONTWAIT) !=
      static_cast<ssize_t>(sizeof reply)) {
    log(LogLevel::kWarn, "session for %s: handshake failed: %s", who.c_str(), strerror(errno));
    detach_from_workers(*session);
    return;  // the last reference: closes the socket and frees the segment
  }
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  by_fd_[fd] = session;
  log(LogLevel::kInfo, "session %lu: connected: %s, %s; sessions connected: %zu",
      static_cast<unsigned long>(id), who.c_str(), session->peer().process_name.c_str(),
      by_fd_.size());
}

void Server::on_session_event(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  // Clients send nothing after the handshake; anything read is discarded. EOF or an error
  // means the client closed the session or died.
  char buf[256];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    disconnect(it->second, n == 0 ? "closed by the client" : strerror(errno));
    return;
  }
}

void Server::disconnect_corrupt() {
  std::vector<std::shared_ptr<ClientSession>> corrupt;
  for (auto& [fd, s] : by_fd_) {
    // A poisoned segment was truncated under us: the SIGBUS guard put private memory over
    // it (and wrote the event descriptor that brought us here).
    if (s->poisoned()) s->mark_corrupt("the segment was truncated under the daemon (SIGBUS)");
    if (s->corrupt()) corrupt.push_back(s);
  }
  for (auto& s : corrupt)
    disconnect(s, "disconnected: " + s->corrupt_reason());
}

void Server::detach_from_workers(ClientSession& session) {
  const uint64_t version = table_.remove(&session);
  if (!pool_->running()) return;  // stopped: sessions are detached directly
  pool_->wake_all();
  // A worker that has seen `version` has dropped the session's rings; it refreshes at the
  // top of its loop, never in the middle of a request (worker.cc).
  for (;;) {
    const uint32_t refreshes = table_.refreshes.load(std::memory_order_acquire);
    if (pool_->all_seen(version)) return;
    sync::futex_wait(&table_.refreshes, refreshes, sync::Sharing::kProcessPrivate);
  }
}

void Server::disconnect(std::shared_ptr<ClientSession> session, const std::string& reason) {
  detach_from_workers(*session);
  if (watches_ != nullptr) watches_->drop(*session);  // (before its segment goes)
  auto* header = reinterpret_cast<shm::SegmentHeader*>(session->base());
  header->closed.store(1, std::memory_order_release);
  const uint32_t open = session->open_transactions();
  session->abort_transactions(*engine_);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, session->socket_fd(), nullptr);
  by_fd_.erase(session->socket_fd());
  log(LogLevel::kInfo,
      "session %lu: ended (%s); %u open transactions aborted; sessions connected: %zu",
      static_cast<unsigned long>(session->id()), reason.c_str(), open, by_fd_.size());
  // The last reference: closes the socket (the client sees POLLHUP) and frees the segment.
}

void Server::notify_control() const {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(event_fd_, &one, sizeof one);
}

std::vector<wal::CompletionSink*> Server::completion_sinks() const {
  return pool_->completion_sinks();
}

std::vector<const WorkerStats*> Server::worker_stats() const {
  return pool_->stats();
}

int Server::guard_timeout_ms() const {
  // The guards' tick: a second, or less for short limits (tests); none if both are off.
  uint64_t tick = 1000;
  if (config_.transaction_age_max_ms > 0)
    tick = std::min<uint64_t>(tick, std::max<uint64_t>(10, config_.transaction_age_max_ms / 4));
  if (config_.watchdog_ms > 0)
    tick = std::min<uint64_t>(tick, std::max<uint64_t>(10, config_.watchdog_ms / 4));
  if (config_.transaction_age_max_ms == 0 && config_.watchdog_ms == 0 && !alive_hook_) return -1;
  return static_cast<int>(tick);
}

void Server::guard_tick() {
  const int64_t now = sync::now_ns();
  if (now < next_guard_ns_ || guard_timeout_ms() < 0) return;
  next_guard_ns_ = now + int64_t{guard_timeout_ms()} * 1'000'000 - 1'000'000;
  if (config_.transaction_age_max_ms > 0) {
    const int64_t cutoff =
        sync::coarse_now_ns() - static_cast<int64_t>(config_.transaction_age_max_ms) * 1'000'000;
    for (auto& [fd, s] : by_fd_) {
      if (const uint32_t n = s->expire_transactions(*engine_, cutoff); n > 0) {
        log(LogLevel::kWarn,
            "session %lu (pid %d, %s): %u transactions open longer than %lu ms aborted "
            "(TRX_TOO_OLD; --transaction-age-max-ms)",
            static_cast<unsigned long>(s->id()), static_cast<int>(s->peer().pid),
            s->peer().process_name.c_str(), n,
            static_cast<unsigned long>(config_.transaction_age_max_ms));
      }
    }
  }
  if (watchdog_.check(*pool_, now) && alive_hook_) alive_hook_();
}

std::vector<Server::SessionRow> Server::sessions() const {
  uint64_t version;
  std::vector<SessionRow> rows;
  for (const auto& s : table_.snapshot(&version))
    rows.push_back(SessionRow{s->id(), s->peer(), s->activity()});
  return rows;
}

std::vector<Server::ContentionRow> Server::contention() const {
  std::vector<ContentionRow> rows;
  const std::vector<Contention> holders = engine_->contention();
  if (holders.empty()) return rows;
  uint64_t version;
  const auto sessions = table_.snapshot(&version);
  for (const Contention& c : holders) {
    for (const auto& s : sessions) {
      int64_t begun_ns;
      if (s->holds_transaction(c.holder, &begun_ns)) {
        rows.push_back(ContentionRow{s->id(), s->peer(), begun_ns, c});
        break;
      }
    }
  }
  return rows;
}

bool Server::kill_session(uint64_t id, const std::string& reason) {
  uint64_t version;
  for (const auto& s : table_.snapshot(&version)) {
    if (s->id() != id) continue;
    s->mark_corrupt(reason.c_str());
    notify_control();
    return true;
  }
  return false;
}

bool Server::stall_worker_for_test(size_t w, int64_t ms) {
  return pool_->stall_for_test(w, ms);
}

std::vector<uint32_t> Server::pending_depths() const {
  return pool_->pending_depths();
}

uint64_t Server::oldest_unapplied_lsn() const {
  return pool_->oldest_unapplied_lsn();
}

void Server::shutdown() {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  close(listen_fd_);
  listen_fd_ = -1;
  unlink(config_.socket_path.c_str());
  socket_bound_ = false;
  reinterpret_cast<shm::BoardHeader*>(board_->base())
      ->shutting_down.store(1, std::memory_order_release);
  pool_->stop();  // no worker runs now: sessions are detached directly
  std::vector<std::shared_ptr<ClientSession>> sessions;
  for (auto& [fd, s] : by_fd_)
    sessions.push_back(s);
  for (auto& s : sessions)
    disconnect(s, "daemon shutting down");
  log(LogLevel::kInfo, "stopped");
}

}  // namespace ringdb::daemon
