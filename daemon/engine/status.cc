#include "daemon/engine/status.h"

namespace ringdb::daemon {

const char* status_name(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kNotFound:
      return "NOT_FOUND";
    case Status::kConflict:
      return "CONFLICT";
    case Status::kOutOfMemory:
      return "OUT_OF_MEMORY";
    case Status::kTooLarge:
      return "TOO_LARGE";
    case Status::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Status::kTooManyViews:
      return "TOO_MANY_VIEWS";
    case Status::kTransactionDone:
      return "TRANSACTION_DONE";
  }
  return "UNKNOWN";
}

}  // namespace ringdb::daemon
