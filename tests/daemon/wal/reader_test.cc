// Recovery of the write-ahead log (daemon/wal/reader.h), over logs the real LogWriter wrote and
// then damaged on disk the ways a crash, a bad disk or an operator can:
//   - a clean log replays in order, and the writer goes on in the segment recovery left open;
//   - a torn tail (the shapes a crash leaves: a record cut at a sector boundary, its header
//     sector never written, a sector missing inside it) is cleared, its bytes saved aside;
//   - a bad record shaped as a finished one, a bad record with valid records after it, a
//     missing or truncated segment: strict recovery refuses and changes nothing; point-in-time
//     recovery keeps the log up to the damage and sets the rest aside;
//   - for every byte of a small three-segment log, flipped, or the file cut there, and for
//     each segment dropped: recovery either refuses, changing nothing, or recovers every
//     acknowledged commit, and any byte it changed is in a copy it reports.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
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

// Where a writer starts: a fresh log at `lsn`, or where recovery left the log.
RecoveryResult fresh_log(uint64_t lsn = 0) {
  RecoveryResult at;
  at.next_lsn = lsn;
  return at;
}

// Writes transactions first..first+count-1 (one put each, "k<txn>" = `size` bytes of 'v') with
// a real LogWriter, from `at`, and waits until all are durable (acknowledged). Returns the
// durable LSN.
uint64_t write_log(const std::string& dir, const RecoveryResult& at, uint64_t first, uint64_t count,
                   size_t size = 100, uint64_t segment_bytes = 32 << 10) {
  std::atomic<uint32_t> done{0};
  LogWriterOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.start_lsn = at.next_lsn;
  o.first_segment_id = at.next_segment_id;
  o.continue_segment = at.continue_segment;
  o.continue_offset = at.continue_offset;
  o.continue_bytes = at.continue_bytes;
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

bool try_recover(const std::string& dir, Replayed* out, RecoveryResult* r, std::string* error,
                 RecoveryMode mode = RecoveryMode::kStrict, uint64_t from_lsn = 0) {
  RecoveryOptions options;
  options.from_lsn = from_lsn;
  options.mode = mode;
  return recover(
      dir, options,
      [&](const Record& rec, std::string*) {
        out->txns.push_back(rec.txn);
        out->lsns.push_back(rec.lsn);
        CHECK(rec.ops.size() == 1);
        CHECK(rec.ops[0].key == key_of(rec.txn));
        return true;
      },
      r, error);
}

RecoveryResult recover_ok(const std::string& dir, Replayed* out, uint64_t from_lsn = 0,
                          RecoveryMode mode = RecoveryMode::kStrict) {
  RecoveryResult r;
  std::string error;
  REQUIRE_MESSAGE(try_recover(dir, out, &r, &error, mode, from_lsn), error);
  return r;
}

// Recovery refuses; returns its message.
std::string recover_refused(const std::string& dir, RecoveryResult* r = nullptr) {
  Replayed ignored;
  RecoveryResult local;
  std::string error;
  CHECK_FALSE(try_recover(dir, &ignored, r != nullptr ? r : &local, &error));
  CHECK(!error.empty());
  return error;
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path) {
  std::string data(static_cast<size_t>(fs::file_size(path)), '\0');
  const int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  CHECK(pread(fd, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  close(fd);
  return data;
}

void write_file(const std::string& path, const std::string& data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  CHECK(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  close(fd);
}

// Every file under `dir` (set-aside/ included), by path relative to it.
using Files = std::map<std::string, std::string>;
Files snapshot(const std::string& dir) {
  Files files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      files[fs::relative(e.path(), dir).string()] = read_file(e.path().string());
  }
  return files;
}

void poke(const std::string& path, uint64_t offset, char byte) {
  const int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, &byte, 1, static_cast<off_t>(offset)) == 1);
  close(fd);
}

void zero_range(const std::string& path, uint64_t from, uint64_t to) {
  std::string data = read_file(path);
  REQUIRE(to <= data.size());
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(from),
            data.begin() + static_cast<std::ptrdiff_t>(to), '\0');
  write_file(path, data);
}

