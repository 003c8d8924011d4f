#include "daemon/wal/reader.h"

#include "daemon/base/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace ringdb::daemon::wal {
namespace {

namespace fs = std::filesystem;

// The unit in which a crash can leave a write half done: a disk writes whole sectors, and the
// kernel writes back whole pages (multiples of it). Offsets in a segment's records are
// aligned as file offsets are (the header is 4096 bytes).
constexpr uint64_t kSector = 512;

uint64_t round_up(uint64_t n, uint64_t unit) {
  return (n + unit - 1) / unit * unit;
}

std::string base_name(const std::string& path) {
  return fs::path(path).filename().string();
}

// Where the non-zero bytes of `bytes` (the whole file behind `fd`) at or after `from` end;
// `from` if there are none. Skips what the file system reports as holes (a segment's
// preallocated, never written space) and looks at the rest.
uint64_t nonzero_end(int fd, std::span<const std::byte> bytes, uint64_t from) {
  const uint64_t size = bytes.size();
  uint64_t end = from;
  for (uint64_t at = from; at < size;) {
    uint64_t data = at, hole = size;
    if (const off_t d = lseek(fd, static_cast<off_t>(at), SEEK_DATA); d >= 0) {
      data = static_cast<uint64_t>(d);
      const off_t h = lseek(fd, d, SEEK_HOLE);
      hole = h >= 0 ? std::min(size, static_cast<uint64_t>(h)) : size;
    } else if (errno == ENXIO) {
      break;  // no data after `at`
    }
    for (uint64_t i = hole; i > data; --i) {
      if (bytes[i - 1] != std::byte{0}) {
        end = std::max(end, i);
        break;
      }
    }
    at = std::max(hole, data + 1);
  }
  return end;
}

// Whether some sector-aligned [p, p + kSector) within [from, to) of `records` is all zeros.
bool has_zero_sector(std::span<const std::byte> records, uint64_t from, uint64_t to) {
  for (uint64_t p = round_up(from, kSector); p + kSector <= to; p += kSector) {
    if (all_zero(records.subspan(p, kSector))) return true;
  }
  return false;
}

// The heart of telling a torn tail from corruption. The writer has one write in flight, to the
// end of the last segment; a crash during it leaves whole sectors of it unwritten (zeros, the
// preallocated space), and nothing valid after it. So damage at records offset `x` (the
// non-zero bytes ending at `t`, nothing valid after) is a torn write iff the record at x is
// one whose missing parts are whole sectors:
//   - its header is all zeros (nothing was written where it starts), or cut at a sector
//     boundary (zeros from there on; the LSN, if present, the expected one);
//   - or its header is intact (the expected LSN, a body length within bounds, ops whose lengths
//     add up to it as far as they can be read) and a sector of its body is all zeros, or its
//     body runs on past the last non-zero sector.
// A record complete in every sector but failing its checksum (a flipped bit, an overwritten
// byte) is corruption, as is a header with a wrong LSN or a body length its ops contradict.
bool torn_shaped(std::span<const std::byte> records, uint64_t x, uint64_t t, uint64_t lsn) {
  const std::span<const std::byte> rest = records.subspan(x);
  if (all_zero(rest.first(std::min<size_t>(rest.size(), kRecordHeaderSize)))) return true;
  const uint64_t written_end = round_up(t, kSector);  // zeros from here to the end
  size_t body_end = 0;
  if (!could_begin_record(rest, std::min<uint64_t>(written_end, records.size()) - x, lsn,
                          &body_end)) {
    return false;
  }
  if (body_end == 0) return true;  // its header cut at a sector boundary
  const uint64_t claimed_end = x + body_end;
  return written_end < claimed_end ||
         has_zero_sector(records, x + kRecordHeaderSize, std::min(claimed_end, t));
}

// Adds the valid records in `records` [from, to) (a segment's records starting at
// `start_lsn`), found by trying every 8-byte boundary, to the after_* fields of *damage.
void find_records_after(std::span<const std::byte> records, uint64_t from, uint64_t to,
                        uint64_t start_lsn, LogDamage* damage) {
  to = std::min<uint64_t>(to, records.size());
  const auto keep_all = [](const Record&) { return true; };
  for (uint64_t off = round_up(from, 8); off < to;) {
    const ScanResult run = scan(records.subspan(off), start_lsn + off, keep_all);
    if (run.valid_bytes == 0) {  // no valid record begins here
      off += 8;
      continue;
    }
    if (damage->after_end_lsn == 0) damage->after_first_lsn = start_lsn + off;
    damage->after_end_lsn = run.next_lsn;
    damage->after_records += run.records;
    off += std::max<uint64_t>(run.valid_bytes, 8);
  }
}

// The same over a whole later segment (its header may be damaged: the name gives the LSN).
void find_records_in(const SegmentFile& seg, LogDamage* damage) {
  MappedFile file;
  std::string ignored;
  if (!file.open(seg.path, &ignored) || file.bytes().size() <= kSegmentHeaderSize) return;
  const std::span<const std::byte> records = file.bytes().subspan(kSegmentHeaderSize);
  const uint64_t end = nonzero_end(file.fd(), file.bytes(), kSegmentHeaderSize);
  find_records_after(records, 0, end - kSegmentHeaderSize, seg.start_lsn, damage);
}

// The file operations recovery may take, each synced; none in a dry run.
class Changes {
 public:
  Changes(const std::string& dir, bool dry_run, RecoveryResult* result, std::string* error)
      : dir_(dir),
        aside_dir_(dir + "/set-aside"),
        dry_run_(dry_run),
        result_(result),
        error_(error) {}

