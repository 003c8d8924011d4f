// Recovery of the write-ahead log (daemon/wal/reader.h), over logs the real LogWriter wrote
// and then damaged on disk: a clean log over several segments replays in order and the writer
// goes on after it; a torn tail is zeroed and recovery is idempotent; corruption in a middle
// segment sets the later segments aside; records below a checkpoint's LSN are skipped; an
// empty last segment is removed; a log that ends before the checkpoint is an error.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/wal/reader.h"
#include "daemon/wal/writer.h"
#include "sync/futex.h"
#include "tests/daemon/wal/fn_sink.h"
#include "tests/support/temp_dir.h"

namespace ringdb::daemon::wal {
namespace {

namespace fs = std::filesystem;
using ringdb::test::TempDir;

// "k" + decimal t (not `"k" + std::to_string(t)`: GCC 12 -O3 warns falsely, bug 105329).
std::string key_of(uint64_t t) {
  std::string s = "k";
  s += std::to_string(t);
  return s;
}

// Writes transactions first..first+count-1 (one put each, "k<txn>" = value of `size` bytes)
// with a real LogWriter and waits until all are durable. Returns the durable LSN.
uint64_t write_log(const std::string& dir, uint64_t start_lsn, uint64_t segment_id, uint64_t first,
                   uint64_t count, size_t size = 100, uint64_t segment_bytes = 32 << 10) {
  std::atomic<uint32_t> done{0};
  LogWriterOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.start_lsn = start_lsn;
  o.first_segment_id = segment_id;
  std::string error;
  FnSink sink([&](const Completion& c) {
    CHECK(c.status == LogStatus::kOk);
    done.fetch_add(1);
    sync::futex_wake_all(&done, sync::Sharing::kProcessPrivate);
  });
  auto writer = LogWriter::open(
      o, {&sink}, [](const std::string& reason) { FAIL_CHECK(reason); }, &error);
  REQUIRE_MESSAGE(writer, error);
  const std::string value(size, 'v');
  for (uint64_t t = first; t < first + count; ++t) {
    const std::string key = key_of(t);
    const Op op[] = {{OpKind::kPut, key, value}};
    REQUIRE(writer->append(t, op, 0, t) == LogStatus::kOk);
  }
  for (uint32_t d; (d = done.load()) < count;)
    sync::futex_wait(&done, d, sync::Sharing::kProcessPrivate);
  writer->stop();
  return writer->durable_lsn();
}

struct Replayed {
  std::vector<uint64_t> txns;
  std::vector<uint64_t> lsns;
};

RecoveryResult recover_ok(const std::string& dir, Replayed* out, uint64_t from_lsn = 0) {
  RecoveryResult r;
  std::string error;
  const bool ok = recover(
      dir, from_lsn, 0,
      [&](const Record& rec, std::string*) {
        out->txns.push_back(rec.txn);
        out->lsns.push_back(rec.lsn);
        CHECK(rec.ops.size() == 1);
        CHECK(rec.ops[0].key == key_of(rec.txn));
        return true;
      },
      &r, &error);
  REQUIRE_MESSAGE(ok, error);
  return r;
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void damage(const std::string& path, uint64_t offset, char byte) {
  const int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, &byte, 1, static_cast<off_t>(offset)) == 1);
  close(fd);
}

std::vector<uint64_t> iota(uint64_t first, uint64_t count) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i < first + count; ++i)
    v.push_back(i);
  return v;
}

TEST_CASE("recovery: a clean log over several segments replays in order; the writer goes on") {
  TempDir dir("ringdb-recovery");
  // Starting at 4096, as after a checkpoint there.
  const uint64_t end = write_log(dir.path, 4096, 0, 0, 600);
  Replayed replayed;
  RecoveryResult r = recover_ok(dir.path, &replayed, 4096);
  CHECK(r.end == ScanEnd::kEndOfLog);
  CHECK(r.segments > 2);
  CHECK(r.first_lsn == 4096);
  CHECK(r.next_lsn == end);
  CHECK(r.next_segment_id == r.segments);
  CHECK(replayed.txns == iota(0, 600));
  CHECK(std::is_sorted(replayed.lsns.begin(), replayed.lsns.end()));
  // The writer continues where recovery says; a second recovery sees both runs as one log.
  write_log(dir.path, r.next_lsn, r.next_segment_id, 600, 50);
  Replayed again;
  r = recover_ok(dir.path, &again, 4096);
  CHECK(again.txns == iota(0, 650));
}

TEST_CASE("recovery: a torn last record is cut off and its bytes zeroed; recovery is idempotent") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, 0, 0, 0, 20, 500, 1 << 20);  // one segment
  const auto names = segment_files(dir.path);
  REQUIRE(names.size() == 1);
  const std::string seg = dir.path + "/" + names[0];
  // The last record starts 19 records in; damage a byte in its body (a torn page).
  Replayed before;
  recover_ok(dir.path, &before);
  const uint64_t last_offset = kSegmentHeaderSize + before.lsns.back();
  damage(seg, last_offset + 100, 'X');
  Replayed replayed;
  RecoveryResult r = recover_ok(dir.path, &replayed);
  CHECK(r.end == ScanEnd::kCorrupt);
  CHECK(r.stopped_at.find(names[0]) != std::string::npos);
  CHECK(replayed.txns == iota(0, 19));
  CHECK(r.next_lsn == before.lsns.back());
  CHECK(r.zeroed_bytes == (1 << 20) - last_offset);
  Replayed again;
  r = recover_ok(dir.path, &again);
  CHECK(r.end == ScanEnd::kEndOfLog);
  CHECK(r.zeroed_bytes == 0);
  CHECK(again.txns == iota(0, 19));
}

