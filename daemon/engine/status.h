// Status: the result of every engine operation. No exceptions cross the engine's API.
#pragma once

#include <cstdint>

namespace ringdb::daemon {

enum class [[nodiscard]] Status : uint8_t{
    kOk = 0,
    kNotFound,         // no visible value for the key
    kConflict,         // write-write conflict (first updater wins); the transaction can only abort
    kOutOfMemory,      // the memory limit for stored data is reached; reads keep working
    kTooLarge,         // key or value over its configured maximum
    kInvalidArgument,  // e.g. an empty key, a write in a read-only transaction
    kTooManyViews,     // every read view slot is in use (EngineOptions::views_max)
    kTransactionDone,  // the transaction already failed (after kConflict) and must be aborted
};

const char* status_name(Status status);

}  // namespace ringdb::daemon
