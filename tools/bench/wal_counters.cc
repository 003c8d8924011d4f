#include "tools/bench/wal_counters.h"

#include <nlohmann/json.hpp>

#include "tools/admin/admin_client.h"

namespace ringdb::bench {

bool read_wal_counters(const std::string& admin_socket, WalCounters* out, std::string* error) {
  std::string answer;
  if (!admin::exchange(admin_socket, R"({"v":1,"cmd":"wal"})", 10'000, &answer, error))
    return false;
  const nlohmann::json reply = nlohmann::json::parse(answer, nullptr, false);
  if (reply.is_discarded() || !reply.is_object() || !reply.value("ok", false) ||
      !reply.contains("result") || !reply["result"].is_object()) {
    *error = "no usable answer from the admin socket " + admin_socket + ": " + answer;
    return false;
  }
  const nlohmann::json& r = reply["result"];
  out->batches = r.value("batches", uint64_t{0});
  out->records = r.value("records", uint64_t{0});
  out->fsyncs = r.value("fsyncs", uint64_t{0});
  return true;
}

}  // namespace ringdb::bench
