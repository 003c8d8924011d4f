// Segment: a shared-memory object for one session (or the daemon's board and doorbells),
// created with Boost.Interprocess under a random name, mapped read-write by its creator, and
// unlinked before anyone else can learn the name. What survives is descriptors: the creator
// passes them over a unix socket (SCM_RIGHTS), so only the receiving peer can map it.
//
// A read-only descriptor (read_only_fd) is opened before the name is removed, for objects
// that clients may read but not write (the board): a client cannot mprotect a mapping of a
// read-only descriptor to writable, nor truncate the object through it.
//
// Thread safety: const methods may be called concurrently; creation and destruction are
// single-threaded.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace ringdb::shm {

class Segment {
 public:
  // Creates an object of `size` bytes (zero-filled) and maps it. `tag` goes into the
  // temporary name for diagnostics. With `read_only_view`, also opens a read-only
  // descriptor. Returns nullptr with `*error` on failure.
  static std::unique_ptr<Segment> create(size_t size, const char* tag, bool read_only_view,
                                         std::string* error);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  std::byte* base() const { return base_; }
  size_t size() const { return size_; }
  int fd() const;            // read-write
  int read_only_fd() const;  // -1 unless created with read_only_view

  // Creates a memfd of `size` bytes sealed against shrinking and growing, and maps it. For
  // the doorbells, which every client maps read-write: through a Boost object a client could
  // truncate it and make every other process fault on it; a sealed memfd cannot be resized.
  static std::unique_ptr<Segment> create_sealed(size_t size, const char* tag, std::string* error);

  // Allocates backing store for [0, bytes) so that writes there cannot fail with SIGBUS when
  // the tmpfs is full. Returns false (errno-style message in *error) if it cannot.
  bool reserve(size_t bytes, std::string* error) const;

 private:
  struct Impl;
  explicit Segment(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int sealed_fd_ = -1;
  std::byte* base_ = nullptr;
  size_t size_ = 0;
};

// Maps a descriptor received from the daemon (client side). Returns nullptr with *error.
void* map_fd(int fd, size_t size, bool writable, std::string* error);

}  // namespace ringdb::shm
