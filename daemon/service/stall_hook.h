// The watchdog's test hook (--test-hooks, admin `test-stall-worker`): makes one thread stop
// making progress, awake, for a while, from outside its code. A real-time signal sent to the
// thread (tgkill) runs a handler on it that spins until the deadline, so the worker's loop
// carries no test branch; to the watchdog the worker is awake and completes no round.
//
// A thread that sleeps in the kernel when idle registers its "asleep" flag (the watchdog's
// view of it); the handler clears the flag before it spins, since a stalled thread is awake,
// and the signal is installed without SA_RESTART, so that a futex wait it interrupted returns
// (EINTR) and the thread's loop goes on as after any spurious wake-up.
//
// One deadline for the process: two stalls at once both last until the later one ends.
//
// Thread safety: any thread. The handler is installed once, the first time it is needed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace ringdb::daemon {

// The calling thread's "asleep" flag, cleared when a stall hits it. Once per thread.
void register_stall_target(std::atomic<uint32_t>* asleep);

// Stalls thread `tid` of this process for `ms` milliseconds. false if the signal could not
// be sent (no such thread).
bool stall_thread_for_test(pid_t tid, int64_t ms);

}  // namespace ringdb::daemon
