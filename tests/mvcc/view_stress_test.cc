// Read views under concurrency: threads open, reuse and close views while a committer
// advances the visible CSN and a purge thread computes clone_oldest_view(). Safety: no purge
// bound ever exceeds the snapshot of a view that is active, and the free list never hands
// one slot to two owners.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "mvcc/mvcc_manager.h"
#include "mvcc/trx_sys.h"

namespace ringdb::mvcc {
namespace {

TEST_CASE("MvccManager stress: purge bounds never pass an active view's snapshot") {
  TrxSys trx_sys;
  MvccManager mvcc(trx_sys, 16);
  std::atomic<bool> stop{false};
  std::atomic<Csn> highest_bound{0};
  std::atomic<uint64_t> violations{0};
  std::atomic<uint64_t> checks{0};

  std::thread committer([&] {
    while (!stop.load())
      trx_sys.commit(trx_sys.begin_rw());
  });
  std::thread purge([&] {
    while (!stop.load()) {
      const OldestView oldest = mvcc.clone_oldest_view();
      Csn seen = highest_bound.load();
      while (oldest.snapshot > seen &&
             !highest_bound.compare_exchange_weak(seen, oldest.snapshot)) {
      }
    }
  });
  constexpr int kWorkers = 4;
  constexpr int kRounds = 20000;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      ReadView* session = mvcc.open_view(kNoTrx, static_cast<uint64_t>(w));
      mvcc.release_view(session);
      for (int i = 0; i < kRounds; ++i) {
        ReadView* view = nullptr;
        if (i % 2 == 0) {
          view = mvcc.open_view(kNoTrx);
          if (view == nullptr) continue;  // all slots busy: a clear answer, not a hang
        } else {
          mvcc.reuse_view(session);
          view = session;
        }
        // Every bound purge has computed so far must be <= this active view's snapshot.
        if (highest_bound.load() > view->snapshot()) violations.fetch_add(1);
        checks.fetch_add(1);
        if (view == session) {
          mvcc.release_view(session);
        } else {
          mvcc.close_view(view);
        }
      }
      mvcc.close_view(session);
    });
  }
  for (auto& t : workers)
    t.join();
  stop = true;
  committer.join();
  purge.join();
  CHECK(violations.load() == 0);
  CHECK(checks.load() > 0);
  CHECK(mvcc.active_view_count() == 0);
}

TEST_CASE("MvccManager stress: the free list never hands a slot to two owners") {
  TrxSys trx_sys;
  MvccManager mvcc(trx_sys, 8);
  std::vector<std::atomic<int>> in_use(8);
  std::atomic<uint64_t> double_owned{0};
  std::atomic<uint64_t> exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ReadView* a = mvcc.open_view(kNoTrx);
        ReadView* b = mvcc.open_view(kNoTrx);
        for (ReadView* v : {a, b}) {
          if (v == nullptr) {
            exhausted.fetch_add(1);
            continue;
          }
          const auto slot =
              static_cast<size_t>(reinterpret_cast<uintptr_t>(v) / sizeof(ReadView) % 8);
          if (in_use[slot].fetch_add(1) != 0) double_owned.fetch_add(1);
        }
        for (ReadView* v : {a, b}) {
          if (v == nullptr) continue;
          const auto slot =
              static_cast<size_t>(reinterpret_cast<uintptr_t>(v) / sizeof(ReadView) % 8);
          in_use[slot].fetch_sub(1);
          mvcc.close_view(v);
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(double_owned.load() == 0);
  CHECK(mvcc.active_view_count() == 0);
  MESSAGE("open_view found every slot taken " << exhausted.load()
                                              << " times (expected: 6 threads x 2 > 8 slots)");
}

}  // namespace
}  // namespace ringdb::mvcc
