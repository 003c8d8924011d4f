// libringdb's status codes (ringdb/client.h, ringdb/ringdb.h): every code has the name
// ringdb-cli prints and a sentence of its own, the C and C++ spellings agree, and an unknown
// code is named, not a crash; the library's version.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ringdb/client.h"
#include "ringdb/ringdb.h"

namespace {

using ringdb::Status;

const std::vector<std::pair<Status, std::string>>& all_names() {
  static const std::vector<std::pair<Status, std::string>> names = {
      {Status::kOk, "OK"},
      {Status::kNotFound, "NOT_FOUND"},
      {Status::kConflict, "CONFLICT"},
      {Status::kOutOfMemory, "OUT_OF_MEMORY"},
      {Status::kTooLarge, "TOO_LARGE"},
      {Status::kInvalidArgument, "INVALID_ARGUMENT"},
      {Status::kTooManyViews, "TOO_MANY_VIEWS"},
      {Status::kTransactionDone, "TRANSACTION_DONE"},
      {Status::kInvalidRequest, "INVALID_REQUEST"},
      {Status::kShuttingDown, "SHUTTING_DOWN"},
      {Status::kTooManyTransactions, "TOO_MANY_TRANSACTIONS"},
      {Status::kTransactionBusy, "TRANSACTION_BUSY"},
      {Status::kResponseAreaFull, "RESPONSE_AREA_FULL"},
      {Status::kUnknownTransaction, "UNKNOWN_TRANSACTION"},
      {Status::kDiskFull, "DISK_FULL"},
      {Status::kTrxTooOld, "TRX_TOO_OLD"},
      {Status::kRingFull, "RING_FULL"},
      {Status::kTooManyInFlight, "TOO_MANY_IN_FLIGHT"},
      {Status::kDisconnected, "DISCONNECTED"},
      {Status::kPermissionDenied, "PERMISSION_DENIED"},
      {Status::kTooManySessions, "TOO_MANY_SESSIONS"},
      {Status::kProtocolMismatch, "PROTOCOL_MISMATCH"},
      {Status::kConnectFailed, "CONNECT_FAILED"},
  };
  return names;
}

}  // namespace

TEST_CASE("every status has its documented name") {
  for (const auto& entry : all_names()) {
    CAPTURE(entry.second);
    CHECK(std::string(ringdb::status_name(entry.first)) == entry.second);
  }
}

TEST_CASE("the C ABI names every status as the C++ API does") {
  for (const auto& entry : all_names()) {
    CAPTURE(entry.second);
    CHECK(std::string(ringdb_status_name(static_cast<ringdb_status>(entry.first))) == entry.second);
  }
}

TEST_CASE("daemon codes keep their wire numbers; library codes start at 32") {
  CHECK(static_cast<int>(Status::kOk) == 0);
  CHECK(static_cast<int>(Status::kNotFound) == 1);
  CHECK(static_cast<int>(Status::kShuttingDown) == 9);
  CHECK(static_cast<int>(Status::kUnknownTransaction) == 13);
  CHECK(static_cast<int>(Status::kRingFull) == 32);
  CHECK(static_cast<int>(Status::kConnectFailed) == 38);
}

TEST_CASE("a code this library does not know (a newer daemon's) still has a name") {
  CHECK(std::string(ringdb::status_name(static_cast<Status>(20))) == "UNKNOWN_STATUS");
  CHECK(std::string(ringdb_status_name(static_cast<ringdb_status>(50))) == "UNKNOWN_STATUS");
}

TEST_CASE("every status has a sentence of its own, the same through C and C++") {
  const std::string unknown = ringdb::status_message(static_cast<Status>(20));
  CHECK(unknown.find("does not know") != std::string::npos);
  std::set<std::string> sentences;
#define RINGDB_TEST_SENTENCE(name, camel, number, message)            \
  {                                                                   \
    const std::string cpp = ringdb::status_message(Status::k##camel); \
    CAPTURE(cpp);                                                     \
    CHECK(cpp == ringdb_status_message(RINGDB_##name));               \
    CHECK(cpp.size() > 5);                                            \
    CHECK(cpp != unknown);                                            \
    CHECK(sentences.insert(cpp).second);                              \
  }
  RINGDB_ALL_STATUS_CODES(RINGDB_TEST_SENTENCE)
#undef RINGDB_TEST_SENTENCE
  CHECK(std::string(ringdb_status_message(RINGDB_CONFLICT)).find("only abort is useful") !=
        std::string::npos);
}

TEST_CASE("the library's version: C, C++ and <ringdb/version.h> agree") {
  int major = -1;
  int minor = -1;
  int patch = -1;
  const std::string c = ringdb_version(&major, &minor, &patch);
  CHECK(c == RINGDB_VERSION_STRING);
  CHECK(c == ringdb::version());
  CHECK(c == std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
  CHECK(major == RINGDB_VERSION_MAJOR);
  CHECK(std::string(ringdb_version(nullptr, nullptr, nullptr)) == c);
}
