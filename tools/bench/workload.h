// The request stream of a workload, shared by the ringdb and Redis drivers so both see the
// same requests: which operation comes next and on which key ("key%08u", uniform); and the
// commit workload's keys, shared by the ringdb and LMDB drivers.
// Per process; not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "tools/bench/options.h"

namespace ringdb::bench {

enum class RequestKind { kPing, kGet, kPut };

inline constexpr size_t kKeyBytes = 11;  // "key" + 8 digits

// Writes "key%08u" into buf (kKeyBytes bytes, no NUL) without snprintf's cost.
inline void format_key(uint32_t index, char* buf) {
  buf[0] = 'k';
  buf[1] = 'e';
  buf[2] = 'y';
  for (size_t i = kKeyBytes; i-- > 3;) {
    buf[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

inline constexpr size_t kCommitKeyBytesMax = 32;  // "c255/99999999/1023" is 18

// The commit workload's key i of a client's transaction n: "c<client>/<n % keys>/<i>". No two
// clients write the same key, so their transactions never conflict; a client comes back to
// its own keys (an update instead of an insert) after `keys` transactions. Writes the key
// into buf (kCommitKeyBytesMax bytes) and returns its length.
inline size_t format_commit_key(int client, uint64_t transaction, uint32_t keys, uint32_t i,
                                char* buf) {
  int n = std::snprintf(buf, kCommitKeyBytesMax, "c%d/%llu/%u", client,
                        static_cast<unsigned long long>(transaction % keys), i);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

class RequestMix {
 public:
  RequestMix(const Options& options, uint64_t seed)
      : workload_(options.workload),
        keys_(options.keys),
        get_percent_(options.get_percent),
        state_(seed * 0x9E3779B97F4A7C15ull + 1) {}

  // The next request's kind; its key goes to key_buf (kKeyBytes) unless it is a ping.
  RequestKind next(char* key_buf) {
    RequestKind kind = RequestKind::kPing;
    switch (workload_) {
      case Workload::kPing:
      case Workload::kIdle:
      case Workload::kCommit:   // not a request stream: format_commit_key
      case Workload::kCounter:  // one key: ringdb_load.cc
      case Workload::kMemory:   // no request stream: memory_run.h
      case Workload::kWatch:    // no request stream: watch_run.h
        return RequestKind::kPing;
      case Workload::kGet:
        kind = RequestKind::kGet;
        break;
      case Workload::kPut:
        kind = RequestKind::kPut;
        break;
      case Workload::kMixed:
        kind = random() % 100 < get_percent_ ? RequestKind::kGet : RequestKind::kPut;
        break;
    }
    format_key(static_cast<uint32_t>(random() % keys_), key_buf);
    return kind;
  }

 private:
  // xorshift64*: cheap and good enough to spread keys and mix operations.
  uint64_t random() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }

  Workload workload_;
  uint32_t keys_;
  uint32_t get_percent_;
  uint64_t state_;
};

}  // namespace ringdb::bench
