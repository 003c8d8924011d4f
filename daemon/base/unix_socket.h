// Unix-domain listening sockets shared by the session socket (daemon/service/server.h) and the
// admin socket (daemon/admin/admin_server.h): binding with stale-file removal, and the peer check.
//
// Thread safety: free functions with no shared state.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace ringdb::daemon {

// A non-blocking, close-on-exec listening socket of `type` (SOCK_STREAM, SOCK_SEQPACKET) at
// `path` with permission bits `mode`. A live daemon already answering at `path` is an error
// ("another ringdbd is serving PATH"); a stale file is removed. -1 with `error` on failure.
int listen_unix(const std::string& path, int type, unsigned mode, std::string* error);

// Whether the peer of `fd` (credentials `cred`) is one of `users` or belongs (primary or
// supplementary group) to one of `groups`. `who` describes it for log lines.
bool peer_allowed(int fd, const ucred& cred, const std::vector<uid_t>& users,
                  const std::vector<gid_t>& groups, std::string* who);

}  // namespace ringdb::daemon
