#include "tools/bench/wal_counters.h"

#include <nlohmann/json.hpp>

#include "tools/admin/admin_client.h"

namespace ringdb::bench {

bool admin_result(const std::string& admin_socket, const char* cmd, nlohmann::json* result,
                  std::string* error) {
  std::string answer;
  const std::string request = std::string(R"({"v":1,"cmd":")") + cmd + "\"}";
  if (!admin::exchange(admin_socket, request, 10'000, &answer, error)) return false;
  nlohmann::json reply = nlohmann::json::parse(answer, nullptr, false);
  if (reply.is_discarded() || !reply.is_object() || !reply.value("ok", false) ||
      !reply.contains("result") || !reply["result"].is_object()) {
    *error = "no usable answer to " + std::string(cmd) + " from the admin socket " + admin_socket +
             ": " + answer;
    return false;
  }
  *result = reply["result"];
  return true;
}

bool read_wal_counters(const std::string& admin_socket, WalCounters* out, std::string* error) {
  nlohmann::json r;
  if (!admin_result(admin_socket, "wal", &r, error)) return false;
  out->batches = r.value("batches", uint64_t{0});
  out->records = r.value("records", uint64_t{0});
  out->fsyncs = r.value("fsyncs", uint64_t{0});
  return true;
}

}  // namespace ringdb::bench
