// BusGuard: keeps a client from crashing the daemon by truncating its own session segment.
//
// A client holds a read-write descriptor of its segment, so it can ftruncate() it; the
// daemon's next access past the new end then raises SIGBUS (as does a write to a hole when
// the tmpfs is full). The daemon registers each session mapping here. On SIGBUS inside a
// registered range, the handler maps anonymous zero pages over the whole range (MAP_FIXED),
// marks it poisoned and returns, so the faulting access completes on private memory; the
// session's owner sees poisoned() and disconnects the session. A SIGBUS anywhere else is a
// real fault: the default action is restored and the process dies with a core dump.
// (Wayland compositors defend their client shm pools the same way.)
//
// Thread safety: add/remove/poisoned may be called from any thread. The handler reads the
// table with atomic loads only (async-signal-safe). A range must stay mapped until remove()
// returns and nobody touches it afterwards.
#pragma once

#include <cstddef>

namespace ringdb::shm {

class BusGuard {
 public:
  static constexpr int kRangesMax = 4096;

  // Installs the SIGBUS handler (idempotent).
  static void install();
  // After a range is poisoned, the handler writes a 1 (8 bytes) to this eventfd, so that
  // the owner learns of it without polling. -1: no notification.
  static void set_notify_fd(int eventfd);
  // Registers [base, base + size); returns a handle, or -1 when kRangesMax are registered.
  static int add(void* base, size_t size);
  static void remove(int handle);
  // True once a SIGBUS hit the range (its contents are now private zero pages).
  static bool poisoned(int handle);
};

}  // namespace ringdb::shm
