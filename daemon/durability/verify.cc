#include "daemon/durability/verify.h"

#include <sys/stat.h>

#include <cerrno>

#include "daemon/base/file_util.h"
#include "daemon/durability/checkpoint.h"
#include "daemon/engine/engine.h"

namespace ringdb::daemon {
namespace {

// The largest key and value a checkpoint may hold: the largest any configuration allows.
constexpr CheckpointLimits kWidestLimits{kKeySizeMaxLimit, kValueSizeMaxLimit};

void verify_checkpoints(const std::string& dir, VerifyReport* report) {
  std::vector<CheckpointInfo> found;
  std::vector<std::string> unusable;
  std::string error;
  if (!list_checkpoints(dir, &found, &error, &unusable)) {
    report->problems.push_back(error);
    return;
  }
  for (const std::string& why : unusable)
    report->problems.push_back("checkpoint " + why);
  for (const CheckpointInfo& listed : found) {
    VerifyReport::Checkpoint c;
    c.path = listed.path;
    c.seq = listed.seq;
    c.wal_lsn = listed.wal_lsn;
    CheckpointInfo info;
    c.ok = load_checkpoint(
        listed.path, kWidestLimits,
        [](std::string_view, std::string_view, std::string*) { return true; }, &info, &c.error);
    c.keys = info.keys;
    if (!c.ok) report->problems.push_back("checkpoint " + listed.path + ": " + c.error);
    report->checkpoints.push_back(std::move(c));
  }
}

void verify_log(const std::string& dir, VerifyReport* report) {
  wal::RecoveryOptions options;
  options.dry_run = true;
  options.whole_log = true;
  std::string error;
  if (!wal::recover(
          dir, options, [](const wal::Record&, std::string*) { return true; }, &report->log,
          &error)) {
    report->problems.push_back("log: " + error);
    return;
  }
  if (report->log.end == wal::LogEnd::kDamaged)
    report->problems.push_back("log: " + wal::describe_damage(report->log.damage));
}

// Recovery starts from the newest good checkpoint and replays the log from its LSN: the log
// must hold that stretch (or, without a checkpoint, start at the beginning).
void verify_replay_point(VerifyReport* report) {
  const wal::RecoveryResult& log = report->log;
  const bool have_log = log.segments > 0;
  for (const VerifyReport::Checkpoint& c : report->checkpoints) {
    if (!c.ok) continue;
    if (!have_log || c.wal_lsn < log.first_lsn || c.wal_lsn > log.next_lsn) {
      report->problems.push_back("checkpoint " + c.path + " replays the log from LSN " +
                                 std::to_string(c.wal_lsn) + ", which the log does not hold" +
                                 (have_log ? " (it holds LSN " + std::to_string(log.first_lsn) +
                                                 " to " + std::to_string(log.next_lsn) + ")"
                                           : " (there is no log)"));
    }
    return;
  }
  if (have_log && log.first_lsn != 0) {
    report->problems.push_back("the log starts at LSN " + std::to_string(log.first_lsn) +
                               " and no good checkpoint holds what came before");
  }
}

}  // namespace

bool verify_data_dir(const std::string& data_dir, VerifyReport* report, std::string* error) {
  *report = VerifyReport{};
  const auto is_dir = [](const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    errno = ENOTDIR;
    return S_ISDIR(st.st_mode);
  };
  if (!is_dir(data_dir)) {
    *error = "cannot read the data directory " + data_dir + ": " + errno_text(errno);
    return false;
  }
  const std::string wal = data_dir + "/wal", checkpoints = data_dir + "/checkpoints";
  const bool have_wal = is_dir(wal), have_checkpoints = is_dir(checkpoints);
  if (!have_wal && !have_checkpoints) {
    *error = data_dir + " holds no ringdb data (neither wal/ nor checkpoints/)";
    return false;
  }
  // A daemon that ran here made both.
  if (have_checkpoints) {
    verify_checkpoints(checkpoints, report);
  } else {
    report->problems.push_back(checkpoints + " is missing");
  }
  if (have_wal) {
    verify_log(wal, report);
  } else {
    report->problems.push_back(wal + " is missing");
  }
  verify_replay_point(report);
  return true;
}

}  // namespace ringdb::daemon