  bool remove(const std::string& path) {
    result_->removed.push_back(path);
    if (dry_run_) return true;
    if (unlink(path.c_str()) != 0) return failed("cannot remove " + path);
    changed_dir_ = true;
    return true;
  }

  // Moves a segment into the set-aside folder.
  bool move_aside(const std::string& path) {
    std::string to;
    if (!aside_path(base_name(path), &to)) return false;
    if (!dry_run_ && rename(path.c_str(), to.c_str()) != 0)
      return failed("cannot move " + path + " to " + to);
    result_->set_aside.push_back(to);
    changed_dir_ = true;
    return true;
  }

  // Copies a whole segment into the set-aside folder.
  bool copy_aside(const std::string& path, std::span<const std::byte> bytes) {
    std::string to;
    return aside_path(base_name(path), &to) && write_aside(to, bytes);
  }

  // Saves `bytes` (a torn tail) under `name` in the set-aside folder.
  bool save_aside(const std::string& name, std::span<const std::byte> bytes) {
    std::string to;
    return aside_path(name, &to) && write_aside(to, bytes);
  }

  // Zeroes [from, to) of the file, synced.
  bool clear(const std::string& path, uint64_t from, uint64_t to) {
    result_->cleared_bytes += to - from;
    if (dry_run_ || to <= from) return true;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return failed("cannot open " + path + " to clear its damaged tail");
    static const std::vector<std::byte> zeros(1 << 20);
    bool ok = true;
    for (uint64_t at = from; ok && at < to; at += zeros.size()) {
      ok = write_at(fd, std::span(zeros).first(std::min<uint64_t>(zeros.size(), to - at)), at);
    }
    return sync_and_close(fd, ok) || failed("cannot clear the damaged tail of " + path);
  }

  // Makes the directory entries durable.
  bool sync() {
    if (dry_run_) return true;
    if (made_aside_ && !sync_dir(aside_dir_, error_)) return false;
    return !changed_dir_ || sync_dir(dir_, error_);
  }

 private:
  bool failed(const std::string& what) {
    *error_ = what + ": " + errno_text(errno);
    return false;
  }

  // A free name for `name` in the set-aside folder (made if missing): name, name.1, ...
  bool aside_path(const std::string& name, std::string* path) {
    if (!dry_run_ && !made_aside_) {
      if (mkdir(aside_dir_.c_str(), 0700) != 0 && errno != EEXIST)
        return failed("cannot create " + aside_dir_);
      made_aside_ = true;
      changed_dir_ = true;
    }
    *path = aside_dir_ + "/" + name;
    for (int n = 1; !dry_run_ && access(path->c_str(), F_OK) == 0; ++n)
      *path = aside_dir_ + "/" + name + "." + std::to_string(n);
    return true;
  }

