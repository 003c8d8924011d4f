// Stand-ins for ringdbd in libringdb's unit tests, so that the client's paths can be driven
// without the real daemon:
//   - HelloServer: a session socket that answers one connection with whatever hello the test
//     writes (refusals, wrong magic, short messages, no descriptors...).
//   - FakeDaemon: speaks the whole protocol for one session: the handshake with a real
//     segment, board and doorbells; one worker thread that pops the rings, decodes requests
//     with shm/request.h, keeps data in a std::map (transactions are handles, without
//     isolation), answers inline or through the response area, and sleeps and wakes by the
//     doorbell protocol. A test can stop it consuming, slow its answers, detach the session
//     or hang up, and read counters of what happened.
//
// Thread safety: the public methods are for the test's thread; the daemon's thread is
// internal. Counters are atomics and may be read at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ringdb/client.h"
#include "shm/extent_allocator.h"
#include "shm/layout.h"
#include "shm/request.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "shm/wire.h"

namespace ringdb::test {

// A private directory for a socket, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A listening session socket; serve() answers the next connection on a thread of its own.
class HelloServer {
 public:
  HelloServer();
  ~HelloServer();
  HelloServer(const HelloServer&) = delete;
  HelloServer& operator=(const HelloServer&) = delete;

  const std::string& socket_path() const { return path_; }
  // Accepts one connection and calls reply(fd) with it; the connection is closed when the
  // server is destroyed (or by reply itself).
  void serve(std::function<void(int fd)> reply);
  // A well-formed refusal or acceptance header: magic, version, status, `error`.
  static void send_hello(int fd, const shm::HelloReply& reply, const int* fds = nullptr,
                         int fd_count = 0);
  static shm::HelloReply hello(shm::HelloStatus status, const char* error = "");

 private:
  TempDir dir_;
  std::string path_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  std::thread thread_;
};

struct FakeOptions {
  shm::SegmentSizes sizes;
  std::chrono::microseconds answer_delay{0};  // before each answer: makes clients sleep
  uint32_t idle_rounds_before_sleep = 1000;   // the worker's spin before it sleeps
};

class FakeDaemon {
 public:
  explicit FakeDaemon(FakeOptions options = {});
  ~FakeDaemon();
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  const std::string& socket_path() const { return path_; }
  const shm::SegmentGeometry& geometry() const { return geometry_; }
  // Connects a client to it (the fake serves one session).
  std::unique_ptr<Client> connect();

  // After pause() returns the worker pops nothing until resume().
  void pause();
  void resume();
  // The daemon's side of a detach: board.shutting_down (if asked), segment closed, socket
  // closed; requests in the rings stay unanswered.
  void detach(bool shutting_down);
  void set_shutting_down();
  // The socket closes as if the daemon died; the segment says nothing.
  void hang_up();

  bool worker_asleep() const;
  uint64_t requests() const { return requests_.load(); }
  uint64_t invalid_requests() const { return invalid_requests_.load(); }
  uint64_t waiter_wakes() const { return waiter_wakes_.load(); }  // answers that woke a client
  uint64_t sleeps() const { return sleeps_.load(); }
  // Sleeps that ended by the worker's safety timeout with work queued: a lost wake-up.
  uint64_t lost_wakeups() const { return lost_wakeups_.load(); }
  uint64_t last_txn() const { return last_txn_.load(); }  // the txn field of the last request

 private:
  struct Answer;
  void serve();
  bool open_session(int fd);
  void run_worker();
  bool poll_rings();
  bool any_ready() const;
  void sleep_on_doorbell();
  void wait_while_paused();
  void execute(uint32_t index);
  shm::WireStatus dispatch(const shm::Request& request, Answer* answer);
  void post(uint32_t index, const Answer& answer);
  bool place_result(uint32_t index, uint32_t size, uint32_t* offset);
  shm::ContextHeader* context(uint32_t index) const;
  void ring_bell();

  const FakeOptions options_;
  TempDir dir_;
  std::string path_;
  int listen_fd_ = -1;
  std::atomic<int> session_fd_{-1};
  shm::SegmentGeometry geometry_;
  std::unique_ptr<shm::Segment> board_;
  std::unique_ptr<shm::Segment> doorbells_;
  std::unique_ptr<shm::Segment> segment_;
  std::vector<shm::RingConsumer> rings_;
  std::thread thread_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> pause_requested_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;  // the worker acknowledged a pause (under mu_)

  // The worker's own state.
  std::map<std::string, std::string> data_;
  std::set<uint64_t> open_txns_;
  uint64_t next_txn_ = 1;
  uint64_t next_csn_ = 1;
  std::unique_ptr<shm::ExtentAllocator> response_blocks_;
  std::vector<std::pair<uint32_t, uint32_t>> result_block_;  // by context: offset, size
  std::vector<char> scratch_;

  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> invalid_requests_{0};
  std::atomic<uint64_t> waiter_wakes_{0};
  std::atomic<uint64_t> sleeps_{0};
  std::atomic<uint64_t> lost_wakeups_{0};
  std::atomic<uint64_t> last_txn_{0};
};

}  // namespace ringdb::test
