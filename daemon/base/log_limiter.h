// LogLimiter: at most one log line per interval for one kind of event that a client can make
// happen at will (a refused connection, say), so that a flood of them cannot flood the log or
// hold the thread that writes it. The line that is let through says how many were not.
//
// Thread safety: none; one per thread (the server's control thread has its own).
#pragma once

#include <cstdint>

namespace ringdb::daemon {

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ns) : interval_ns_(interval_ns) {}

  // Whether to log this event now (the clock's `now_ns`); if so, *suppressed is how many
  // were not logged since the last one that was.
  bool allow(int64_t now_ns, uint64_t* suppressed) {
    if (logged_once_ && now_ns < next_ns_) {
      ++suppressed_;
      return false;
    }
    *suppressed = suppressed_;
    suppressed_ = 0;
    logged_once_ = true;
    next_ns_ = now_ns + interval_ns_;
    return true;
  }

 private:
  const int64_t interval_ns_;
  int64_t next_ns_ = 0;
  uint64_t suppressed_ = 0;
  bool logged_once_ = false;
};

}  // namespace ringdb::daemon
