#include "daemon/durability/checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "daemon/base/crc32c.h"
#include "daemon/base/file_util.h"
#include "daemon/base/log.h"
#include "daemon/wal/reader.h"
#include "sync/clock.h"
#include "sync/thread_name.h"

namespace ringdb::daemon {
namespace {

namespace fs = std::filesystem;

// The file (little-endian; docs/STORAGE.md):
//   header   64 bytes: magic "RDBCKP01", version, header bytes (64 + 8 x active), seq,
//            wal_lsn, next_trx, snapshot_csn, created_ns, active count, header CRC32C
//            (over the 60 bytes before it, then the active ids)
//   active   u64 ids, ascending
//   entries  u32 key length, u32 value length, key, value — in key order
//   trailer  32 bytes: magic "RDBCKEND", keys, entry bytes, CRC32C of all bytes before the
//            trailer, CRC32C of the trailer's first 28 bytes
constexpr uint64_t kHeaderMagic = 0x3130504b43424452;   // "RDBCKP01" little-endian
constexpr uint64_t kTrailerMagic = 0x444e454b43424452;  // "RDBCKEND" little-endian
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kTrailerSize = 32;
constexpr size_t kEntryHeaderSize = 8;
constexpr size_t kActiveMax = 1u << 20;  // a bound for the reader: a corrupt count can't be huge
// Header fields.
constexpr size_t kMagicAt = 0, kVersionAt = 8, kHeaderBytesAt = 12, kSeqAt = 16, kWalLsnAt = 24,
                 kNextTrxAt = 32, kCsnAt = 40, kCreatedAt = 48, kActiveCountAt = 56,
                 kHeaderCrcAt = 60;
// Trailer fields.
constexpr size_t kEndMagicAt = 0, kKeysAt = 8, kEntryBytesAt = 16, kFileCrcAt = 24,
                 kTrailerCrcAt = 28;

constexpr size_t kScanKeysMax = 4096;
constexpr size_t kScanBytesMax = size_t{8} << 20;
constexpr size_t kWriteBuffer = size_t{1} << 20;

// ckpt-<16 hex digits>.rdb
std::string file_name(uint64_t seq) {
  char name[32];
  snprintf(name, sizeof name, "ckpt-%016lx.rdb", static_cast<unsigned long>(seq));
  return name;
}

bool parse_file_name(const std::string& name, uint64_t* seq) {
  if (name.size() != 25 || name.rfind("ckpt-", 0) != 0 || name.substr(21) != ".rdb") return false;
  uint64_t v = 0;
  for (size_t i = 5; i < 21; ++i) {
    const char c = name[i];
    if (c >= '0' && c <= '9') {
      v = v << 4 | static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = v << 4 | static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
  }
  *seq = v;
  return true;
}

std::string encode_header(const CheckpointInfo& info) {
  std::string out(kHeaderSize + 8 * info.active.size(), '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  store_le(p + kMagicAt, kHeaderMagic);
  store_le(p + kVersionAt, kVersion);
  store_le(p + kHeaderBytesAt, static_cast<uint32_t>(out.size()));
  store_le(p + kSeqAt, info.seq);
  store_le(p + kWalLsnAt, info.wal_lsn);
  store_le(p + kNextTrxAt, info.next_trx);
  store_le(p + kCsnAt, info.snapshot_csn);
  store_le(p + kCreatedAt, info.created_ns);
  store_le(p + kActiveCountAt, static_cast<uint32_t>(info.active.size()));
  for (size_t i = 0; i < info.active.size(); ++i)
    store_le(p + kHeaderSize + 8 * i, info.active[i]);
  const uint32_t crc = crc32c(p + kHeaderSize, out.size() - kHeaderSize, crc32c(p, kHeaderCrcAt));
  store_le(p + kHeaderCrcAt, crc);
  return out;
}

// Decodes and checks a header from the file's first bytes; false with `why`.
bool decode_header(std::span<const std::byte> bytes, CheckpointInfo* info, std::string* why) {
  if (bytes.size() < kHeaderSize) {
    *why = "shorter than a checkpoint header";
    return false;
  }
  const std::byte* p = bytes.data();
  if (load_le<uint64_t>(p + kMagicAt) != kHeaderMagic) {
    *why = "not a checkpoint (bad magic)";
    return false;
  }
  if (load_le<uint32_t>(p + kVersionAt) != kVersion) {
    *why = "checkpoint format version " + std::to_string(load_le<uint32_t>(p + kVersionAt)) +
           " (this ringdbd reads version " + std::to_string(kVersion) + ")";
    return false;
  }
  const uint32_t active = load_le<uint32_t>(p + kActiveCountAt);
  const uint32_t header_bytes = load_le<uint32_t>(p + kHeaderBytesAt);
  if (active > kActiveMax || header_bytes != kHeaderSize + 8 * size_t{active} ||
      bytes.size() < header_bytes) {
    *why = "bad header length";
    return false;
  }
  const uint32_t crc = crc32c(p + kHeaderSize, header_bytes - kHeaderSize, crc32c(p, kHeaderCrcAt));
  if (crc != load_le<uint32_t>(p + kHeaderCrcAt)) {
    *why = "header checksum mismatch";
    return false;
  }
  info->seq = load_le<uint64_t>(p + kSeqAt);
  info->wal_lsn = load_le<uint64_t>(p + kWalLsnAt);
  info->next_trx = load_le<uint64_t>(p + kNextTrxAt);
  info->snapshot_csn = load_le<uint64_t>(p + kCsnAt);
  info->created_ns = load_le<uint64_t>(p + kCreatedAt);
  info->active.resize(active);
  for (uint32_t i = 0; i < active; ++i) {
    info->active[i] = load_le<uint64_t>(p + kHeaderSize + 8 * size_t{i});
    if (i > 0 && info->active[i] <= info->active[i - 1]) {
      *why = "active transaction ids out of order";
      return false;
    }
  }
  return true;
}

// Streams a checkpoint file: buffered writes paced by WriteBehind (so that the log's
// fdatasyncs meanwhile wait behind little), the running CRC, fdatasync at the end.
class FileWriter {
 public:
  ~FileWriter() {
    if (fd_ >= 0) close(fd_);
  }
  bool open(const std::string& path, std::string* error) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      *error = "cannot create " + path + ": " + errno_text(errno);
      return false;
    }
    buffer_.reserve(kWriteBuffer);
    return true;
  }
  bool append(const void* data, size_t size, std::string* error) {
    crc_ = crc32c(data, size, crc_);
    bytes_ += size;
    const char* p = static_cast<const char*>(data);
    if (buffer_.size() + size > kWriteBuffer && !flush(error)) return false;
    if (size >= kWriteBuffer) return write_all(p, size, error);
    buffer_.append(p, size);
    return true;
  }
  bool flush(std::string* error) {
    const bool ok = write_all(buffer_.data(), buffer_.size(), error);
    buffer_.clear();
    return ok;
  }
  bool sync(std::string* error) {
    if (!flush(error)) return false;
    if (fdatasync(fd_) != 0) {
      *error = "fdatasync of the checkpoint: " + errno_text(errno);
      return false;
    }
    return true;
  }
  uint32_t crc() const { return crc_; }
  uint64_t bytes() const { return bytes_; }

 private:
  bool write_all(const char* p, size_t size, std::string* error) {
    while (size > 0) {
      const ssize_t w = ::write(fd_, p, size);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        *error = "writing the checkpoint: " + errno_text(w < 0 ? errno : EIO);
        return false;
      }
      p += w;
      size -= static_cast<size_t>(w);
      written_ += static_cast<uint64_t>(w);
    }
    write_behind_.advance(fd_, written_);
    return true;
  }

