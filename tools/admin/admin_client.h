// The client side of the admin socket (docs/PROTOCOL.md section 7), for ringdb-admin and
// ringdb-bench: one request line out, one answer line back.
//
// Thread safety: a free function with no shared state.
#pragma once

#include <string>

namespace ringdb::admin {

// Connects to `path`, sends `request` (one JSON object, no newline) and reads one answer line
// (without its newline) within `timeout_ms`. false with `error` if the daemon cannot be
// reached or does not answer in time.
bool exchange(const std::string& path, const std::string& request, int timeout_ms,
              std::string* answer, std::string* error);

}  // namespace ringdb::admin
