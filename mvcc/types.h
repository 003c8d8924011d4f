// Basic MVCC types: transaction ids and commit sequence numbers.
#pragma once

#include <cstdint>

namespace ringdb::mvcc {

// Identifies a read-write transaction. Given at its first write, from a global counter;
// read-only work never takes one. 0 means "none".
using TrxId = uint64_t;
inline constexpr TrxId kNoTrx = 0;

// Commit sequence number: the position of a committed transaction in the global commit
// order, starting at 1. A snapshot is the CSN of the last commit it sees. 0 means "none".
using Csn = uint64_t;
inline constexpr Csn kNoCsn = 0;

// Ids and CSNs stay below 2^63: a version's stamp uses the top bit to tell them apart.
inline constexpr uint64_t kStampUncommitted = uint64_t{1} << 63;

}  // namespace ringdb::mvcc
