// The admin socket's commands (daemon/admin/admin_server.h; docs/PROTOCOL.md, "Admin socket"):
// what ringdb-admin asks the daemon. Each reads the daemon's state through thread-safe
// accessors (statistics are atomics or copied under their own latch); none touches a worker's
// data directly.
//
// Thread safety: the handlers run on the admin threads; the objects in AdminContext outlive
// the AdminServer.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/admin/admin_server.h"
#include "daemon/durability/checkpoint.h"
#include "daemon/engine/engine.h"
#include "daemon/service/config.h"
#include "daemon/service/server.h"
#include "daemon/wal/writer.h"

namespace ringdb::daemon {

struct AdminContext {
  const Config* config = nullptr;
  Engine* engine = nullptr;
  Server* server = nullptr;
  wal::LogWriter* log = nullptr;
  Checkpointer* checkpointer = nullptr;
  WatchHub* watches = nullptr;
  std::string wal_dir;
  int64_t started_ns = 0;  // steady clock, for uptime
};

void add_admin_commands(AdminServer* admin, const AdminContext& context);

}  // namespace ringdb::daemon
