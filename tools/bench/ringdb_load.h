// The ringdb side of the benchmark, through libringdb: preloading keys, a client process's
// request loop (synchronous calls at depth 1, Client::submit/wait above; for commit, one
// transaction of --keys-per-commit puts at a time), and a helper process holding idle
// sessions.
#pragma once

#include <sys/types.h>

#include <string>

#include "tools/bench/driver.h"
#include "tools/bench/options.h"

namespace ringdb::bench {

// Puts keys 0..options.keys-1 with values of options.value_size_bytes, 64 in flight.
// The Client is closed before it returns (clients are forked afterwards).
bool preload_ringdb(const std::string& socket_path, const Options& options, std::string* error);

// A client process: connects its own session, then runs the workload until the stop.
int ringdb_client(int index, Recorder& recorder, const std::string& socket_path,
                  const Options& options);

// A process holding `count` connected sessions that make no request, until stop() or until
// this process dies.
class IdleSessions {
 public:
  IdleSessions() = default;
  ~IdleSessions() { stop(); }
  IdleSessions(const IdleSessions&) = delete;
  IdleSessions& operator=(const IdleSessions&) = delete;

  // Forks the helper and waits until all sessions are connected.
  bool start(const std::string& socket_path, int count, std::string* error);
  void stop();

 private:
  pid_t pid_ = -1;
  int control_fd_ = -1;  // closing it tells the helper to close its sessions and exit
};

}  // namespace ringdb::bench
