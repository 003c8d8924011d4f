// FnSink: a wal::CompletionSink that calls a function for each completion, for tests that
// only look at completions one by one.
#pragma once

#include <span>
#include <utility>

#include "daemon/wal/completion.h"

namespace ringdb::daemon::wal {

template <class Fn>
struct FnSink final : CompletionSink {
  explicit FnSink(Fn f) : fn(std::move(f)) {}
  bool post(std::span<const Completion> completions) override {
    for (const Completion& c : completions)
      fn(c);
    return true;
  }
  Fn fn;
};

}  // namespace ringdb::daemon::wal
