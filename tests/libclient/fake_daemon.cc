#include "tests/libclient/fake_daemon.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "shm/answer.h"
#include "shm/fd_passing.h"
#include "shm/request.h"
#include "sync/fence.h"
#include "sync/futex.h"
#include "sync/spin.h"

namespace ringdb::test {
namespace {

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("fake daemon: " + what + ": " + std::strerror(errno));
}

int listen_on(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  check(path.size() < sizeof addr.sun_path, "socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  check(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0, "bind");
  check(listen(fd, 4) == 0, "listen");
  return fd;
}

// Waits up to `limit` for a connection (giving up early when `stop` turns true).
int accept_one(int listen_fd, const std::atomic<bool>* stop, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (stop != nullptr && stop->load()) return -1;
    pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 1) return accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
  return -1;
}

}  // namespace

TempDir::TempDir() {
  char name[] = "/tmp/ringdb-libclient-XXXXXX";
  check(mkdtemp(name) != nullptr, "mkdtemp");
  path_ = name;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ---- HelloServer ------------------------------------------------------------------------

HelloServer::HelloServer() : path_(dir_.path() + "/ringdb.sock") {
  listen_fd_ = listen_on(path_);
}

HelloServer::~HelloServer() {
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
}

void HelloServer::serve(std::function<void(int fd)> reply) {
  thread_ = std::thread([this, reply = std::move(reply)] {
    const int fd = accept_one(listen_fd_, nullptr, std::chrono::seconds(30));
    if (fd < 0) return;
    reply(fd);
    close(fd);  // as the daemon does after a refusal
  });
}

shm::HelloReply HelloServer::hello(shm::HelloStatus status, const char* error) {
  shm::HelloReply reply = {};
  reply.magic = shm::kSegmentMagic;
  reply.version = shm::kProtocolVersion;
  reply.status = status;
  std::strncpy(reply.text, error, sizeof reply.text - 1);
  return reply;
}

void HelloServer::send_hello(int fd, const shm::HelloReply& reply, const int* fds, int fd_count) {
  check(shm::send_with_fds(fd, &reply, sizeof reply, std::span(fds, static_cast<size_t>(fd_count)),
                           MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof reply),
        "sendmsg");
}

// ---- FakeDaemon: setup and control ------------------------------------------------------

// A scan item as shm::write_answer takes it.
struct Item {
  std::string key;
  std::string value;
};

struct FakeDaemon::Answer {
  shm::WireStatus status = shm::WireStatus::kOk;
  uint64_t u64 = 0;
  bool has_value = false;
  std::string value;
  bool has_items = false;
  std::vector<Item> items;
  bool more = false;  // scan: keys after the items
};

FakeDaemon::FakeDaemon(FakeOptions options)
    : options_(options), path_(dir_.path() + "/ringdb.sock") {
  std::string error;
  check(shm::SegmentGeometry::compute(options_.sizes, &geometry_, &error), error);
  board_ = shm::Segment::create(shm::kBoardSize, "fake-board", /*read_only_view=*/true, &error);
  check(board_ != nullptr, error);
  doorbells_ = shm::Segment::create_sealed(shm::kDoorbellsSize, "fake-doorbells", &error);
  check(doorbells_ != nullptr, error);
  segment_ = shm::Segment::create(geometry_.segment_size, "fake-session", false, &error);
  check(segment_ != nullptr, error);

  auto* board = reinterpret_cast<shm::BoardHeader*>(board_->base());
  board->magic = shm::kBoardMagic;
  board->version = shm::kProtocolVersion;
  board->worker_count = 1;
  board->ring_count = geometry_.sizes.ring_count;
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r)
    board->ring_worker[r] = 0;
  // The fake's worker thread is not pinned: clients must not move off any CPU for it.
  reinterpret_cast<shm::BoardWorker*>(board_->base() + shm::kBoardWorkersOffset)->core =
      shm::kNoCore;

  shm::SessionTerms terms;
  terms.session_id = 7;
  terms.key_size_max = 1024;
  terms.value_size_max = 1u << 20;
  terms.scan_result_bytes_max =
      std::max(geometry_.inline_capacity(), geometry_.sizes.response_area_size / 2);
  terms.transactions_max = 16;
  geometry_.write_header(terms, reinterpret_cast<shm::SegmentHeader*>(segment_->base()));
  for (uint32_t r = 0; r < geometry_.sizes.ring_count; ++r) {
    void* ring = segment_->base() + geometry_.rings_offset + uint64_t{r} * geometry_.ring_stride;
    shm::RingConsumer::format(ring, geometry_.sizes.ring_slots);
    rings_.emplace_back(ring, geometry_.sizes.ring_slots);
  }
  response_blocks_ = std::make_unique<shm::ExtentAllocator>(geometry_.sizes.response_area_size);
  result_block_.resize(geometry_.sizes.context_count);
  listen_fd_ = listen_on(path_);
  thread_ = std::thread([this] { serve(); });
}