  bool write_aside(const std::string& path, std::span<const std::byte> bytes) {
    result_->set_aside.push_back(path);
    if (dry_run_) return true;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return failed("cannot create " + path);
    return sync_and_close(fd, write_at(fd, bytes, 0)) || failed("cannot write " + path);
  }

  // Writes all of `bytes` at offset `at`; false with errno.
  static bool write_at(int fd, std::span<const std::byte> bytes, uint64_t at) {
    while (!bytes.empty()) {
      const ssize_t w = pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at));
      if (w <= 0) {
        if (w == 0) errno = EIO;
        return false;
      }
      bytes = bytes.subspan(static_cast<size_t>(w));
      at += static_cast<uint64_t>(w);
    }
    return true;
  }

  // fdatasync (if all went well so far), then close; errno is the first failure's.
  static bool sync_and_close(int fd, bool ok) {
    ok = ok && fdatasync(fd) == 0;
    const int err = errno;
    close(fd);
    errno = err;
    return ok;
  }

  const std::string dir_;
  const std::string aside_dir_;
  const bool dry_run_;
  RecoveryResult* const result_;
  std::string* const error_;
  bool made_aside_ = false;
  bool changed_dir_ = false;
};

// recover()'s walk over the segments, in LSN order.
class Recovery {
 public:
  using Apply = std::function<bool(const Record&, std::string* error)>;

  Recovery(const std::string& dir, const RecoveryOptions& options, const Apply& apply,
           RecoveryResult* result, std::string* error)
      : options_(options),
        apply_(apply),
        result_(result),
        error_(error),
        changes_(dir, options.dry_run, result, error),
        from_lsn_(options.from_lsn),
        lsn_(options.empty_lsn) {}

  bool run(const std::vector<SegmentFile>& segments, const std::vector<std::string>& unfinished) {
    segments_ = &segments;
    for (const std::string& path : unfinished) {
      if (!changes_.remove(path)) return false;
    }
    if (options_.whole_log && !segments.empty()) from_lsn_ = segments.front().start_lsn;
    // Segments wholly below from_lsn (their successor starts at or below it) are not needed.
    size_t first = 0;
    while (first + 1 < segments.size() && segments[first + 1].start_lsn <= from_lsn_)
      ++first;
    if (!segments.empty() && segments[first].start_lsn > from_lsn_) {
      *error_ = "the log starts at LSN " + std::to_string(segments[first].start_lsn) + " (" +
                segments[first].path + "), after LSN " + std::to_string(from_lsn_) +
                " where replay must begin: log segments are missing" +
                (from_lsn_ == 0 ? " (and there is no valid checkpoint)" : "");
      return false;
    }
    for (size_t i = first; i < segments.size(); ++i) {
      const Step step = segment(i);
      if (step == Step::kFailed) return false;
      if (step == Step::kStop) break;
    }
    if (result_->end == LogEnd::kDamaged && !act_on_damage()) return false;
    return changes_.sync() && finish();
  }

 private:
  enum class Step { kNext, kStop, kFailed };

  // The last segment whose records are kept.
  struct Kept {
    std::string path;
    SegmentHeader header;
    uint64_t end = 0;  // the file offset where its valid records (and seal) end
    bool sealed = false;
    bool truncated = false;  // shorter than it was made
    bool valid = false;
  };

  // What point-in-time recovery does about the damage found.
  struct Cut {
    size_t move_from = SIZE_MAX;  // segments from this index on are moved aside
    std::string clear_path;       // this segment is copied aside, then cleared in [from, to)
    uint64_t clear_from = 0;
    uint64_t clear_to = 0;
  };

