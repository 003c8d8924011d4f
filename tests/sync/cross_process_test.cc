// Process-shared latches: fork()ed processes contend on a Mutex and a PriorityRwLatch placed
// (placement new, Sharing::kProcessShared) in a MAP_SHARED mapping, with the same invariants
// as the thread stress tests: no lost update, exclusion, readers see consistent data.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <new>
#include <vector>

#include "sync/mutex.h"
#include "sync/priority_rw_latch.h"

namespace ringdb::sync {
namespace {

constexpr int kProcesses = 4;
constexpr int kIterations = 20000;

struct SharedRegion {
  Mutex mutex{Sharing::kProcessShared};
  PriorityRwLatch latch{Sharing::kProcessShared};
  uint64_t counter = 0;  // guarded by `mutex`
  uint64_t a = 0;        // guarded by `latch`; a == b outside X
  uint64_t b = 0;
};

class SharedMapping {
 public:
  SharedMapping() {
    memory_ = mmap(nullptr, sizeof(SharedRegion), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory_ != MAP_FAILED);
    region_ = new (memory_) SharedRegion;
  }
  ~SharedMapping() {
    region_->~SharedRegion();
    munmap(memory_, sizeof(SharedRegion));
  }
  SharedRegion& region() { return *region_; }

 private:
  void* memory_;
  SharedRegion* region_;
};

// Forks `n` children running body(i); returns how many exited with status 0.
template <typename Body>
int run_children(int n, Body body) {
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(body(i));  // children never return into the test runner
    children.push_back(pid);
  }
  int clean = 0;
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++clean;
  }
  return clean;
}

TEST_CASE("Cross-process: a shared Mutex excludes across processes (no lost update)") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  const int clean = run_children(kProcesses, [&r](int) {
    for (int i = 0; i < kIterations; ++i) {
      r.mutex.lock();
      ++r.counter;
      r.mutex.unlock();
    }
    return 0;
  });
  CHECK(clean == kProcesses);
  CHECK(r.counter == uint64_t{kProcesses} * kIterations);
  CHECK(r.mutex.sleepers() == 0);
}

TEST_CASE("Cross-process: a shared PriorityRwLatch keeps readers and writers apart") {
  SharedMapping mapping;
  SharedRegion& r = mapping.region();
  const int clean = run_children(kProcesses, [&r](int child) {
    const Priority p = child == 0 ? Priority::kHigh : Priority::kRegular;
    for (int i = 0; i < kIterations; ++i) {
      if (i % 4 == 0) {
        r.latch.lock(p);
        ++r.a;
        ++r.b;
        r.latch.unlock();
      } else {
        r.latch.lock_shared(p);
        const bool consistent = r.a == r.b;
        r.latch.unlock_shared();
        if (!consistent) return 1;
      }
    }
    return 0;
  });
  CHECK(clean == kProcesses);
  CHECK(r.a == uint64_t{kProcesses} * (kIterations / 4));
  CHECK(r.b == r.a);
  CHECK_FALSE(r.latch.is_locked_exclusive());
  CHECK(r.latch.shared_holders() == 0);
}

}  // namespace
}  // namespace ringdb::sync
