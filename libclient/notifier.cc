#include "libclient/notifier.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "shm/wire.h"
#include "sync/futex.h"

namespace ringdb::libclient {

namespace {
// With more requests followed than one sleep can watch: how soon it looks again.
constexpr std::chrono::milliseconds kRescan{1};
}  // namespace

Status CompletionNotifier::start(Session* session, std::unique_ptr<CompletionNotifier>* out,
                                 std::string* error) {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    if (error != nullptr) *error = std::string("eventfd: ") + std::strerror(errno);
    return Status::kConnectFailed;
  }
  out->reset(new CompletionNotifier(session, fd));
  return Status::kOk;
}

CompletionNotifier::CompletionNotifier(Session* session, int fd)
    : session_(*session), fd_(fd), thread_([this] { run(); }) {}

CompletionNotifier::~CompletionNotifier() {
  stop_.store(true, std::memory_order_seq_cst);
  changes_.fetch_add(1, std::memory_order_seq_cst);
  sync::futex_wake_all(&changes_, sync::Sharing::kProcessPrivate);
  thread_.join();
  close(fd_);
}

void CompletionNotifier::add(uint32_t context) {
  {
    sync::MutexGuard guard(mu_);
    pending_.push_back(context);
  }
  // Dekker with run(): it sets sleeping_ then reads changes_; we bump changes_ then read
  // sleeping_. Either it sees the bump (its sleep returns at once), or we see it asleep.
  changes_.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst) != 0) {
    sync::futex_wake_all(&changes_, sync::Sharing::kProcessPrivate);
  }
}

void CompletionNotifier::signal() const {
  const uint64_t one = 1;
  // EAGAIN only if the counter is at its maximum: readable anyway.
  [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof one);
}

void CompletionNotifier::run() {
  session_.settle_this_thread();  // off the daemon's worker CPUs, as every waiting thread
  std::vector<uint32_t> followed;
  std::vector<uint32_t> finished;
  std::vector<sync::FutexWaitEntry> entries;
  bool lost_signalled = false;
  while (!stop_.load(std::memory_order_acquire)) {
    sleeping_.store(1, std::memory_order_seq_cst);
    const uint32_t seen = changes_.load(std::memory_order_seq_cst);
    size_t total = 0;
    {
      sync::MutexGuard guard(mu_);
      total = pending_.size();
      followed.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                               total, sync::kFutexWaitAnyMax - 1)));
    }
    entries.clear();
    finished.clear();
    entries.push_back({&changes_, seen, sync::Sharing::kProcessPrivate});
    bool answered = false;
    for (uint32_t index : followed) {
      std::atomic<uint32_t>& state = session_.context_state(index);
      uint32_t s = state.load(std::memory_order_acquire);
      if (s == shm::kStateSubmitted &&
          state.compare_exchange_strong(s, s | shm::kStateWaiting, std::memory_order_acquire)) {
        s |= shm::kStateWaiting;
      }
      if ((s & ~shm::kStateWaiting) == shm::kStateSubmitted) {
        entries.push_back({&state, s, sync::Sharing::kProcessShared});
      } else {  // DONE: answered; FREE: the application completed it already
        answered = answered || s == shm::kStateDone;
        finished.push_back(index);
      }
    }
    if (!finished.empty()) {
      sleeping_.store(0, std::memory_order_relaxed);
      {
        sync::MutexGuard guard(mu_);
        std::erase_if(pending_, [&](uint32_t i) {
          return std::find(finished.begin(), finished.end(), i) != finished.end();
        });
      }
      if (answered) signal();
      continue;
    }
    // The session's end answers nothing: say so once, so that the loop polls and learns it.
    if (!lost_signalled && total != 0 && session_.liveness() != Status::kOk) {
      lost_signalled = true;
      signal();
    }
    // Nothing followed: sleep until add(). Else wake each slice to ask about the session.
    const std::chrono::nanoseconds timeout = total == 0 ? std::chrono::nanoseconds(-1)
                                             : total > followed.size()
                                                 ? std::chrono::nanoseconds(kRescan)
                                                 : std::chrono::nanoseconds(Session::kWaitSlice);
    if (sync::futex_wait_any(entries.data(), entries.size(), timeout) ==
        sync::FutexWaitAnyResult::kUnsupported) {
      // A kernel before 5.16: look again every rescan period.
      sync::futex_wait(&changes_, seen, sync::Sharing::kProcessPrivate, kRescan);
    }
    sleeping_.store(0, std::memory_order_relaxed);
  }
}

}  // namespace ringdb::libclient