  Step segment(size_t i) {
    const SegmentFile& seg = (*segments_)[i];
    const bool last = i + 1 == segments_->size();
    MappedFile file;
    if (!file.open(seg.path, error_)) return Step::kFailed;
    const std::span<const std::byte> bytes = file.bytes();
    SegmentHeader h;
    const char* why = "";
    if (!decode_segment_header(bytes, &h, &why) || h.start_lsn != seg.start_lsn) {
      if (!have_lsn_) lsn_ = seg.start_lsn;
      have_lsn_ = true;
      Cut cut;
      cut.move_from = i;
      return damaged(LogDamage{seg.path, 0, lsn_,
                               *why != '\0' ? why : "its header and its file name disagree"},
                     i + 1, cut);
    }
    // Where its non-zero bytes end: looked for only where needed (a sealed segment, most of a
    // long log, never needs it; for a preallocated file the search may read to its end).
    uint64_t written_at = 0;
    const auto written = [&] {
      if (written_at == 0) written_at = nonzero_end(file.fd(), bytes, kSegmentHeaderSize);
      return written_at;
    };
    if (have_lsn_) {
      if (Step step; !continues(i, h, last ? written() : 0, &step)) return step;
    } else {
      result_->first_lsn = h.start_lsn;
      lsn_ = h.start_lsn;
      have_lsn_ = true;
    }
    ++result_->segments;
    const std::span<const std::byte> records = bytes.subspan(kSegmentHeaderSize);
    ScanResult r;
    if (!replay_records(records, &r)) return Step::kFailed;
    lsn_ = r.next_lsn;
    const uint64_t x = kSegmentHeaderSize + r.valid_bytes;
    const bool truncated = h.version >= 2 && bytes.size() < h.file_bytes;
    const Kept previous = kept_;
    kept_ = Kept{seg.path, h, x, r.end == ScanEnd::kSegmentEnd, truncated, true};
    if (kept_.sealed) {
      if (!last) return Step::kNext;
      return damaged(LogDamage{seg.path, x, lsn_,
                               "the segment is sealed: the log goes on in segment " +
                                   std::to_string(h.segment_id + 1) + " (" +
                                   segment_file_name(lsn_) + "), which is missing"},
                     i + 1, Cut{});
    }
    if (truncated) {  // (a segment is made whole before it takes its name)
      return damaged(
          LogDamage{seg.path, x, lsn_,
                    "the file is " + std::to_string(bytes.size()) + " bytes, but was made " +
                        std::to_string(h.file_bytes) + ": cut short, and what followed is lost"},
          i + 1, keep_or_move(i, previous, h, Cut{}));
    }
    if (written() <= x) {  // zeros after the records: the clean end of this segment
      if (last && x == kSegmentHeaderSize && !continuable()) {
        // Created, never written, and not to be continued: the writer makes it again.
        kept_ = previous;
        next_id_ = h.segment_id;
        return changes_.remove(seg.path) ? Step::kStop : Step::kFailed;
      }
      return Step::kNext;
    }
    // Non-zero bytes the scan did not accept: a torn tail or damage.
    LogDamage damage{
        seg.path, x, lsn_,
        r.end == ScanEnd::kEndOfLog ? "bytes after the end of the records" : std::string(r.why)};
    find_records_after(records, r.valid_bytes + 8, written() - kSegmentHeaderSize, h.start_lsn,
                       &damage);
    if (last && damage.after_end_lsn == 0 &&
        torn_shaped(records, r.valid_bytes, written() - kSegmentHeaderSize, lsn_)) {
      return torn_tail(damage, bytes, written());
    }
    Cut cut;
    cut.clear_path = seg.path;
    cut.clear_from = x;
    cut.clear_to = written();
    return damaged(std::move(damage), i + 1, keep_or_move(i, previous, h, cut));
  }

  // For damage in segment i (header h): what point-in-time recovery does with it. A segment
  // with valid records, or one the writer can go on in, is kept (`keep`: copied aside and
  // cleared after the damage); any other is moved aside whole, and the writer makes a new one
  // in its place.
  Cut keep_or_move(size_t i, const Kept& previous, const SegmentHeader& h, Cut keep) {
    keep.move_from = i + 1;
    if (kept_.end > kSegmentHeaderSize || continuable()) return keep;
    kept_ = previous;
    next_id_ = h.segment_id;
    Cut move;
    move.move_from = i;
    return move;
  }

