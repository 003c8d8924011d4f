// SessionTable: the connected sessions, as the control thread adds and removes them and the
// workers see them. Workers poll version() (one load) at the top of their loop and take a
// snapshot only when it changed.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "daemon/service/client_session.h"
#include "sync/futex.h"
#include "sync/mutex.h"
#include "sync/thread_annotations.h"

namespace ringdb::daemon {

class SessionTable {
 public:
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  void add(std::shared_ptr<ClientSession> session) {
    sync::MutexGuard guard(mu_);
    sessions_.push_back(std::move(session));
    version_.fetch_add(1, std::memory_order_release);
  }
  // Returns the version without the session: a worker that has seen it has dropped it.
  uint64_t remove(const ClientSession* session) {
    sync::MutexGuard guard(mu_);
    std::erase_if(sessions_, [&](const auto& s) { return s.get() == session; });
    return version_.fetch_add(1, std::memory_order_release) + 1;
  }
  // The sessions and the version they belong to.
  std::vector<std::shared_ptr<ClientSession>> snapshot(uint64_t* version) const {
    sync::MutexGuard guard(mu_);
    *version = version_.load(std::memory_order_relaxed);
    return sessions_;
  }
  // Workers call this after each refresh; the control thread waits on `refreshes` (a
  // process-private futex word) for every worker to have seen a version.
  void refreshed() {
    refreshes.fetch_add(1, std::memory_order_release);
    sync::futex_wake_all(&refreshes, sync::Sharing::kProcessPrivate);
  }
  std::atomic<uint32_t> refreshes{0};

  size_t size() const {
    sync::MutexGuard guard(mu_);
    return sessions_.size();
  }

 private:
  mutable sync::Mutex mu_;
  std::vector<std::shared_ptr<ClientSession>> sessions_ GUARDED_BY(mu_);
  std::atomic<uint64_t> version_{0};
};

}  // namespace ringdb::daemon
