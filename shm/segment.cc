#include "shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <random>

namespace ringdb::shm {

namespace bip = boost::interprocess;

struct Segment::Impl {
  bip::shared_memory_object object;
  bip::shared_memory_object read_only;  // default-constructed: no descriptor
  bip::mapped_region region;
};

Segment::Segment(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (impl_->region.get_size() == 0) return;  // create_sealed maps it itself
  base_ = static_cast<std::byte*>(impl_->region.get_address());
  size_ = impl_->region.get_size();
}

Segment::~Segment() {
  if (sealed_fd_ >= 0) {
    munmap(base_, size_);
    close(sealed_fd_);
  }
}

std::unique_ptr<Segment> Segment::create_sealed(size_t size, const char* tag, std::string* error) {
  const int fd = memfd_create(tag, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    *error = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  void* p = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
      posix_fallocate(fd, 0, static_cast<off_t>(size)) != 0 ||
      (p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    *error = std::string("sealed segment ") + tag + ": " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  std::unique_ptr<Segment> segment(new Segment(std::make_unique<Impl>()));
  segment->sealed_fd_ = fd;
  segment->base_ = static_cast<std::byte*>(p);
  segment->size_ = size;
  return segment;
}

std::unique_ptr<Segment> Segment::create(size_t size, const char* tag, bool read_only_view,
                                         std::string* error) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const std::string name =
      "/ringdb-" + std::to_string(getpid()) + "-" + tag + "-" + std::to_string(random());
  auto impl = std::make_unique<Impl>();
  try {
    bip::permissions owner_only(0600);
    impl->object =
        bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, owner_only);
    // From here on the name must go, whatever happens.
    struct Unlink {
      const std::string& name;
      ~Unlink() { bip::shared_memory_object::remove(name.c_str()); }
    } unlink{name};
    impl->object.truncate(static_cast<bip::offset_t>(size));
    if (read_only_view) {
      impl->read_only = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_only);
    }
    impl->region = bip::mapped_region(impl->object, bip::read_write, 0, size);
  } catch (const bip::interprocess_exception& e) {
    *error = std::string("shared memory ") + name + ": " + e.what();
    return nullptr;
  }
  return std::unique_ptr<Segment>(new Segment(std::move(impl)));
}

int Segment::fd() const {
  return sealed_fd_ >= 0 ? sealed_fd_ : impl_->object.get_mapping_handle().handle;
}

int Segment::read_only_fd() const {
  const int fd = impl_->read_only.get_mapping_handle().handle;
  return fd >= 0 ? fd : -1;
}

bool Segment::reserve(size_t bytes, std::string* error) const {
  const int rc = posix_fallocate(fd(), 0, static_cast<off_t>(bytes));
  if (rc != 0) {
    *error = std::string("fallocate of a session segment: ") + std::strerror(rc);
    return false;
  }
  return true;
}

void* map_fd(int fd, size_t size, bool writable, std::string* error) {
  const int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p = mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *error = std::string("mmap: ") + std::strerror(errno);
    return nullptr;
  }
  return p;
}

}  // namespace ringdb::shm
