// Epoch-based reclamation (daemon/index/epoch.h): a retired block outlives every pin that was
// taken before it was retired, in this thread or another, and no later one; pins nest; a
// retire list frees what is left when it is destroyed.
#include "daemon/index/epoch.h"

#include <doctest/doctest.h>

#include <latch>
#include <optional>
#include <thread>
#include <vector>

namespace ringdb::daemon::epoch {
namespace {

// A block whose deleter counts instead of freeing.
struct Counted {
  int freed = 0;
  static void deleter(void* block) { ++static_cast<Counted*>(block)->freed; }
};

TEST_CASE("epoch: a block retired under a pin is freed only after the pin ends") {
  RetireList list;
  Counted block;
  {
    Pin pin;
    list.retire(&block, Counted::deleter);
    list.reclaim();
    CHECK(block.freed == 0);
    CHECK(list.pending() == 1);
  }
  list.reclaim();
  CHECK(block.freed == 1);
  CHECK(list.pending() == 0);
}

TEST_CASE("epoch: a pin taken after the retire does not hold the block back") {
  RetireList list;
  Counted block;
  list.retire(&block, Counted::deleter);
  Pin pin;  // announces an epoch after the block's tag
  list.reclaim();
  CHECK(block.freed == 1);
}

TEST_CASE("epoch: pins nest; the outermost one holds the block back") {
  RetireList list;
  Counted block;
  std::optional<Pin> outer;
  outer.emplace();
  { Pin inner; }
  list.retire(&block, Counted::deleter);
  { Pin inner; }  // taken and released inside the outer pin: announces nothing new
  list.reclaim();
  CHECK(block.freed == 0);
  outer.reset();
  list.reclaim();
  CHECK(block.freed == 1);
}

TEST_CASE("epoch: another thread's pin holds the block back until it ends") {
  RetireList list;
  Counted block;
  std::latch pinned(1);
  std::latch checked(1);
  std::thread reader([&] {
    Pin pin;
    pinned.count_down();
    checked.wait();  // holds the pin until the main thread has checked
  });
  pinned.wait();
  list.retire(&block, Counted::deleter);
  list.reclaim();
  CHECK(block.freed == 0);
  CHECK(oldest_pinned() != UINT64_MAX);
  checked.count_down();
  reader.join();  // the pin ended before the thread did
  list.reclaim();
  CHECK(block.freed == 1);
}

TEST_CASE("epoch: a retire list frees what is left when it is destroyed") {
  Counted block;
  {
    RetireList list;
    Pin pin;
    list.retire(&block, Counted::deleter);
    list.reclaim();
    CHECK(block.freed == 0);
  }
  CHECK(block.freed == 1);
}

TEST_CASE("epoch: retire reclaims by itself every kReclaimBatch blocks") {
  RetireList list;
  std::vector<Counted> blocks(RetireList::kReclaimBatch);
  for (Counted& b : blocks)
    list.retire(&b, Counted::deleter);
  // The last retire ran a reclaim with no pin held: everything went.
  CHECK(list.pending() == 0);
  for (const Counted& b : blocks)
    CHECK(b.freed == 1);
}

}  // namespace
}  // namespace ringdb::daemon::epoch
