// ScanFlood: the noisy neighbour of ringdb-bench --noisy-neighbour (issue 12). A process of its
// own with one session that keeps `depth` maximal scans (limit 100000 over every key, each
// answer as large as the daemon allows) in flight, resubmitting each as it completes, until
// stopped. Its answers' statuses do not matter (most find the response area full): the work
// the daemon does for them is the point.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace ringdb::bench {

class ScanFlood {
 public:
  ScanFlood() = default;
  ~ScanFlood();  // stop()
  ScanFlood(const ScanFlood&) = delete;
  ScanFlood& operator=(const ScanFlood&) = delete;

  // Forks the flooding process; returns once its scans are in flight. false with `error`.
  bool start(const std::string& socket_path, int depth, std::string* error);
  // Stops it (SIGTERM) and reaps it; returns the scans it completed.
  uint64_t stop();

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;  // the read end: the child writes its count of scans here at exit
};

}  // namespace ringdb::bench