FakeDaemon::~FakeDaemon() {
  stop_.store(true);
  resume();
  ring_bell();
  thread_.join();
  close(listen_fd_);
  const int fd = session_fd_.exchange(-1);
  if (fd >= 0) close(fd);
}

std::unique_ptr<Client> FakeDaemon::connect() {
  std::unique_ptr<Client> client;
  std::string error;
  ConnectOptions options;
  options.socket_path = path_;
  const Status s = Client::connect(options, &client, &error);
  if (s != Status::kOk) throw std::runtime_error("connect to the fake daemon: " + error);
  return client;
}

void FakeDaemon::pause() {
  pause_requested_.store(true);
  ring_bell();  // a sleeping worker must wake up to acknowledge
  std::unique_lock lock(mu_);
  check(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return paused_; }),
        "the worker did not pause");
}

void FakeDaemon::resume() {
  {
    std::lock_guard lock(mu_);
    pause_requested_.store(false);
  }
  cv_.notify_all();
}

void FakeDaemon::set_shutting_down() {
  reinterpret_cast<shm::BoardHeader*>(board_->base())->shutting_down.store(1);
}

void FakeDaemon::detach(bool shutting_down) {
  if (shutting_down) set_shutting_down();
  reinterpret_cast<shm::SegmentHeader*>(segment_->base())->closed.store(1);
  hang_up();
}

void FakeDaemon::hang_up() {
  const int fd = session_fd_.exchange(-1);
  if (fd >= 0) close(fd);
}

bool FakeDaemon::worker_asleep() const {
  const auto* w =
      reinterpret_cast<const shm::BoardWorker*>(board_->base() + shm::kBoardWorkersOffset);
  return w->need_wakeup.load() != 0;
}

void FakeDaemon::ring_bell() {
  auto* bell = &reinterpret_cast<shm::Doorbell*>(doorbells_->base())->bell;
  bell->fetch_add(1);
  sync::futex_wake(bell, 1, sync::Sharing::kProcessShared);
}

shm::ContextHeader* FakeDaemon::context(uint32_t index) const {
  return reinterpret_cast<shm::ContextHeader*>(segment_->base() + geometry_.contexts_offset +
                                               uint64_t{index} * geometry_.sizes.context_size);
}

// ---- FakeDaemon: the daemon's thread ----------------------------------------------------

void FakeDaemon::serve() {
  const int fd = accept_one(listen_fd_, &stop_, std::chrono::seconds(60));
  if (fd < 0) return;
  const int fds[3] = {segment_->fd(), board_->read_only_fd(), doorbells_->fd()};
  shm::HelloReply reply = HelloServer::hello(shm::HelloStatus::kHelloOk, "9.8.7-fake");
  reply.session_id = 7;
  reply.segment_size = geometry_.segment_size;
  HelloServer::send_hello(fd, reply, fds, 3);
  session_fd_.store(fd);
  run_worker();
}

void FakeDaemon::run_worker() {
  uint32_t idle = 0;
  while (!stop_.load()) {
    if (pause_requested_.load()) {
      wait_while_paused();
      continue;
    }
    if (poll_rings()) {
      idle = 0;
      continue;
    }
    if (++idle < options_.idle_rounds_before_sleep) {
      sync::cpu_relax();
      continue;
    }
    idle = 0;
    sleep_on_doorbell();
  }
}

void FakeDaemon::wait_while_paused() {
  std::unique_lock lock(mu_);
  paused_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !pause_requested_.load() || stop_.load(); });
  paused_ = false;
}

bool FakeDaemon::poll_rings() {
  bool worked = false;
  for (shm::RingConsumer& ring : rings_) {
    uint32_t index;
    while (ring.try_pop(&index)) {
      execute(index);
      worked = true;
    }
  }
  return worked;
}

bool FakeDaemon::any_ready() const {
  return std::any_of(rings_.begin(), rings_.end(), [](const auto& r) { return r.ready(); });
}

// The worker's half of docs/PROTOCOL.md section 3, with a safety timeout that turns a lost
// wake-up into a counted event instead of a hang.
void FakeDaemon::sleep_on_doorbell() {
  auto* worker = reinterpret_cast<shm::BoardWorker*>(board_->base() + shm::kBoardWorkersOffset);
  auto* bell = &reinterpret_cast<shm::Doorbell*>(doorbells_->base())->bell;
  worker->need_wakeup.store(1, std::memory_order_relaxed);
  sync::full_fence();
  const uint32_t seen = bell->load(std::memory_order_acquire);
  if (!any_ready() && !stop_.load() && !pause_requested_.load()) {
    sleeps_.fetch_add(1);
    const auto r =
        sync::futex_wait(bell, seen, sync::Sharing::kProcessShared, std::chrono::seconds(2));
    if (r == sync::FutexWaitResult::kTimedOut && any_ready()) lost_wakeups_.fetch_add(1);
  }
  worker->need_wakeup.store(0, std::memory_order_relaxed);
}