  int fd_ = -1;
  uint64_t written_ = 0;  // bytes handed to write(2)
  WriteBehind write_behind_;
  std::string buffer_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

bool CheckpointInfo::contains(uint64_t txn) const {
  return txn < next_trx && !std::binary_search(active.begin(), active.end(), txn);
}

bool list_checkpoints(const std::string& dir, std::vector<CheckpointInfo>* out, std::string* error,
                      std::vector<std::string>* unusable) {
  out->clear();
  const auto not_usable = [&](const std::string& path, const std::string& why) {
    if (unusable != nullptr) {
      unusable->push_back(path + ": " + why);
    } else {
      log(LogLevel::kWarn, "checkpoint %s is not usable: %s", path.c_str(), why.c_str());
    }
  };
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > 4 && name.substr(name.size() - 4) == ".tmp" &&
        name.rfind("ckpt-", 0) == 0) {
      if (unusable != nullptr) continue;  // looking only
      fs::remove(e.path(), ec);           // a checkpoint cut short: never published
      if (ec) {
        *error = "cannot remove " + e.path().string() + ": " + ec.message();
        return false;
      }
      continue;
    }
    uint64_t seq;
    if (!e.is_regular_file() || !parse_file_name(name, &seq)) continue;
    MappedFile file;
    std::string why;
    if (!file.open(e.path().string(), &why, false, kHeaderSize + 8 * kActiveMax)) {
      not_usable(e.path().string(), why);
      continue;
    }
    CheckpointInfo info;
    if (!decode_header(file.bytes(), &info, &why) || info.seq != seq) {
      not_usable(e.path().string(), why.empty() ? "its name and sequence number differ" : why);
      continue;
    }
    info.path = e.path().string();
    out->push_back(std::move(info));
  }
  if (ec) {
    *error = "cannot list the checkpoint directory " + dir + ": " + ec.message();
    return false;
  }
  std::sort(out->begin(), out->end(),
            [](const CheckpointInfo& a, const CheckpointInfo& b) { return a.seq > b.seq; });
  return true;
}

