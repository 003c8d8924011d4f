#include "daemon/service/watchdog.h"

#include "daemon/base/log.h"

namespace ringdb::daemon {

bool Watchdog::check(const WorkerPool& pool, int64_t now_ns) {
  if (!enabled() || !pool.running()) return true;
  seen_.resize(pool.size());
  bool healthy = true;
  for (size_t w = 0; w < pool.size(); ++w) {
    const WorkerStats& st = pool.worker(w).stats();
    Seen& seen = seen_[w];
    const uint64_t rounds = st.rounds.load(std::memory_order_relaxed);
    const bool asleep = st.asleep.load(std::memory_order_relaxed) != 0;
    if (rounds != seen.rounds || asleep || seen.same_since_ns == 0) {
      if (seen.reported) log(LogLevel::kWarn, "watchdog: worker %zu makes progress again", w);
      seen = Seen{rounds, now_ns, false};
      continue;
    }
    const int64_t stalled_ms = (now_ns - seen.same_since_ns) / 1'000'000;
    if (seen.reported) healthy = false;
    if (seen.reported || stalled_ms < static_cast<int64_t>(limit_ms_)) continue;
    seen.reported = true;
    healthy = false;
    log(LogLevel::kError,
        "watchdog: worker %zu (core %d) is awake and has made no progress for %ld ms: "
        "%lu requests served, %lu commits parked, %u log completions pending, %lu rounds",
        w, cores_[w], static_cast<long>(stalled_ms),
        static_cast<unsigned long>(st.requests.load(std::memory_order_relaxed)),
        static_cast<unsigned long>(st.parked_now.load(std::memory_order_relaxed)),
        pool.worker(w).pending_depth(), static_cast<unsigned long>(rounds));
    if (abort_on_stall_) {
      fatal(
          "watchdog: worker %zu stalled; aborting so that a supervisor restarts the daemon "
          "and recovery runs (--watchdog-abort)",
          w);
    }
  }
  return healthy;
}

}  // namespace ringdb::daemon
