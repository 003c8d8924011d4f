#include "daemon/wal/log_io.h"

#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "daemon/base/file_util.h"

namespace ringdb::daemon::wal {

std::unique_ptr<UringLogIo> UringLogIo::open(std::string* error) {
  std::unique_ptr<UringLogIo> io(new UringLogIo);
  io->ring_ = std::make_unique<io_uring>();
  if (const int rc = io_uring_queue_init(8, io->ring_.get(), 0); rc < 0) {
    io->ring_.reset();
    *error = "io_uring_queue_init: " + errno_text(-rc);
    return nullptr;
  }
  return io;
}

UringLogIo::~UringLogIo() {
  if (ring_) io_uring_queue_exit(ring_.get());
}

bool UringLogIo::write_and_sync(int fd, const std::byte* data, size_t size, uint64_t offset,
                                WriteSyncResult* result, std::string* error) {
  io_uring* ring = ring_.get();
  io_uring_sqe* write = io_uring_get_sqe(ring);
  io_uring_sqe* sync = write != nullptr ? io_uring_get_sqe(ring) : nullptr;
  if (write == nullptr || sync == nullptr) {  // cannot happen: each call reaps what it submits
    *error = "io_uring: no submission queue entry free";
    return false;
  }
  io_uring_prep_write(write, fd, data, static_cast<unsigned>(size), offset);
  write->flags |= IOSQE_IO_LINK;  // the sync runs after the write, and only if it succeeded
  write->user_data = 1;
  io_uring_prep_fsync(sync, fd, IORING_FSYNC_DATASYNC);
  sync->user_data = 2;
  int submitted;
  do {
    submitted = io_uring_submit(ring);
  } while (submitted == -EINTR);
  if (submitted != 2) {
    *error = "io_uring_submit: " + errno_text(submitted < 0 ? -submitted : EIO);
    return false;
  }
  for (int reaped = 0; reaped < 2;) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(ring, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) {
      *error = "io_uring_wait_cqe: " + errno_text(-rc);
      return false;
    }
    if (cqe->user_data == 1) {
      result->write_res = cqe->res;
    } else {
      result->sync_res = cqe->res;
    }
    io_uring_cqe_seen(ring, cqe);
    ++reaped;
  }
  return true;
}

std::unique_ptr<FaultyLogIo> FaultyLogIo::from_spec(const std::string& spec,
                                                    std::unique_ptr<LogIo> real,
                                                    std::string* error) {
  const std::string fail = "fsync-fail-after:";
  const std::string delay = "fsync-delay-us:";
  const bool delays = spec.rfind(delay, 0) == 0;
  const size_t at = delays ? delay.size() : spec.rfind(fail, 0) == 0 ? fail.size() : 0;
  char* end = nullptr;
  const long long n = at != 0 ? strtoll(spec.c_str() + at, &end, 10) : -1;
  if (n < 0 || end == nullptr || end == spec.c_str() + at || *end != '\0') {  // digits only
    *error = "'" + spec + "' not understood (fsync-fail-after:N or fsync-delay-us:N)";
    return nullptr;
  }
  auto faulty = std::make_unique<FaultyLogIo>(std::move(real));
  if (delays) {
    faulty->sync_delay_us(n);
  } else {
    faulty->fsync_fail_after(n);
  }
  return faulty;
}

bool FaultyLogIo::write_and_sync(int fd, const std::byte* data, size_t size, uint64_t offset,
                                 WriteSyncResult* result, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  if (!real_->write_and_sync(fd, data, size, offset, result, error)) return false;
  if (const int64_t us = sync_delay_us_.load(); us > 0)
    std::this_thread::sleep_until(started + std::chrono::microseconds(us));
  if (const int e = fail_next_write_.exchange(0); e != 0) result->write_res = -e;
  if (const int e = fail_next_fsync_.exchange(0); e != 0) result->sync_res = -e;
  if (fsync_fail_after_.load() > 0 && fsync_fail_after_.fetch_sub(1) == 1) result->sync_res = -EIO;
  return true;
}

}  // namespace ringdb::daemon::wal
