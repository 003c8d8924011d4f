// Server: ringdbd's control thread. It owns the session socket, the board and doorbells,
// the worker pool (worker_pool.h), and the life cycle of every session:
//   connect: check SO_PEERCRED against the allowed users and groups, create the session's
//     segment (Boost.Interprocess), place each ring on its worker's NUMA node, send the
//     three descriptors (SCM_RIGHTS), add the session to the table;
//   disconnect (the client closed the socket or died, or a worker found the session
//     corrupt): take it out of the table, wait until every worker has detached from it,
//     mark it closed, abort its open transactions, free the segment;
//   shutdown (SIGTERM/SIGINT): stop accepting, let workers answer what is queued with
//     SHUTTING_DOWN, detach every session, return 0.
// The control thread never waits on a client: sockets are non-blocking and a client's
// socket is only read to notice that it closed.
// Once a tick it runs the guards: transactions open longer than --transaction-age-max-ms
// are aborted, and the watchdog (watchdog.h) looks at the workers.
//
// Thread safety: run() on one thread; the accessors below say which threads may call them.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/base/log_limiter.h"
#include "daemon/engine/engine.h"
#include "daemon/service/client_session.h"
#include "daemon/service/config.h"
#include "daemon/service/placement.h"
#include "daemon/service/session_table.h"
#include "daemon/service/watch_hub.h"
#include "daemon/service/watchdog.h"
#include "daemon/service/worker_pool.h"
#include "daemon/wal/writer.h"
#include "shm/layout.h"
#include "shm/segment.h"

namespace ringdb::daemon {

class Server {
 public:
  Server(const Config& config, const Placement& placement, Engine* engine);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket and creates the shared objects. false with *error if it cannot.
  // REQUIRES: the socket's folder exists (ringdbd's main makes and checks it).
  bool open(std::string* error);
  // Serves until SIGTERM or SIGINT (which the caller has blocked in every thread); returns
  // the exit code.
  // `on_serving` runs once the workers are started (before any session is accepted).
  int run(const std::function<void()>& on_serving = {});

  // Commits are logged through `log` (set before run(); nullptr: memory only).
  void set_log(wal::LogWriter* log) { log_ = log; }
  // Watches are served by `watches` (set before run(); nullptr: none).
  void set_watches(WatchHub* watches) { watches_ = watches; }
  // Called on the control thread at each guard tick (at least once a second) while no worker
  // is stalled (the watchdog's verdict): a supervisor's keep-alive, e.g. systemd's
  // WATCHDOG=1, which then stops when a worker hangs. Set before run().
  void set_alive_hook(std::function<void()> hook) { alive_hook_ = std::move(hook); }
  // Makes the control thread look for sessions marked corrupt. Any thread.
  void notify_control() const;
  // From open() on: the workers' pending sets, indexed by worker, for the log writer to post
  // completions into (they live as long as the server).
  std::vector<wal::CompletionSink*> completion_sinks() const;
  // The lowest LSN of a durable log record whose commit no worker has applied yet (UINT64_MAX
  // if none). From `on_serving` on (see run()), any thread.
  uint64_t oldest_unapplied_lsn() const;

  // For the admin socket. From `on_serving` on, any thread.
  size_t session_count() const { return table_.size(); }
  const Placement& placement() const { return placement_; }
  // Per worker: requests served, sleeps, parked commits.
  std::vector<const WorkerStats*> worker_stats() const;
  std::vector<uint32_t> pending_depths() const;

  struct SessionRow {
    uint64_t id;
    PeerInfo peer;
    ClientSession::Activity activity;
  };
  std::vector<SessionRow> sessions() const;
  // Holders of contended keys (Engine::contention()) that are still open in a session and
  // idle (no request of theirs executing), most recently contended first.
  struct ContentionRow {
    uint64_t session;
    PeerInfo peer;
    int64_t transaction_begun_ns;  // coarse monotonic clock
    Contention contention;
  };
  std::vector<ContentionRow> contention() const;
  // Ends session `id` as the control thread does for a corrupt one (its transactions aborted,
  // its segment freed); false if there is no such session. Any thread; returns at once.
  bool kill_session(uint64_t id, const std::string& reason);
  // Test hook (--test-hooks): worker `w` stalls, awake, for `ms`. false if no such worker.
  bool stall_worker_for_test(size_t w, int64_t ms);

 private:
  uint32_t scan_result_bytes_max() const;
  void start_workers();
  void accept_all();
  void connect(int fd);
  // connect()'s steps: the peer's credentials, the allow lists and the session limit (a
  // refusal is sent and logged here); a new session's segment, its header and rings written.
  bool admit(int fd, ucred* cred, std::string* who);
  std::unique_ptr<shm::Segment> make_session_segment(uint64_t id, std::string* error);
  void refuse(int fd, shm::HelloStatus status, const std::string& why);
  // A refused connection in the log: at most one line a second (a client can make them at
  // will), the next one counting those left out.
  void log_refusal(const std::string& why);
  void on_session_event(int fd);
  void disconnect_corrupt();
  void disconnect(std::shared_ptr<ClientSession> session, const std::string& reason);
  void detach_from_workers(ClientSession& session);
  void shutdown();
  // Once a tick: the transaction-age guard and the worker watchdog.
  void guard_tick();
  int guard_timeout_ms() const;

  const Config& config_;
  const Placement placement_;
  Engine* const engine_;
  LogLimiter refusals_logged_{1'000'000'000};  // the control thread's: a line a second
  wal::LogWriter* log_ = nullptr;
  WatchHub* watches_ = nullptr;
  Watchdog watchdog_;
  int64_t next_guard_ns_ = 0;
  std::function<void()> alive_hook_;
  shm::SegmentGeometry geometry_;
  shm::RequestLimits limits_;
  std::unique_ptr<shm::Segment> board_;
  std::unique_ptr<shm::Segment> doorbells_;
  SessionTable table_;
  std::map<int, std::shared_ptr<ClientSession>> by_fd_;  // the control thread's index
  std::unique_ptr<WorkerPool> pool_;  // from open() on; the workers run from run() on
  uint64_t next_session_id_ = 1;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int event_fd_ = -1;  // workers: "a session needs attention"
  bool socket_bound_ = false;
};

}  // namespace ringdb::daemon