  // Whether segment i (header h; if it is the last, its non-zero bytes end at `written`)
  // continues the kept one; if not, *step says what to do.
  bool continues(size_t i, const SegmentHeader& h, uint64_t written, Step* step) {
    const SegmentFile& seg = (*segments_)[i];
    const bool last = i + 1 == segments_->size();
    const bool kept_v2_open = kept_.header.version >= 2 && !kept_.sealed;
    if (last && written == kSegmentHeaderSize && kept_v2_open &&
        h.start_lsn == lsn_ + kSegmentEndSize) {
      // The writer made it and crashed before sealing the one before: a switch cut short.
      *step = changes_.remove(seg.path) ? Step::kStop : Step::kFailed;
      return false;
    }
    std::string why;
    if (h.start_lsn != lsn_) {
      why = "the next segment, " + base_name(seg.path) + ", starts at LSN " +
            std::to_string(h.start_lsn) +
            (h.start_lsn > lsn_
                 ? ": the log between is missing (a segment removed, or this one cut short)"
                 : ": it overlaps this one");
    } else if (kept_v2_open) {
      why = "the segment has no segment-end record, yet " + base_name(seg.path) +
            " follows it: its end was lost (cut short, or overwritten)";
    } else {
      return true;
    }
    Cut cut;
    cut.move_from = i;
    *step = damaged(LogDamage{kept_.path, kept_.end, lsn_, why}, i, cut);
    return false;
  }

  bool replay_records(std::span<const std::byte> records, ScanResult* r) {
    std::string apply_error;
    bool apply_failed = false;
    *r = scan(records, lsn_, [&](const Record& rec) {
      if (rec.lsn < from_lsn_) {
        ++result_->skipped;
        return true;
      }
      if (!apply_(rec, &apply_error)) {
        apply_failed = true;
        return false;
      }
      ++result_->records;
      return true;
    });
    if (apply_failed) {
      *error_ =
          "replaying the log record at LSN " + std::to_string(r->next_lsn) + ": " + apply_error;
    }
    return !apply_failed;
  }

  // The last write was cut short: its bytes are saved aside, then cleared.
  Step torn_tail(const LogDamage& damage, std::span<const std::byte> bytes, uint64_t written) {
    result_->end = LogEnd::kTornTail;
    result_->damage = damage;
    const std::string name = base_name(damage.file) + ".torn-at-" + std::to_string(damage.offset);
    const bool ok =
        changes_.save_aside(name, bytes.subspan(damage.offset, written - damage.offset)) &&
        changes_.clear(damage.file, damage.offset, written);
    return ok ? Step::kStop : Step::kFailed;
  }

  // Damage: the valid records in segments from `later` on are counted into it; what point-in-
  // time recovery would do is kept for act_on_damage().
  Step damaged(LogDamage damage, size_t later, const Cut& cut) {
    for (size_t j = later; j < segments_->size(); ++j)
      find_records_in((*segments_)[j], &damage);
    result_->end = LogEnd::kDamaged;
    result_->damage = std::move(damage);
    cut_ = cut;
    return Step::kStop;
  }

  bool act_on_damage() {
    if (options_.dry_run) return true;
    if (options_.mode == RecoveryMode::kStrict) {
      *error_ = describe_damage(result_->damage);
      return false;
    }
    if (!cut_.clear_path.empty()) {
      MappedFile file;
      if (!file.open(cut_.clear_path, error_) ||
          !changes_.copy_aside(cut_.clear_path, file.bytes()) ||
          !changes_.clear(cut_.clear_path, cut_.clear_from, cut_.clear_to)) {
        return false;
      }
    }
    for (size_t j = cut_.move_from; j < segments_->size(); ++j) {
      if (!changes_.move_aside((*segments_)[j].path)) return false;
    }
    return true;
  }

  // The kept segment can take more records: version 2, open, and as large as it was made.
  bool continuable() const {
    return kept_.valid && kept_.header.version >= 2 && !kept_.sealed && !kept_.truncated &&
           kept_.end + kSegmentEndSize <= kept_.header.file_bytes;
  }