void FakeDaemon::execute(uint32_t index) {
  requests_.fetch_add(1);
  if (index >= geometry_.sizes.context_count) {
    invalid_requests_.fetch_add(1);
    return;
  }
  shm::Request request;
  const char* why = nullptr;
  Answer answer;
  answer.status = shm::decode_request(geometry_, segment_->base(), index, shm::RequestLimits{},
                                      &scratch_, &request, &why);
  if (answer.status == shm::WireStatus::kOk) {
    last_txn_.store(request.txn);
    answer.status = dispatch(request, &answer);
  } else if (answer.status == shm::WireStatus::kInvalidRequest) {
    invalid_requests_.fetch_add(1);
  }
  if (options_.answer_delay.count() > 0) std::this_thread::sleep_for(options_.answer_delay);
  post(index, answer);
}

shm::WireStatus FakeDaemon::dispatch(const shm::Request& rq, Answer* answer) {
  using shm::Opcode;
  using shm::WireStatus;
  const bool txn_ok = rq.txn == 0 || open_txns_.count(rq.txn) != 0;
  const std::string key(rq.key);
  switch (rq.opcode) {
    case Opcode::kPing:
      return WireStatus::kOk;
    case Opcode::kGet: {
      if (!txn_ok) return WireStatus::kUnknownTransaction;
      auto it = data_.find(key);
      if (it == data_.end()) return WireStatus::kNotFound;
      answer->has_value = true;
      answer->value = it->second;
      return WireStatus::kOk;
    }
    case Opcode::kPut:
      if (!txn_ok) return WireStatus::kUnknownTransaction;
      data_[key] = std::string(rq.value);
      return WireStatus::kOk;
    case Opcode::kDel:
      if (!txn_ok) return WireStatus::kUnknownTransaction;
      return data_.erase(key) != 0 ? WireStatus::kOk : WireStatus::kNotFound;
    case Opcode::kScan: {
      if (!txn_ok) return WireStatus::kUnknownTransaction;
      answer->has_items = true;
      auto wanted = [&](const std::string& k) {
        return k >= rq.key && (rq.value.empty() || k < rq.value) && k.starts_with(rq.prefix);
      };
      auto add = [&](const auto& kv) {
        if (!wanted(kv.first)) return;
        if (answer->items.size() < rq.limit) {
          answer->items.push_back({kv.first, kv.second});
        } else {
          answer->more = true;  // the limit stopped it before this key
        }
      };
      if ((rq.flags & shm::kFlagReverse) != 0) {
        std::for_each(data_.rbegin(), data_.rend(), add);
      } else {
        std::for_each(data_.begin(), data_.end(), add);
      }
      return WireStatus::kOk;
    }
    case Opcode::kBegin:
      answer->u64 = next_txn_++;
      open_txns_.insert(answer->u64);
      return WireStatus::kOk;
    case Opcode::kCommit:
      if (open_txns_.erase(rq.txn) == 0) return WireStatus::kUnknownTransaction;
      answer->u64 = next_csn_++;
      return WireStatus::kOk;
    case Opcode::kAbort:
      return open_txns_.erase(rq.txn) != 0 ? WireStatus::kOk : WireStatus::kUnknownTransaction;
    case Opcode::kBatch:  // (the library's side only: the real daemon's tests cover batches)
    case Opcode::kWatch:  // (and watches)
    case Opcode::kUnwatch:
      return WireStatus::kInvalidRequest;
  }
  return WireStatus::kInvalidRequest;
}

bool FakeDaemon::place_result(uint32_t index, uint32_t size, uint32_t* offset) {
  auto free_block = [&](uint32_t i) {
    auto& [at, length] = result_block_[i];
    if (length != 0) response_blocks_->free(at, length);
    length = 0;
  };
  free_block(index);  // submitted again: done with its previous answer
  auto block = response_blocks_->allocate(size);
  if (!block) {
    for (uint32_t i = 0; i < result_block_.size(); ++i) {
      if (context(i)->state.load() == shm::kStateFree) free_block(i);
    }
    block = response_blocks_->allocate(size);
    if (!block) return false;
  }
  result_block_[index] = {*block, size};
  *offset = *block;
  return true;
}

void FakeDaemon::post(uint32_t index, const Answer& answer) {
  shm::AnswerContent<std::vector<Item>> content;
  content.status = answer.status;
  content.u64 = answer.u64;
  if (answer.has_value) content.value = answer.value;
  if (answer.has_items) content.items = &answer.items;
  content.more = answer.more;
  shm::ContextHeader* c = context(index);
  shm::write_answer(c, geometry_.inline_capacity(), content,
                    std::max(geometry_.inline_capacity(), geometry_.sizes.response_area_size / 2),
                    [&](uint32_t length, std::byte** out, uint32_t* offset) {
                      if (!place_result(index, length, offset)) return false;
                      *out = segment_->base() + geometry_.response_area_offset + *offset;
                      return true;
                    });
  if (shm::publish_done(c)) waiter_wakes_.fetch_add(1);
}

}  // namespace ringdb::test
