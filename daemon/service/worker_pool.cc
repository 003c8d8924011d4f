#include "daemon/service/worker_pool.h"

#include <algorithm>

#include "daemon/service/stall_hook.h"
#include "shm/doorbell.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {

WorkerPool::WorkerPool(size_t count, shm::BoardWorker* lines, shm::Doorbell* bells,
                       uint32_t parked_max)
    : lines_(lines), bells_(bells) {
  static sync::LatchStats stats("worker.pending_set");  // every worker's set, one latch class
  for (size_t w = 0; w < count; ++w) {
    shm::Doorbell* bell = &bells_[w];
    pending_.push_back(std::make_unique<PendingSet>(
        parked_max, &lines_[w].need_wakeup, [bell] { shm::ring(*bell); }, &stats));
  }
}

WorkerPool::~WorkerPool() {
  stop();
}

std::vector<wal::CompletionSink*> WorkerPool::completion_sinks() const {
  std::vector<wal::CompletionSink*> sinks;
  for (const auto& p : pending_)
    sinks.push_back(p.get());
  return sinks;
}

void WorkerPool::start(const std::function<WorkerEnv(size_t w)>& env_for) {
  for (size_t w = 0; w < pending_.size(); ++w) {
    WorkerEnv env = env_for(w);
    env.index = static_cast<uint32_t>(w);
    env.board = &lines_[w];
    env.doorbell = &bells_[w];
    env.pending = pending_[w].get();
    workers_.push_back(std::make_unique<Worker>(std::move(env)));
  }
  for (auto& w : workers_)
    w->start();
}

void WorkerPool::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_)
    w->stop();
  for (auto& w : workers_)
    w->join();
}

void WorkerPool::wake_all() {
  for (auto& w : workers_)
    w->wake();
}

bool WorkerPool::all_seen(uint64_t version) const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [&](const auto& w) { return w->seen_version() >= version; });
}

std::vector<const WorkerStats*> WorkerPool::stats() const {
  std::vector<const WorkerStats*> out;
  for (const auto& w : workers_)
    out.push_back(&w->stats());
  return out;
}

std::vector<uint32_t> WorkerPool::pending_depths() const {
  std::vector<uint32_t> out;
  for (const auto& w : workers_)
    out.push_back(w->pending_depth());
  return out;
}

uint64_t WorkerPool::oldest_unapplied_lsn() const {
  uint64_t lsn = wal::Completion::kNoLsn;
  for (const auto& w : workers_)
    lsn = std::min(lsn, w->oldest_unapplied_lsn());
  return lsn;
}

bool WorkerPool::stall_for_test(size_t w, int64_t ms) {
  if (w >= workers_.size()) return false;
  return stall_thread_for_test(workers_[w]->wait_tid(), ms);
}

}  // namespace ringdb::daemon