namespace {

// Where a checkpoint file's entries lie, once its frame is checked.
struct Frame {
  size_t entries_at;  // after the header and its list of active transactions
  size_t end;         // where the trailer starts
  const std::byte* trailer;
};

// The header, the trailer and the whole-file checksum.
bool check_frame(const std::string& path, std::span<const std::byte> bytes, CheckpointInfo* info,
                 Frame* frame, std::string* error) {
  std::string why;
  if (!decode_header(bytes, info, &why)) {
    *error = path + ": " + why;
    return false;
  }
  frame->entries_at = kHeaderSize + 8 * info->active.size();
  if (bytes.size() < frame->entries_at + kTrailerSize) {
    *error = path + ": truncated (no trailer)";
    return false;
  }
  frame->end = bytes.size() - kTrailerSize;
  const std::byte* t = frame->trailer = bytes.data() + frame->end;
  if (load_le<uint64_t>(t + kEndMagicAt) != kTrailerMagic ||
      crc32c(t, kTrailerCrcAt) != load_le<uint32_t>(t + kTrailerCrcAt)) {
    *error = path + ": truncated or damaged (no valid trailer)";
    return false;
  }
  if (crc32c(bytes.data(), frame->end) != load_le<uint32_t>(t + kFileCrcAt)) {
    *error = path + ": checksum mismatch";
    return false;
  }
  return true;
}

// How far ahead of its position a walk over the entries has the file's lines fetched: entries
// lie one after the other but their sizes vary, so the processor's prefetcher does not follow,
// and each entry's header was a miss (reading and checking a 1 GiB checkpoint of 100-900-byte
// values, warm: 0.78 s without, 0.25 s with).
constexpr size_t kFetchAhead = 2048;

// Walks the entries, checking each one's bounds, limits and order and the trailer's counts;
// calls apply (if given) for each.
bool walk_entries(
    const std::string& path, std::span<const std::byte> bytes, const Frame& frame,
    const CheckpointLimits& limits,
    const std::function<bool(std::string_view, std::string_view, std::string*)>* apply,
    CheckpointInfo* info, std::string* error) {
  uint64_t keys = 0;
  std::string_view previous;
  size_t fetched = frame.entries_at;  // lines before it are being fetched
  for (size_t at = frame.entries_at; at < frame.end;) {
    for (; fetched < std::min(at + kFetchAhead, frame.end); fetched += 64)
      __builtin_prefetch(bytes.data() + fetched);
    if (frame.end - at < kEntryHeaderSize) {
      *error = path + ": entry header cut at offset " + std::to_string(at);
      return false;
    }
    const uint32_t key_len = load_le<uint32_t>(bytes.data() + at);
    const uint32_t value_len = load_le<uint32_t>(bytes.data() + at + 4);
    at += kEntryHeaderSize;
    if (key_len == 0 || key_len > limits.key_size_max || value_len > limits.value_size_max ||
        frame.end - at < size_t{key_len} + value_len) {
      *error = path + ": entry at offset " + std::to_string(at - kEntryHeaderSize) +
               (key_len > limits.key_size_max || value_len > limits.value_size_max
                    ? " is larger than --key-size-max or --value-size-max allow"
                    : " has a bad length");
      return false;
    }
    const std::string_view key(reinterpret_cast<const char*>(bytes.data() + at), key_len);
    const std::string_view value(reinterpret_cast<const char*>(bytes.data() + at + key_len),
                                 value_len);
    at += size_t{key_len} + value_len;
    if (keys > 0 && key <= previous) {
      *error = path + ": keys out of order at offset " + std::to_string(at);
      return false;
    }
    previous = key;
    ++keys;
    if (apply != nullptr && !(*apply)(key, value, error)) return false;
  }
  if (keys != load_le<uint64_t>(frame.trailer + kKeysAt) ||
      frame.end - frame.entries_at != load_le<uint64_t>(frame.trailer + kEntryBytesAt)) {
    *error = path + ": the trailer's counts do not match the entries";
    return false;
  }
  info->keys = keys;
  info->data_bytes = frame.end - frame.entries_at;
  return true;
}

}  // namespace

