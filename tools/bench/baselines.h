// Two round-trip baselines measured in the same run as ringdb's ping, each as a client
// body for run_clients(): every client process forks its own echo server process.
//
// shm-floor: one cache line in a MAP_SHARED anonymous mapping; the client stores an odd
// sequence number, the server spins until it sees it and stores the next even one, the
// client spins until it sees that. Client and server are pinned to different CPUs when
// there are two: the physical floor of a cross-core round trip (two cache-line transfers).
//
// unix-socket: the same 16-byte payload written by the client and echoed by the server
// over a SOCK_STREAM socketpair with blocking read/write. Placed like ringdb's and Redis's
// clients and server: the server pinned where ringdbd's worker runs, the client left where
// the driver put it (unpinned by default), so the scheduler may run both on one CPU, as it
// may for a real unix-socket server. Pinning the client to the other CPU too measures the
// cross-CPU wake-up instead, several times slower under KVM (docs/BENCHMARKS.md).
//
// Both are depth 1 by construction: one message in flight per pair.
//
// fsync-floor (beside commit and counter runs): one 4 KiB write at offset 0 of a file in
// `dir`, then fdatasync, in a loop: what one durable commit costs the disk at least, on the
// filesystem the compared systems write to.
#pragma once

#include <string>

#include "tools/bench/driver.h"

namespace ringdb::bench {

struct BaselineCpus {
  int client_cpu = -1;  // -1: leave the client as the driver placed it
  int server_cpu = -1;  // -1: no pinning
};

// The server on the highest allowed CPU (where ringdbd puts its worker by default), the
// client on the lowest; none when only one CPU is allowed.
BaselineCpus default_baseline_cpus();

int shm_floor_client(int index, Recorder& recorder, BaselineCpus cpus);
int unix_socket_client(int index, Recorder& recorder, BaselineCpus cpus);
int fsync_floor_client(int index, Recorder& recorder, const std::string& dir);

}  // namespace ringdb::bench
