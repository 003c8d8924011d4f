#include "tools/admin/verify.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "daemon/durability/verify.h"

namespace ringdb::admin {
namespace {

using json = nlohmann::ordered_json;
using daemon::VerifyReport;

json to_json(const std::string& data_dir, const VerifyReport& report) {
  json checkpoints = json::array();
  for (const VerifyReport::Checkpoint& c : report.checkpoints) {
    json one = {{"path", c.path}, {"seq", c.seq}, {"wal_lsn", c.wal_lsn}, {"ok", c.ok}};
    if (c.ok) {
      one["keys"] = c.keys;
    } else {
      one["error"] = c.error;
    }
    checkpoints.push_back(one);
  }
  const daemon::wal::RecoveryResult& log = report.log;
  json log_json = {{"segments", log.segments},
                   {"records", log.records},
                   {"first_lsn", log.first_lsn},
                   {"end_lsn", log.next_lsn},
                   {"end", daemon::wal::log_end_name(log.end)}};
  if (log.end != daemon::wal::LogEnd::kClean) {
    log_json["damage"] = {{"file", log.damage.file},
                          {"offset", log.damage.offset},
                          {"lsn", log.damage.lsn},
                          {"why", log.damage.why},
                          {"records_after", log.damage.after_records}};
  }
  return {{"data_dir", data_dir},
          {"ok", !report.damaged()},
          {"problems", report.problems},
          {"checkpoints", checkpoints},
          {"log", log_json}};
}

void print_text(const std::string& data_dir, const VerifyReport& report) {
  printf("data directory %s\n", data_dir.c_str());
  printf("checkpoints: %zu\n", report.checkpoints.size());
  for (const VerifyReport::Checkpoint& c : report.checkpoints) {
    if (c.ok) {
      printf("  %s  seq %lu, replay from LSN %lu, %lu keys: ok\n", c.path.c_str(),
             static_cast<unsigned long>(c.seq), static_cast<unsigned long>(c.wal_lsn),
             static_cast<unsigned long>(c.keys));
    } else {
      printf("  %s  seq %lu: DAMAGED: %s\n", c.path.c_str(), static_cast<unsigned long>(c.seq),
             c.error.c_str());
    }
  }
  const daemon::wal::RecoveryResult& log = report.log;
  printf("log: %lu segments, LSN %lu to %lu, %lu records, %s end\n",
         static_cast<unsigned long>(log.segments), static_cast<unsigned long>(log.first_lsn),
         static_cast<unsigned long>(log.next_lsn), static_cast<unsigned long>(log.records),
         daemon::wal::log_end_name(log.end));
  if (log.end == daemon::wal::LogEnd::kTornTail) {
    printf(
        "  the last write was cut short by a crash (never acknowledged; ringdbd clears it "
        "at start): %s\n",
        daemon::wal::describe_damage(log.damage).c_str());
  }
  if (!report.damaged()) {
    printf("result: ok\n");
    return;
  }
  printf("result: DAMAGED (%zu problems)\n", report.problems.size());
  for (const std::string& p : report.problems)
    printf("  - %s\n", p.c_str());
  printf("ringdbd refuses to start on a damaged log; docs/OPERATIONS.md says what to do.\n");
}

}  // namespace

int verify_command(const std::string& data_dir, bool as_json) {
  VerifyReport report;
  std::string error;
  if (!daemon::verify_data_dir(data_dir, &report, &error)) {
    if (as_json) {
      printf("%s\n", json{{"ok", false}, {"error", error}}.dump().c_str());
    } else {
      fprintf(stderr, "ringdb-admin: %s\n", error.c_str());
    }
    return 1;
  }
  if (as_json) {
    printf("%s\n", to_json(data_dir, report).dump().c_str());
  } else {
    print_text(data_dir, report);
  }
  return report.damaged() ? 1 : 0;
}

}  // namespace ringdb::admin
