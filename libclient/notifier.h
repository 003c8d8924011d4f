// CompletionNotifier: a descriptor an event loop can wait on (Client::completion_fd).
//
// An eventfd, made readable by a library thread when a request the application submitted
// with Client::submit / try_submit completes (or when the session ends), so that a program
// built around epoll/poll/select, or asyncio's add_reader, can keep requests in flight
// without a thread of its own that waits. The thread sleeps on the state words of the
// requests it follows, all at once (FUTEX_WAITV, Linux 5.16: at most kFutexWaitAnyMax - 1
// words per sleep; beyond that it looks again every millisecond), setting the waiting flag
// on each as a sleeping waiter does (docs/PROTOCOL.md section 3), so the worker's answer wakes
// it. The daemon is unchanged.
//
// A request is followed from add() until the notifier sees it DONE (it then signals) or FREE
// (the application completed it first). A context it follows may have been completed and
// reused meanwhile: then the notification is spurious, which the interface allows (readable
// means "poll your operations").
//
// Thread safety: add() from any thread; the rest is the owner's (constructor, destructor).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "libclient/session.h"
#include "sync/mutex.h"

namespace ringdb::libclient {

class CompletionNotifier {
 public:
  // Creates the eventfd and starts the thread: kOk, or kConnectFailed with a reason in *error
  // (no descriptor left).
  static Status start(Session* session, std::unique_ptr<CompletionNotifier>* out,
                      std::string* error);
  ~CompletionNotifier();  // stops and joins the thread, closes the descriptor
  CompletionNotifier(const CompletionNotifier&) = delete;
  CompletionNotifier& operator=(const CompletionNotifier&) = delete;

  int fd() const { return fd_; }
  // Follows the request just submitted in `context`.
  void add(uint32_t context) EXCLUDES(mu_);

 private:
  CompletionNotifier(Session* session, int fd);
  void run();
  void signal() const;

  Session& session_;
  const int fd_;
  sync::Mutex mu_;
  std::vector<uint32_t> pending_ GUARDED_BY(mu_);
  // Bumped by add() and the destructor: the thread sleeps on it too, so either wakes it.
  std::atomic<uint32_t> changes_{0};
  std::atomic<uint32_t> sleeping_{0};  // 1 while the thread may be asleep: add() wakes it
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringdb::libclient
