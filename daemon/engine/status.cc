#include "daemon/engine/status.h"

namespace ringdb::daemon {

const char* status_name(Status status) {
#define RINGDB_ENGINE_STATUS_NAME(name, camel, number, message) \
  case Status::k##camel:                                        \
    return #name;
  switch (status) { RINGDB_ENGINE_STATUS_CODES(RINGDB_ENGINE_STATUS_NAME) }
#undef RINGDB_ENGINE_STATUS_NAME
  return "UNKNOWN";
}

}  // namespace ringdb::daemon
