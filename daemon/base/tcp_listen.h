// A TCP listening socket for the optional Prometheus endpoint (daemon/admin/admin_server.h):
// the one place the daemon listens beyond its unix sockets, so addresses are numeric only
// (no name lookups at start) and the operator's HOST:PORT is checked before anything binds.
//
// Thread safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <string>

namespace ringdb::daemon {

// "127.0.0.1:9477" or "[::1]:9477" into a numeric host and a port (1..65535); false for
// anything else (names, a missing port, a port out of range).
bool parse_host_port(const std::string& text, std::string* host, uint16_t* port);

// A non-blocking, close-on-exec socket listening at `address` (as parse_host_port reads it),
// with SO_REUSEADDR so that a restart does not wait for TIME_WAIT. -1 with `error`.
int listen_tcp(const std::string& address, std::string* error);

}  // namespace ringdb::daemon