std::vector<uint64_t> iota(uint64_t first, uint64_t count) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i < first + count; ++i)
    v.push_back(i);
  return v;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("recovery: a clean log over several segments replays in order; the writer goes on") {
  TempDir dir("ringdb-recovery");
  // Starting at 4096, as after a checkpoint there.
  const uint64_t end = write_log(dir.path, fresh_log(4096), 0, 600);
  Replayed replayed;
  RecoveryResult r = recover_ok(dir.path, &replayed, 4096);
  CHECK(r.end == LogEnd::kClean);
  CHECK(r.segments > 2);
  CHECK(r.first_lsn == 4096);
  CHECK(r.next_lsn == end);
  // The last segment is open and has room: the writer goes on in it.
  CHECK(r.continue_segment == dir.path + "/" + segment_files(dir.path).back());
  CHECK(r.next_segment_id == r.segments - 1);
  CHECK(replayed.txns == iota(0, 600));
  CHECK(std::is_sorted(replayed.lsns.begin(), replayed.lsns.end()));
  const size_t files = segment_files(dir.path).size();
  write_log(dir.path, r, 600, 5);
  CHECK(segment_files(dir.path).size() == files);
  // ... and on into new segments; a second recovery sees both runs as one log.
  write_log(dir.path, recover_ok(dir.path, &replayed, 4096), 605, 300);
  Replayed again;
  r = recover_ok(dir.path, &again, 4096);
  CHECK(r.end == LogEnd::kClean);
  CHECK(again.txns == iota(0, 905));
}

// A one-segment log of `count` records of 1500-byte values, and where its last record starts
// (a file offset) and ends.
struct OneSegment {
  std::string path;
  uint64_t last = 0;
  uint64_t last_end = 0;
};
OneSegment one_segment(const std::string& dir, uint64_t count) {
  const uint64_t end = write_log(dir, fresh_log(), 0, count, 1500, 1 << 20);
  const auto names = segment_files(dir);
  REQUIRE(names.size() == 1);
  Replayed all;
  recover_ok(dir, &all);
  REQUIRE(all.txns.size() == count);
  return OneSegment{dir + "/" + names[0], kSegmentHeaderSize + all.lsns.back(),
                    kSegmentHeaderSize + end};
}

TEST_CASE("recovery: a torn last write is cleared, its bytes saved aside; recovery is idempotent") {
  // The shapes a crash during the last write leaves (sectors of it never written: zeros).
  const auto sector_after = [](uint64_t at) { return (at / 512 + 1) * 512; };
  for (const std::string shape : {"cut at a sector boundary", "header never written", "a hole"}) {
    CAPTURE(shape);
    TempDir dir("ringdb-recovery");
    const OneSegment log = one_segment(dir.path, 20);
    const std::string before = read_file(log.path);
    uint64_t from = 0, to = 0;
    if (shape == "cut at a sector boundary") {
      from = sector_after(log.last + 100);
      to = log.last_end;
    } else if (shape == "header never written") {
      from = log.last;  // (the sector's first part is the record before: it was written)
      to = sector_after(log.last);
    } else {
      from = sector_after(log.last + 40);
      to = from + 512;
    }
    REQUIRE(to <= log.last_end);
    zero_range(log.path, from, to);
    const std::string torn = read_file(log.path);
    Replayed replayed;
    RecoveryResult r = recover_ok(dir.path, &replayed);
    CHECK(r.end == LogEnd::kTornTail);
    CHECK(r.damage.offset == log.last);
    CHECK(r.damage.file == log.path);
    CHECK(replayed.txns == iota(0, 19));
    // Exactly the torn bytes were cleared, after a copy of them was saved.
    CHECK(r.cleared_bytes == torn.find_last_not_of('\0') + 1 - log.last);
    REQUIRE(r.set_aside.size() == 1);
    CHECK(read_file(r.set_aside[0]) == torn.substr(log.last, r.cleared_bytes));
    const std::string after = read_file(log.path);
    CHECK(after.substr(0, log.last) == before.substr(0, log.last));
    CHECK(after.find_first_not_of('\0', log.last) == std::string::npos);
    // The writer goes on where the torn write began; then all is one clean log.
    CHECK(r.continue_segment == log.path);
    CHECK(r.continue_offset == log.last);
    write_log(dir.path, r, 100, 3, 1500, 1 << 20);
    Replayed again;
    r = recover_ok(dir.path, &again);
    CHECK(r.end == LogEnd::kClean);
    CHECK(r.cleared_bytes == 0);
    std::vector<uint64_t> expected = iota(0, 19);
    for (const uint64_t t : {uint64_t{100}, uint64_t{101}, uint64_t{102}})
      expected.push_back(t);
    CHECK(again.txns == expected);
  }
}

