// LogIo: the one thing the log writer asks of the disk on its hot path, behind a narrow
// interface so that tests can put a faulty twin in its place (STYLE.md habit 12): write a
// chunk at an offset of a segment file, then make it durable.
//
//   UringLogIo   the real one: an io_uring with the write and an fdatasync linked
//                (IOSQE_IO_LINK: the sync starts only after the write completed, and fails
//                with -ECANCELED if the write failed).
//   FaultyLogIo  forwards to another LogIo and then reports the faults it was told to: the
//                next write or fdatasync failing with an errno, or the Nth fdatasync failing
//                with EIO; or makes every write + fdatasync take at least a given time (a
//                slow disk) — faults a real device cannot be made to produce here. ringdbd uses
//                it only when RINGDB_FAULT_INJECT asks (from_spec(), for the
//                integration tests); the writer has no test branch of its own.
//
// Thread safety: one thread at a time (the log writer's); FaultyLogIo's setters may be
// called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct io_uring;

namespace ringdb::daemon::wal {

struct WriteSyncResult {
  int write_res = 0;  // bytes written, or -errno
  int sync_res = 0;   // 0, or -errno (-ECANCELED if the write failed)
};

class LogIo {
 public:
  virtual ~LogIo() = default;
  // Writes `size` bytes at `offset` of `fd`, then fdatasyncs `fd` if the write succeeded.
  // false (with *error) only if the I/O could not be submitted or reaped at all.
  virtual bool write_and_sync(int fd, const std::byte* data, size_t size, uint64_t offset,
                              WriteSyncResult* result, std::string* error) = 0;
};

class UringLogIo final : public LogIo {
 public:
  // nullptr (with *error) if io_uring is not available.
  static std::unique_ptr<UringLogIo> open(std::string* error);
  ~UringLogIo() override;
  UringLogIo(const UringLogIo&) = delete;
  UringLogIo& operator=(const UringLogIo&) = delete;

  bool write_and_sync(int fd, const std::byte* data, size_t size, uint64_t offset,
                      WriteSyncResult* result, std::string* error) override;

 private:
  UringLogIo() = default;
  std::unique_ptr<io_uring> ring_;
};

class FaultyLogIo final : public LogIo {
 public:
  explicit FaultyLogIo(std::unique_ptr<LogIo> real) : real_(std::move(real)) {}

  // From a spec as RINGDB_FAULT_INJECT gives it: "fsync-fail-after:N", the (N+1)th fdatasync
  // fails with EIO; "fsync-delay-us:N", every write + fdatasync takes at least N µs. nullptr
  // with *error if the spec is not understood.
  static std::unique_ptr<FaultyLogIo> from_spec(const std::string& spec,
                                                std::unique_ptr<LogIo> real, std::string* error);

  void fail_next_write(int err) { fail_next_write_.store(err); }
  void fail_next_fsync(int err) { fail_next_fsync_.store(err); }
  // After `n` more successful fdatasyncs, one reports EIO.
  void fsync_fail_after(int64_t n) { fsync_fail_after_.store(n + 1); }
  // Every write_and_sync takes at least `us` microseconds (a slow disk).
  void sync_delay_us(int64_t us) { sync_delay_us_.store(us); }

  bool write_and_sync(int fd, const std::byte* data, size_t size, uint64_t offset,
                      WriteSyncResult* result, std::string* error) override;

 private:
  const std::unique_ptr<LogIo> real_;
  std::atomic<int> fail_next_write_{0};
  std::atomic<int> fail_next_fsync_{0};
  std::atomic<int64_t> fsync_fail_after_{0};  // > 0: counts down; the sync that reaches 0 fails
  std::atomic<int64_t> sync_delay_us_{0};
};

}  // namespace ringdb::daemon::wal