  // The log must reach from_lsn; where the writer goes on.
  bool finish() {
    if (have_lsn_ && from_lsn_ > lsn_) {
      *error_ = "the log ends at LSN " + std::to_string(lsn_) + ", before the checkpoint's LSN " +
                std::to_string(from_lsn_) + ": log segments are missing";
      return false;
    }
    result_->next_lsn = have_lsn_ ? lsn_ : std::max(options_.empty_lsn, from_lsn_);
    if (continuable()) {
      result_->continue_segment = kept_.path;
      result_->continue_offset = kept_.end;
      result_->continue_bytes = kept_.header.file_bytes;
      result_->next_segment_id = kept_.header.segment_id;
    } else {
      result_->next_segment_id =
          kept_.valid ? std::max(next_id_, kept_.header.segment_id + 1) : next_id_;
    }
    return true;
  }

  const RecoveryOptions& options_;
  const Apply& apply_;
  RecoveryResult* const result_;
  std::string* const error_;
  Changes changes_;
  const std::vector<SegmentFile>* segments_ = nullptr;
  uint64_t from_lsn_;      // replay from here
  uint64_t lsn_;           // where the next record must start
  bool have_lsn_ = false;  // lsn_ was set by the first segment read
  Kept kept_;
  uint64_t next_id_ = 0;  // the id of a removed empty last segment (the writer makes it again)
  Cut cut_;
};

}  // namespace

bool list_segments(const std::string& dir, std::vector<SegmentFile>* segments, std::string* error,
                   std::vector<std::string>* unfinished) {
  segments->clear();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    uint64_t lsn;
    if (parse_segment_file_name(name, &lsn)) {
      segments->push_back(SegmentFile{lsn, e.path().string()});
    } else if (unfinished != nullptr && name.ends_with(kNewSegmentSuffix) &&
               parse_segment_file_name(name.substr(0, name.size() - kNewSegmentSuffix.size()),
                                       &lsn)) {
      unfinished->push_back(e.path().string());
    }
  }
  if (ec) {
    *error = "cannot list the log directory " + dir + ": " + ec.message();
    return false;
  }
  std::sort(segments->begin(), segments->end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.start_lsn < b.start_lsn; });
  return true;
}

const char* log_end_name(LogEnd end) {
  switch (end) {
    case LogEnd::kClean:
      return "clean";
    case LogEnd::kTornTail:
      return "torn tail";
    case LogEnd::kDamaged:
      return "damaged";
  }
  return "?";
}

std::string describe_damage(const LogDamage& d) {
  std::string s = d.file + " at offset " + std::to_string(d.offset) + " (LSN " +
                  std::to_string(d.lsn) + "): " + d.why + ". ";
  if (d.after_end_lsn != 0) {
    s += std::to_string(d.after_records) + " valid records follow it (LSN " +
         std::to_string(d.after_first_lsn) + " to " + std::to_string(d.after_end_lsn) +
         "); cutting the log there loses them";
  } else {
    s += "No valid record follows it";
  }
  return s;
}

bool remove_segments_below(const std::string& dir, uint64_t lsn, std::vector<std::string>* removed,
                           std::string* error) {
  removed->clear();
  std::vector<SegmentFile> segments;
  if (!list_segments(dir, &segments, error)) return false;
  // Segment i holds LSNs [start_i, start_i+1): all below `lsn` iff start_i+1 <= lsn. The last
  // one is never removed (the writer appends to it).
  for (size_t i = 0; i + 1 < segments.size() && segments[i + 1].start_lsn <= lsn; ++i) {
    if (unlink(segments[i].path.c_str()) != 0) {
      *error = "cannot remove the log segment " + segments[i].path + ": " + strerror(errno);
      return false;
    }
    removed->push_back(segments[i].path);
  }
  return removed->empty() || sync_dir(dir, error);
}

bool recover(const std::string& dir, const RecoveryOptions& options,
             const std::function<bool(const Record&, std::string* error)>& apply,
             RecoveryResult* result, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  *result = RecoveryResult{};
  std::vector<SegmentFile> segments;
  std::vector<std::string> unfinished;
  if (!list_segments(dir, &segments, error, &unfinished)) return false;
  Recovery recovery(dir, options, apply, result, error);
  if (!recovery.run(segments, unfinished)) return false;
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return true;
}

}  // namespace ringdb::daemon::wal