TEST_CASE(
    "recovery: a last record damaged in place (not torn) is refused, unless the operator chose "
    "point-in-time recovery") {
  TempDir dir("ringdb-recovery");
  const OneSegment log = one_segment(dir.path, 20);
  poke(log.path, log.last + 700, 'X');  // one byte of its value
  const Files damaged = snapshot(dir.path);
  RecoveryResult r;
  const std::string error = recover_refused(dir.path, &r);
  CHECK(contains(error, log.path + " at offset " + std::to_string(log.last)));
  CHECK(contains(error, "checksum"));
  CHECK(contains(error, "No valid record follows"));
  CHECK(r.end == LogEnd::kDamaged);
  CHECK(snapshot(dir.path) == damaged);  // nothing changed
  // Point in time: the 19 records before it; the segment copied aside first.
  Replayed replayed;
  r = recover_ok(dir.path, &replayed, 0, RecoveryMode::kPointInTime);
  CHECK(replayed.txns == iota(0, 19));
  REQUIRE(r.set_aside.size() == 1);
  CHECK(read_file(r.set_aside[0]) == damaged.begin()->second);
  Replayed again;
  CHECK(recover_ok(dir.path, &again).end == LogEnd::kClean);
  CHECK(again.txns == iota(0, 19));
}

TEST_CASE(
    "recovery: damage in a middle segment refuses and says what follows; point in time "
    "keeps the log up to it and sets the rest aside") {
  for (const bool first_record : {false, true}) {
    CAPTURE(first_record);
    TempDir dir("ringdb-recovery");
    write_log(dir.path, fresh_log(), 0, 400);
    const auto names = segment_files(dir.path);
    REQUIRE(names.size() >= 3);
    // A byte changed in the second segment: in its first record, or in a later one.
    const uint64_t offset = kSegmentHeaderSize + (first_record ? 40 : 2000);
    poke(dir.path + "/" + names[1], offset, '\x7f');
    const Files damaged = snapshot(dir.path);
    RecoveryResult r;
    const std::string error = recover_refused(dir.path, &r);
    CHECK(contains(error, names[1]));
    CHECK(contains(error, "valid records follow it"));
    CHECK(r.damage.after_records > 100);
    CHECK(snapshot(dir.path) == damaged);

    Replayed replayed;
    r = recover_ok(dir.path, &replayed, 0, RecoveryMode::kPointInTime);
    CHECK(r.end == LogEnd::kDamaged);
    const size_t kept = replayed.txns.size();
    CHECK(kept > 0);
    CHECK(replayed.txns == iota(0, kept));
    // The damaged segment copied aside, the later ones moved there, byte for byte.
    CHECK(r.set_aside.size() == names.size() - 1);
    for (size_t i = 1; i < names.size(); ++i)
      CHECK(read_file(dir.path + "/set-aside/" + names[i]) == damaged.at(names[i]));
    CHECK(segment_files(dir.path) == std::vector<std::string>{names[0], names[1]});
    // The writer can go on; the log is whole again.
    write_log(dir.path, r, 1000, 5);
    Replayed again;
    CHECK(recover_ok(dir.path, &again).end == LogEnd::kClean);
    CHECK(again.txns.size() == kept + 5);
    CHECK(again.txns.back() == 1004);
  }
}

TEST_CASE("recovery: a missing or cut segment is refused, never taken for the end of the log") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, fresh_log(), 0, 400);
  const auto names = segment_files(dir.path);
  REQUIRE(names.size() >= 3);
  const Files whole = snapshot(dir.path);
  SUBCASE("the last segment removed") {
    fs::remove(dir.path + "/" + names.back());
    CHECK(contains(recover_refused(dir.path), "which is missing"));
    // Point in time: every record of the segments left, and the writer starts the missing one.
    Replayed replayed;
    const RecoveryResult r = recover_ok(dir.path, &replayed, 0, RecoveryMode::kPointInTime);
    CHECK(r.continue_segment.empty());
    CHECK(r.next_segment_id == names.size() - 1);
    write_log(dir.path, r, 1000, 1);
    Replayed again;
    recover_ok(dir.path, &again);
    CHECK(again.txns.size() == replayed.txns.size() + 1);
  }
  SUBCASE("a middle segment removed") {
    fs::remove(dir.path + "/" + names[1]);
    const std::string error = recover_refused(dir.path);
    CHECK(contains(error, names[2]));
    CHECK(contains(error, "missing"));
  }
  SUBCASE("the last segment cut short") {
    fs::resize_file(dir.path + "/" + names.back(), 6000);
    CHECK(contains(recover_refused(dir.path), "cut short"));
  }
  SUBCASE("a middle segment cut short inside its records") {
    fs::resize_file(dir.path + "/" + names[1], 6000);
    CHECK(contains(recover_refused(dir.path), names[1]));
  }
  SUBCASE("a sealed segment cut in its zeros loses nothing") {
    const std::string data = whole.at(names[0]);
    const size_t used = data.find_last_not_of('\0') + 1;
    fs::resize_file(dir.path + "/" + names[0], used + 8);
    Replayed replayed;
    recover_ok(dir.path, &replayed);
    CHECK(replayed.txns == iota(0, 400));
  }
}