TEST_CASE("recovery: corruption in a middle segment sets the later segments aside") {
  for (const bool first_record : {false, true}) {
    CAPTURE(first_record);
    TempDir dir("ringdb-recovery");
    write_log(dir.path, 0, 0, 0, 400);
    const auto names = segment_files(dir.path);
    REQUIRE(names.size() >= 3);
    // A byte changed in the second segment: in its first record (nothing of the segment is
    // kept: it is set aside too), or in a later one (its tail is zeroed).
    const uint64_t offset = kSegmentHeaderSize + (first_record ? 40 : 2000);
    damage(dir.path + "/" + names[1], offset, '\x7f');
    Replayed replayed;
    const RecoveryResult r = recover_ok(dir.path, &replayed);
    CHECK(r.end == ScanEnd::kCorrupt);
    CHECK(r.discarded.size() == names.size() - (first_record ? 1 : 2));
    CHECK(r.next_segment_id == (first_record ? 1 : 2));
    CHECK((r.zeroed_bytes != 0) == !first_record);
    const size_t kept = replayed.txns.size();
    CHECK(kept > 0);
    CHECK(replayed.txns == iota(0, kept));
    // The writer can go on; the discarded files stay for an operator, and are never read.
    write_log(dir.path, r.next_lsn, r.next_segment_id, 1000, 5);
    Replayed again;
    recover_ok(dir.path, &again);
    CHECK(again.txns.size() == kept + 5);
    CHECK(again.txns.back() == 1004);
  }
}

TEST_CASE("recovery: records below the checkpoint LSN are skipped; a log ending before it fails") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, 0, 0, 0, 100);
  Replayed all;
  recover_ok(dir.path, &all);
  Replayed tail;
  const RecoveryResult r = recover_ok(dir.path, &tail, all.lsns[60]);
  CHECK(r.skipped == 60);
  CHECK(tail.txns == iota(60, 40));
  RecoveryResult bad;
  std::string error;
  CHECK_FALSE(recover(
      dir.path, r.next_lsn + 8, 0, [](const Record&, std::string*) { return true; }, &bad, &error));
  CHECK(error.find("before the checkpoint") != std::string::npos);
}

TEST_CASE(
    "recovery: segments below a checkpoint are removed, never the last; a log starting "
    "after the replay point fails") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, 0, 0, 0, 300, 500, 8192);
  Replayed all;
  recover_ok(dir.path, &all);
  const size_t segments = segment_files(dir.path).size();
  REQUIRE(segments > 3);
  // Below the LSN of record 150: every segment that ends at or before it goes.
  const uint64_t cut = all.lsns[150];
  std::vector<std::string> removed;
  std::string error;
  REQUIRE_MESSAGE(remove_segments_below(dir.path, cut, &removed, &error), error);
  CHECK(!removed.empty());
  CHECK(segment_files(dir.path).size() == segments - removed.size());
  Replayed tail;
  const RecoveryResult r = recover_ok(dir.path, &tail, cut);
  CHECK(r.first_lsn <= cut);
  CHECK(tail.txns == iota(150, 150));  // replay from the cut still has everything after it
  // Far beyond the end: all but the last segment go.
  REQUIRE_MESSAGE(remove_segments_below(dir.path, UINT64_MAX, &removed, &error), error);
  CHECK(segment_files(dir.path).size() == 1);
  // Replay from before what is left: segments are missing, and recovery says so.
  RecoveryResult bad;
  CHECK_FALSE(recover(
      dir.path, cut, 0, [](const Record&, std::string*) { return true; }, &bad, &error));
  CHECK(error.find("log segments are missing") != std::string::npos);
}

TEST_CASE("recovery: an empty last segment is removed, so the writer can start it again") {
  TempDir dir("ringdb-recovery");
  const uint64_t end = write_log(dir.path, 0, 0, 0, 10);
  // A writer that created its segment and died before writing anything.
  write_log(dir.path, end, 1, 10, 0);
  REQUIRE(segment_files(dir.path).size() == 2);
  Replayed replayed;
  const RecoveryResult r = recover_ok(dir.path, &replayed);
  CHECK(segment_files(dir.path).size() == 1);
  CHECK(r.next_lsn == end);
  CHECK(r.next_segment_id == 1);
  write_log(dir.path, r.next_lsn, r.next_segment_id, 10, 3);
  Replayed again;
  recover_ok(dir.path, &again);
  CHECK(again.txns == iota(0, 13));
}

TEST_CASE("recovery: an empty directory starts the log at the given LSN") {
  TempDir dir("ringdb-recovery");
  RecoveryResult r;
  std::string error;
  REQUIRE(recover(
      dir.path, 0, 4096, [](const Record&, std::string*) { return true; }, &r, &error));
  CHECK(r.next_lsn == 4096);
  CHECK(r.next_segment_id == 0);
  CHECK(r.segments == 0);
}

}  // namespace
}  // namespace ringdb::daemon::wal