bool load_checkpoint(
    const std::string& path, const CheckpointLimits& limits,
    const std::function<bool(std::string_view, std::string_view, std::string*)>& apply,
    CheckpointInfo* info, std::string* error) {
  MappedFile file;
  if (!file.open(path, error)) return false;
  *info = CheckpointInfo{};
  Frame frame;
  if (!check_frame(path, file.bytes(), info, &frame, error)) return false;
  info->path = path;
  // Two passes: every entry checked first, so that nothing is applied from a file found bad
  // halfway.
  return walk_entries(path, file.bytes(), frame, limits, nullptr, info, error) &&
         walk_entries(path, file.bytes(), frame, limits, &apply, info, error);
}

Checkpointer::Checkpointer(CheckpointerOptions options, Engine* engine, wal::LogWriter* log,
                           std::function<uint64_t()> oldest_unapplied_lsn)
    : options_(std::move(options)),
      engine_(engine),
      log_(log),
      oldest_unapplied_lsn_(std::move(oldest_unapplied_lsn)) {}

Checkpointer::~Checkpointer() {
  stop();
}

bool Checkpointer::open(std::string* error) {
  if (mkdir(options_.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create " + options_.dir + ": " + errno_text(errno);
    return false;
  }
  std::vector<CheckpointInfo> existing;
  if (!list_checkpoints(options_.dir, &existing, error)) return false;
  // Names of damaged files count too: a new checkpoint never takes an existing name.
  uint64_t newest = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    uint64_t seq;
    if (parse_file_name(e.path().filename().string(), &seq)) newest = std::max(newest, seq);
  }
  sync::MutexGuard guard(run_mu_);
  next_seq_ = newest + 1;
  started_ns_.store(static_cast<uint64_t>(sync::now_ns()), std::memory_order_relaxed);
  return true;
}

void Checkpointer::start() {
  if (options_.interval.count() == 0 && options_.wal_bytes == 0) return;  // on request only
  thread_ = std::thread([this] { loop(); });
}

