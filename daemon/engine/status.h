// Status: the result of every engine operation. No exceptions cross the engine's API.
// Its codes are the first eight of the one table of status codes (shm/status_codes.h, which
// says what each means), so that they travel to clients unchanged.
#pragma once

#include <cstdint>

#include "shm/status_codes.h"

namespace ringdb::daemon {

#define RINGDB_ENGINE_STATUS(name, camel, number, message) k##camel = number,
enum class [[nodiscard]] Status : uint8_t{RINGDB_ENGINE_STATUS_CODES(RINGDB_ENGINE_STATUS)};
#undef RINGDB_ENGINE_STATUS

// "OK", "NOT_FOUND", ...
const char* status_name(Status status);

}  // namespace ringdb::daemon
