// ThreadPlacement: keeps the client threads that wait for answers off the CPUs ringdbd's
// workers spin on (docs/ARCHITECTURE.md, "Sharing CPUs").
//
// A worker is pinned to its CPU and polls its rings without sleeping while work comes. A
// client thread that the scheduler puts on that CPU runs only when the worker's time slice
// ends, a wait of up to a few milliseconds on every request, and the worker loses the time
// the thread does get. So the first time a thread waits for an answer, libringdb takes the
// worker CPUs out of the thread's affinity (the board names them) — unless that would leave
// it no CPU (a thread the application pinned to a worker CPU stays where it is), or the
// application opted out (ConnectOptions::keep_threads_off_worker_cpus, or
// RINGDB_KEEP_OFF_WORKER_CPUS=0 in the environment).
//
// Once per thread and set of worker CPUs: two system calls (sched_getaffinity,
// sched_setaffinity) the first time, a thread-local compare afterwards. An affinity the
// application sets later is left alone.
//
// Thread safety: immutable after construction; settle_this_thread() acts on the calling
// thread only.
#pragma once

#include <sched.h>

#include <cstdint>
#include <vector>

#include "libclient/connection.h"

namespace ringdb::libclient {

class ThreadPlacement {
 public:
  // `enabled`: the application's choice (ConnectOptions); the environment can still say no.
  ThreadPlacement(const Connection& connection, bool enabled);

  // Moves the calling thread off the worker CPUs if it has not been yet (see above).
  void settle_this_thread() const;

  // The calling thread runs on the CPU of a worker that yields it when idle (the daemon's
  // workers share their CPUs: it may not leave them, or the application opted out): an answer
  // comes only when this thread lets that worker run, so it should yield while it waits.
  // Nothing to check where no worker yields (the default); else a vDSO call.
  bool beside_yielding_worker() const {
    if (yielding_cpus_.empty()) return false;
    const int cpu = sched_getcpu();
    return cpu >= 0 && static_cast<size_t>(cpu) < yielding_cpus_.size() &&
           yielding_cpus_[static_cast<size_t>(cpu)];
  }

 private:
  // What settle_this_thread() gives a thread allowed on `allowed`: false if it leaves it as
  // it is (no worker CPU in it, or nothing but worker CPUs, or disabled).
  bool plan(const cpu_set_t& allowed, cpu_set_t* settled) const;

  cpu_set_t worker_cpus_;
  // By CPU: a worker that yields when idle is there (the board's yields_when_idle, fixed for
  // the daemon's life). Empty if none is.
  std::vector<bool> yielding_cpus_;
  // Names the set of worker CPUs for the thread-local "already settled" mark; 0: disabled or
  // no worker CPU known, nothing to do.
  uint64_t key_ = 0;
};

}  // namespace ringdb::libclient
