// BusGuard (shm/bus_guard.h): after the owner of a registered segment truncates it, touching
// the mapping does not crash: the range reads as zero pages from then on, poisoned() turns
// true and the notify descriptor hears of it. A SIGBUS outside every registered range (never
// registered, or removed), or one sent rather than raised by a fault, is left fatal: a
// fork()ed child that meets one must die of SIGBUS.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "shm/bus_guard.h"
#include "shm/segment.h"
#include "tests/shm/shm_test_util.h"

namespace ringdb::shm {
namespace {

constexpr size_t kPages = 4;
constexpr size_t kSize = kPages * 4096;

std::unique_ptr<Segment> make_filled(const char* tag) {
  std::string error;
  auto segment = Segment::create(kSize, tag, false, &error);
  INFO(error);
  REQUIRE(segment != nullptr);
  std::memset(segment->base(), 0x77, kSize);
  return segment;
}

// A read the compiler must perform.
std::byte touch(const std::byte* p) {
  return *static_cast<const volatile std::byte*>(p);
}

bool all_zero(const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (touch(p + i) != std::byte{0}) return false;
  }
  return true;
}

// A registration removed when the test ends, even a failed one.
class Registration {
 public:
  explicit Registration(const Segment& segment)
      : handle_(BusGuard::add(segment.base(), segment.size())) {}
  ~Registration() { BusGuard::remove(handle_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  int handle() const { return handle_; }

 private:
  int handle_;
};

TEST_CASE("BusGuard: a registered, untouched range is not poisoned") {
  BusGuard::install();
  auto segment = make_filled("bus-clean");
  Registration r(*segment);
  REQUIRE(r.handle() >= 0);
  CHECK_FALSE(BusGuard::poisoned(r.handle()));
  CHECK(touch(segment->base() + 100) == std::byte{0x77});
  CHECK_FALSE(BusGuard::poisoned(r.handle()));
  CHECK_FALSE(BusGuard::poisoned(-1));
}

TEST_CASE("BusGuard: touching a truncated registered segment reads zeros and poisons it") {
  BusGuard::install();
  auto segment = make_filled("bus-poison");
  Registration r(*segment);
  REQUIRE(r.handle() >= 0);
  REQUIRE(ftruncate(segment->fd(), 0) == 0);
  CHECK(touch(segment->base() + 4096 + 5) == std::byte{0});  // SIGBUS, repaired
  CHECK(BusGuard::poisoned(r.handle()));
  CHECK(all_zero(segment->base(), kSize));
  // The zero pages are private and writable: later accesses by the owner just work.
  segment->base()[kSize - 1] = std::byte{3};
  CHECK(touch(segment->base() + kSize - 1) == std::byte{3});
}

TEST_CASE("BusGuard: a fault past a partial truncation replaces the whole range") {
  BusGuard::install();
  auto segment = make_filled("bus-partial");
  Registration r(*segment);
  REQUIRE(r.handle() >= 0);
  REQUIRE(ftruncate(segment->fd(), 4096) == 0);
  CHECK(touch(segment->base() + 100) == std::byte{0x77});  // still backed: no fault
  CHECK_FALSE(BusGuard::poisoned(r.handle()));
  CHECK(touch(segment->base() + 3 * 4096) == std::byte{0});  // past the end: SIGBUS
  CHECK(BusGuard::poisoned(r.handle()));
  CHECK(touch(segment->base() + 100) == std::byte{0});  // the first page went too
}

TEST_CASE("BusGuard: a write to a truncated registered segment completes on the zero pages") {
  BusGuard::install();
  auto segment = make_filled("bus-write");
  Registration r(*segment);
  REQUIRE(r.handle() >= 0);
  REQUIRE(ftruncate(segment->fd(), 0) == 0);
  *static_cast<volatile std::byte*>(segment->base() + 8000) = std::byte{0x42};
  CHECK(BusGuard::poisoned(r.handle()));
  CHECK(touch(segment->base() + 8000) == std::byte{0x42});
  CHECK(touch(segment->base() + 8001) == std::byte{0});
}

TEST_CASE("BusGuard: the notify descriptor hears of a poisoned range") {
  BusGuard::install();
  const int event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  REQUIRE(event >= 0);
  BusGuard::set_notify_fd(event);
  auto segment = make_filled("bus-notify");
  {
    Registration r(*segment);
    REQUIRE(r.handle() >= 0);
    uint64_t count = 0;
    CHECK(read(event, &count, sizeof count) < 0);  // nothing yet
    REQUIRE(ftruncate(segment->fd(), 0) == 0);
    CHECK(touch(segment->base()) == std::byte{0});
    REQUIRE(read(event, &count, sizeof count) == sizeof count);
    CHECK(count == 1);
  }
  BusGuard::set_notify_fd(-1);
  close(event);
}

TEST_CASE("BusGuard: other ranges stay unpoisoned when one is") {
  BusGuard::install();
  auto victim = make_filled("bus-victim");
  auto bystander = make_filled("bus-bystander");
  Registration rv(*victim);
  Registration rb(*bystander);
  REQUIRE(rv.handle() >= 0);
  REQUIRE(rb.handle() >= 0);
  REQUIRE(ftruncate(victim->fd(), 0) == 0);
  CHECK(touch(victim->base()) == std::byte{0});
  CHECK(BusGuard::poisoned(rv.handle()));
  CHECK_FALSE(BusGuard::poisoned(rb.handle()));
  CHECK(touch(bystander->base() + kSize - 1) == std::byte{0x77});
}

// Child exit codes; a child that does what it should never exits, it dies of SIGBUS.
constexpr int kChildSurvived = 1;
constexpr int kChildSetupFailed = 2;
constexpr int kChildSurvivedPoisoned = 3;  // and a healthy range was poisoned

// Runs `body` in a child with the guard installed; returns its wait status.
template <typename Body>
int in_guarded_child(Body body) {
  BusGuard::install();  // inherited by the child
  return test::wait_for_child(test::fork_child(body));
}

void check_died_of_sigbus(int status) {
  INFO("exited: " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
                  << " (1: survived, 2: setup failed, 3: survived, range poisoned); signalled: "
                  << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGBUS);
}

// Truncates `segment` and reads it; returns only if the read did not kill the process.
int truncate_and_touch(const Segment& segment) {
  if (ftruncate(segment.fd(), 0) != 0) return kChildSetupFailed;
  touch(segment.base() + 4096);
  return kChildSurvived;
}

TEST_CASE("BusGuard: a SIGBUS on a range never registered stays fatal") {
  check_died_of_sigbus(in_guarded_child([] {
    std::string error;
    auto segment = Segment::create(kSize, "bus-unregistered", false, &error);
    if (segment == nullptr) return kChildSetupFailed;
    return truncate_and_touch(*segment);
  }));
}

TEST_CASE("BusGuard: a SIGBUS beside a registered range stays fatal") {
  check_died_of_sigbus(in_guarded_child([] {
    std::string error;
    auto guarded = Segment::create(kSize, "bus-guarded", false, &error);
    auto other = Segment::create(kSize, "bus-other", false, &error);
    if (guarded == nullptr || other == nullptr) return kChildSetupFailed;
    if (BusGuard::add(guarded->base(), guarded->size()) < 0) return kChildSetupFailed;
    return truncate_and_touch(*other);
  }));
}

TEST_CASE("BusGuard: a SIGBUS on a removed range stays fatal") {
  check_died_of_sigbus(in_guarded_child([] {
    std::string error;
    auto segment = Segment::create(kSize, "bus-removed", false, &error);
    if (segment == nullptr) return kChildSetupFailed;
    const int handle = BusGuard::add(segment->base(), segment->size());
    if (handle < 0) return kChildSetupFailed;
    BusGuard::remove(handle);
    return truncate_and_touch(*segment);
  }));
}

// A SIGBUS that no fault raised (kill, sigqueue) carries no fault address: its si_addr field
// holds the sender's pid and uid. It must get the default action, like any other SIGBUS
// outside a registered range, and not be survived (which also left the guard disarmed).
TEST_CASE("BusGuard: a SIGBUS sent with kill() stays fatal") {
  check_died_of_sigbus(in_guarded_child([] {
    raise(SIGBUS);
    return kChildSurvived;
  }));
}

// The same, with the sender filling si_addr with an address in a registered range: a sent
// signal must not poison a healthy range.
TEST_CASE(
    "BusGuard: a sent SIGBUS naming a registered address neither poisons it nor is survived") {
  check_died_of_sigbus(in_guarded_child([] {
    std::string error;
    auto segment = Segment::create(kSize, "bus-spoofed", false, &error);
    if (segment == nullptr) return kChildSetupFailed;
    const int handle = BusGuard::add(segment->base(), segment->size());
    if (handle < 0) return kChildSetupFailed;
    siginfo_t info = {};
    info.si_signo = SIGBUS;
    info.si_code = SI_QUEUE;  // what any sender may use
    info.si_addr = segment->base() + 4096;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &info) != 0) {
      return kChildSetupFailed;
    }
    // An intercepted call, where ThreadSanitizer delivers the signal it deferred.
    kill(getpid(), 0);
    return BusGuard::poisoned(handle) ? kChildSurvivedPoisoned : kChildSurvived;
  }));
}

}  // namespace
}  // namespace ringdb::shm