TEST_CASE("recovery: what a crash leaves while the writer makes or switches segments is removed") {
  TempDir dir("ringdb-recovery");
  const uint64_t end = write_log(dir.path, fresh_log(), 0, 10);
  Replayed replayed;
  const RecoveryResult at = recover_ok(dir.path, &replayed);
  // A segment half made under its temporary name.
  write_file(dir.path + "/" + segment_file_name(end + kSegmentEndSize) + ".new",
             std::string(100, '\0'));
  // A switch cut short: the next segment made (empty, after the seal's room), the open one not
  // yet sealed.
  std::string header(kSegmentHeaderSize, '\0');
  encode_segment_header(SegmentHeader{end + kSegmentEndSize, 1, 0, 32 << 10},
                        reinterpret_cast<std::byte*>(header.data()));
  header.resize(32 << 10);
  write_file(dir.path + "/" + segment_file_name(end + kSegmentEndSize), header);
  Replayed again;
  const RecoveryResult r = recover_ok(dir.path, &again);
  CHECK(r.removed.size() == 2);
  CHECK(r.end == LogEnd::kClean);
  CHECK(again.txns == iota(0, 10));
  CHECK(r.continue_segment == at.continue_segment);
  CHECK(segment_files(dir.path).size() == 1);
  write_log(dir.path, r, 10, 3);
  Replayed third;
  recover_ok(dir.path, &third);
  CHECK(third.txns == iota(0, 13));
}

TEST_CASE("recovery: records below the checkpoint LSN are skipped; a log ending before it fails") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, fresh_log(), 0, 100);
  Replayed all;
  recover_ok(dir.path, &all);
  Replayed tail;
  const RecoveryResult r = recover_ok(dir.path, &tail, all.lsns[60]);
  CHECK(r.skipped == 60);
  CHECK(tail.txns == iota(60, 40));
  RecoveryResult bad;
  std::string error;
  CHECK_FALSE(try_recover(dir.path, &tail, &bad, &error, RecoveryMode::kStrict, r.next_lsn + 8));
  CHECK(contains(error, "before the checkpoint"));
}

TEST_CASE(
    "recovery: segments below a checkpoint are removed, never the last, and not read; a log "
    "starting after the replay point fails") {
  TempDir dir("ringdb-recovery");
  write_log(dir.path, fresh_log(), 0, 300, 500, 8192);
  Replayed all;
  recover_ok(dir.path, &all);
  const auto names = segment_files(dir.path);
  REQUIRE(names.size() > 3);
  // Below the LSN of record 150: every segment that ends at or before it goes.
  const uint64_t cut = all.lsns[150];
  // A segment wholly below the replay point is not read: damage there does not matter.
  poke(dir.path + "/" + names[0], kSegmentHeaderSize + 40, 'X');
  Replayed from_cut;
  recover_ok(dir.path, &from_cut, cut);
  CHECK(from_cut.txns == iota(150, 150));
  std::vector<std::string> removed;
  std::string error;
  REQUIRE_MESSAGE(remove_segments_below(dir.path, cut, &removed, &error), error);
  CHECK(!removed.empty());
  CHECK(segment_files(dir.path).size() == names.size() - removed.size());
  Replayed tail;
  const RecoveryResult r = recover_ok(dir.path, &tail, cut);
  CHECK(r.first_lsn <= cut);
  CHECK(tail.txns == iota(150, 150));  // replay from the cut still has everything after it
  // Far beyond the end: all but the last segment go.
  REQUIRE_MESSAGE(remove_segments_below(dir.path, UINT64_MAX, &removed, &error), error);
  CHECK(segment_files(dir.path).size() == 1);
  // Replay from before what is left: segments are missing, and recovery says so.
  RecoveryResult bad;
  CHECK_FALSE(try_recover(dir.path, &tail, &bad, &error, RecoveryMode::kStrict, cut));
  CHECK(contains(error, "log segments are missing"));
}