void Checkpointer::stop() {
  stopping_.store(true, std::memory_order_release);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::loop() {
  sync::name_this_thread("ringdb-ckpt");
  // Wakes once a second to look at the triggers (or sooner for a shorter interval): one
  // system call a second when idle.
  const auto tick = std::chrono::milliseconds(
      options_.interval.count() > 0 ? std::min<int64_t>(options_.interval.count(), 1000) : 1000);
  uint64_t wal_at_last = log_->durable_lsn();
  while (!stopping_.load(std::memory_order_acquire)) {
    const sync::EventCount::Key key = wake_.prepare_wait();
    if (stopping_.load(std::memory_order_acquire)) {
      wake_.cancel_wait();
      break;
    }
    wake_.wait(key, tick);
    if (stopping_.load(std::memory_order_acquire)) break;
    const int64_t since_ns =
        sync::now_ns() - static_cast<int64_t>(started_ns_.load(std::memory_order_relaxed));
    const uint64_t durable = log_->durable_lsn();
    const bool by_time = options_.interval.count() > 0 &&
                         since_ns >= std::chrono::nanoseconds(options_.interval).count();
    const bool by_size = options_.wal_bytes > 0 && durable - wal_at_last >= options_.wal_bytes;
    if (!by_time && !by_size) continue;
    wal_at_last = durable;
    CheckpointResult result;
    std::string error;
    if (!run(false, &result, &error)) {
      if (!stopping_.load(std::memory_order_acquire))
        log(LogLevel::kError, "checkpoint failed: %s (the log is kept; retrying later)",
            error.c_str());
    }
  }
}

bool Checkpointer::last(CheckpointResult* result) const {
  sync::MutexGuard guard(last_mu_);
  if (!has_last_result_) return false;
  *result = last_;
  return true;
}

bool Checkpointer::run(bool force, CheckpointResult* result, std::string* error) {
  sync::MutexGuard guard(run_mu_);
  const bool ok = run_locked(force, result, error);
  sync::MutexGuard last_guard(last_mu_);
  failure_ = ok ? std::string() : *error;
  return ok;
}

std::string Checkpointer::failure() const {
  sync::MutexGuard guard(last_mu_);
  return failure_;
}

bool Checkpointer::run_locked(bool force, CheckpointResult* result, std::string* error) {
  running_.store(true, std::memory_order_relaxed);
  struct Done {
    std::atomic<bool>& running;
    ~Done() { running.store(false, std::memory_order_relaxed); }
  } done{running_};
  *result = CheckpointResult{};
  const int64_t started = sync::now_ns();
  started_ns_.store(static_cast<uint64_t>(started), std::memory_order_relaxed);
  // The cut, in this order (checkpoint.h): D, then M, then the snapshot.
  const uint64_t durable = log_->durable_lsn();
  const uint64_t unapplied = oldest_unapplied_lsn_();
  const uint64_t committed = engine_->stats().trx_committed;
  if (!force && have_last_ && durable == last_durable_lsn_ && committed == last_committed_) {
    result->skipped = true;  // nothing committed since the last one
    return true;
  }
  std::unique_ptr<Transaction> snapshot;
  mvcc::TrxSys::Cut cut;
  if (const Status s = engine_->begin_checkpoint(&snapshot, &cut); s != Status::kOk) {
    *error = std::string("cannot open the snapshot's view: ") + status_name(s);
    return false;
  }
  CheckpointInfo header;
  header.seq = next_seq_;
  header.wal_lsn = std::min(durable, unapplied);
  header.next_trx = cut.next_id;
  header.active = std::move(cut.active);
  header.snapshot_csn = snapshot->snapshot_csn();
  header.created_ns = sync::realtime_ns();
  const bool ok = write_snapshot(header, *snapshot, result, error);
  engine_->abort(std::move(snapshot));  // read-only: closes the view
  if (!ok) return false;
  ++next_seq_;
  have_last_ = true;
  last_durable_lsn_ = durable;
  last_committed_ = committed;
  completed_.fetch_add(1, std::memory_order_relaxed);
  const bool pruned = prune(result, error);
  result->seconds = static_cast<double>(sync::now_ns() - started) / 1e9;
  {
    sync::MutexGuard last_guard(last_mu_);
    last_ = *result;
    has_last_result_ = true;
  }
  log(LogLevel::kInfo,
      "checkpoint %lu: %lu keys, %lu bytes, replay from LSN %lu, in %.3f s; %zu log segments "
      "and %zu older checkpoints removed",
      static_cast<unsigned long>(result->info.seq), static_cast<unsigned long>(result->info.keys),
      static_cast<unsigned long>(result->file_bytes),
      static_cast<unsigned long>(result->info.wal_lsn), result->seconds, result->wal_removed.size(),
      result->checkpoints_removed.size());
  return pruned;
}

bool Checkpointer::write_snapshot(const CheckpointInfo& header, Transaction& snapshot,
                                  CheckpointResult* result, std::string* error) {
  const std::string final_path = options_.dir + "/" + file_name(header.seq);
  const std::string tmp_path = options_.dir + "/ckpt-" + std::to_string(header.seq) + ".tmp";
  bool ok = false;
  {
    FileWriter out;
    if (!out.open(tmp_path, error)) return false;
    ok = [&] {
      const std::string h = encode_header(header);
      if (!out.append(h.data(), h.size(), error)) return false;
      ScanOptions scan;
      scan.limit = kScanKeysMax;
      scan.bytes_max = kScanBytesMax;
      std::vector<KeyValue> items;
      uint64_t keys = 0, entry_bytes = 0;
      for (;;) {
        if (stopping_.load(std::memory_order_acquire)) {
          *error = "the daemon is stopping";
          return false;
        }
        if (options_.between_scans) options_.between_scans(keys);
        if (const Status s = engine_->scan(snapshot, scan, &items); s != Status::kOk) {
          *error = std::string("scanning the snapshot: ") + status_name(s);
          return false;
        }
        for (const KeyValue& kv : items) {
          std::byte lengths[kEntryHeaderSize];
          store_le(lengths, static_cast<uint32_t>(kv.key.size()));
          store_le(lengths + 4, static_cast<uint32_t>(kv.value.size()));
          if (!out.append(lengths, sizeof lengths, error) ||
              !out.append(kv.key.data(), kv.key.size(), error) ||
              !out.append(kv.value.data(), kv.value.size(), error)) {
            return false;
          }
          entry_bytes += kEntryHeaderSize + kv.key.size() + kv.value.size();
        }
        keys += items.size();
        if (items.empty()) break;
        scan.start = items.back().key;
        scan.start.push_back('\0');  // the next key after it
      }
      std::byte trailer[kTrailerSize] = {};
      store_le(trailer + kEndMagicAt, kTrailerMagic);
      store_le(trailer + kKeysAt, keys);
      store_le(trailer + kEntryBytesAt, entry_bytes);
      store_le(trailer + kFileCrcAt, out.crc());
      store_le(trailer + kTrailerCrcAt, crc32c(trailer, kTrailerCrcAt));
      if (!out.append(trailer, sizeof trailer, error) || !out.sync(error)) return false;
      result->info = header;
      result->info.keys = keys;
      result->info.data_bytes = entry_bytes;
      result->info.path = final_path;
      result->file_bytes = out.bytes();
      return true;
    }();
  }
  if (ok && rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    *error = "cannot publish " + final_path + ": " + errno_text(errno);
    ok = false;
  }
  if (!ok) {
    unlink(tmp_path.c_str());
    return false;
  }
  return sync_dir(options_.dir, error);
}

bool Checkpointer::prune(CheckpointResult* result, std::string* error) {
  std::vector<CheckpointInfo> kept;
  if (!list_checkpoints(options_.dir, &kept, error)) return false;
  // Keep the two newest valid ones (a damaged newest falls back to the older at start).
  while (kept.size() > 2) {
    if (unlink(kept.back().path.c_str()) != 0) {
      *error = "cannot remove " + kept.back().path + ": " + errno_text(errno);
      return false;
    }
    result->checkpoints_removed.push_back(kept.back().path);
    kept.pop_back();
  }
  if (!result->checkpoints_removed.empty() && !sync_dir(options_.dir, error)) return false;
  if (kept.size() < 2) return true;  // the log is all the fallback there is: keep it whole
  const uint64_t durable = log_->durable_lsn();
  const uint64_t retained =
      durable > options_.log_retain_bytes ? durable - options_.log_retain_bytes : 0;
  return wal::remove_segments_below(options_.wal_dir, std::min(kept.back().wal_lsn, retained),
                                    &result->wal_removed, error);
}

}  // namespace ringdb::daemon
