// bench_mvcc: the cost of opening and closing a read view as the number of active read-write
// transactions grows (0, 16, 1024, 16384), for ringdb's CSN snapshots and, as the baseline in
// the same run, an InnoDB-style view that copies the active transaction ids under a mutex
// (WL#6578: O(N)). Also the AC-NL-RO path: a session reusing its released view.
//
// Run: build/tests/bench/bench_mvcc [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <mutex>
#include <thread>
#include <vector>

#include "mvcc/mvcc_manager.h"
#include "mvcc/trx_sys.h"

namespace {

using ringdb::mvcc::MvccManager;
using ringdb::mvcc::ReadView;
using ringdb::mvcc::TrxId;
using ringdb::mvcc::TrxSys;

void BM_OpenCloseView(benchmark::State& state) {
  TrxSys trx_sys;
  MvccManager mvcc(trx_sys, 64);
  for (int64_t i = 0; i < state.range(0); ++i)
    trx_sys.begin_rw();  // stay active
  for (auto _ : state) {
    ReadView* view = mvcc.open_view(ringdb::mvcc::kNoTrx);
    benchmark::DoNotOptimize(view->snapshot());
    mvcc.close_view(view);
  }
  state.counters["active_rw"] = static_cast<double>(trx_sys.active_rw_count());
}
BENCHMARK(BM_OpenCloseView)->Name("OpenCloseView/csn")->Arg(0)->Arg(16)->Arg(1024)->Arg(16384);

// The baseline: a view is a copy of the active transaction ids, taken under a global mutex.
struct CopyingTrxSys {
  std::mutex mu;
  std::vector<TrxId> active;
};

void BM_OpenCloseView_CopyActive(benchmark::State& state) {
  CopyingTrxSys sys;
  for (int64_t i = 0; i < state.range(0); ++i)
    sys.active.push_back(static_cast<TrxId>(i + 1));
  std::vector<TrxId> view_ids;
  view_ids.reserve(sys.active.size());  // pre-allocated, as InnoDB's view pool
  for (auto _ : state) {
    {
      std::lock_guard<std::mutex> guard(sys.mu);
      view_ids.assign(sys.active.begin(), sys.active.end());
    }
    benchmark::DoNotOptimize(view_ids.data());
    view_ids.clear();
  }
}
BENCHMARK(BM_OpenCloseView_CopyActive)
    ->Name("OpenCloseView/copy_active_list")
    ->Arg(0)
    ->Arg(16)
    ->Arg(1024)
    ->Arg(16384);

// AC-NL-RO: a session keeps its view released between requests and reactivates it.
void BM_AcNlRoReuse(benchmark::State& state) {
  TrxSys trx_sys;
  MvccManager mvcc(trx_sys, 64);
  for (int64_t i = 0; i < state.range(0); ++i)
    trx_sys.begin_rw();
  ReadView* view = mvcc.open_view(ringdb::mvcc::kNoTrx);
  mvcc.release_view(view);
  for (auto _ : state) {
    benchmark::DoNotOptimize(mvcc.reuse_view(view));
    mvcc.release_view(view);
  }
  mvcc.close_view(view);
}
BENCHMARK(BM_AcNlRoReuse)->Name("AcNlRoReuse/csn")->Arg(0)->Arg(16384);

}  // namespace

int main(int argc, char** argv) {
  std::thread([] {}).join();  // measure as a multithreaded process (see bench_sync.cc)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