TEST_CASE("recovery: an empty directory starts the log at the given LSN") {
  TempDir dir("ringdb-recovery");
  RecoveryResult r;
  std::string error;
  RecoveryOptions options;
  options.empty_lsn = 4096;
  REQUIRE(recover(
      dir.path, options, [](const Record&, std::string*) { return true; }, &r, &error));
  CHECK(r.next_lsn == 4096);
  CHECK(r.next_segment_id == 0);
  CHECK(r.segments == 0);
}

// The exhaustive test. After damage, recovery must either refuse and change nothing, or give
// back every acknowledged commit; whatever bytes it changed must be in a copy it reports.
struct Outcomes {
  uint64_t refused = 0, recovered = 0;
};

void check_one(const std::string& dir, const Files& damaged, const std::vector<uint64_t>& acked,
               Outcomes* outcomes) {
  Replayed replayed;
  RecoveryResult r;
  std::string error;
  if (!try_recover(dir, &replayed, &r, &error)) {
    ++outcomes->refused;
    CHECK(!error.empty());
    CHECK(snapshot(dir) == damaged);
    return;
  }
  ++outcomes->recovered;
  CHECK(replayed.txns == acked);
  const Files after = snapshot(dir);
  for (const auto& [name, data] : damaged) {
    const auto it = after.find(name);
    if (it == after.end()) {  // removed: only a crash's leftovers are
      CHECK(std::find(r.removed.begin(), r.removed.end(), dir + "/" + name) != r.removed.end());
      continue;
    }
    if (it->second == data) continue;
    // Changed: only a torn tail's bytes, cleared after a copy.
    CHECK(r.end == LogEnd::kTornTail);
    REQUIRE(r.set_aside.size() == 1);
    CHECK(r.damage.file == dir + "/" + name);
    CHECK(read_file(r.set_aside[0]) == data.substr(r.damage.offset, r.cleared_bytes));
    CHECK(it->second.substr(0, r.damage.offset) == data.substr(0, r.damage.offset));
  }
}

TEST_CASE("recovery, exhaustively: each byte flipped, each cut, each segment dropped") {
  // (In memory: about 50 000 recoveries, many of which sync what they change.)
  TempDir dir("ringdb-recovery", fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
  write_log(dir.path, fresh_log(), 0, 60, 100, 8192);
  const Files pristine = snapshot(dir.path);
  REQUIRE(pristine.size() == 3);
  const std::vector<uint64_t> acked = iota(0, 60);
  Outcomes flips, cuts, drops;
  // Puts `damaged` on disk (only what differs from the last run) and checks recovery over it.
  const auto run = [&](const Files& damaged, Outcomes* outcomes) {
    fs::remove_all(dir.path + "/set-aside");
    for (const auto& [name, data] : pristine) {
      const auto it = damaged.find(name);
      if (it == damaged.end()) {
        fs::remove(dir.path + "/" + name);
      } else {
        write_file(dir.path + "/" + name, it->second);
      }
    }
    check_one(dir.path, damaged, acked, outcomes);
  };
  for (const auto& file : pristine) {
    const std::string& name = file.first;
    const std::string& data = file.second;
    CAPTURE(name);
    for (uint64_t at = 0; at < data.size(); ++at) {
      CAPTURE(at);
      Files damaged = pristine;
      damaged[name][at] = static_cast<char>(~data[at]);
      run(damaged, &flips);
      damaged[name] = data.substr(0, at);
      run(damaged, &cuts);
    }
    Files dropped = pristine;
    dropped.erase(name);
    run(dropped, &drops);
  }
  MESSAGE("flips: " << flips.refused << " refused, " << flips.recovered << " recovered; cuts: "
                    << cuts.refused << " refused, " << cuts.recovered << " recovered");
  CHECK(drops.refused == 3);
  CHECK(flips.refused > 0);
  CHECK(flips.recovered > 0);
}

}  // namespace
}  // namespace ringdb::daemon::wal
