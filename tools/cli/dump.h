// ringdb-cli export and import: a whole key range as text, and back.
//
// The dump format, version 1: a first line "# ringdb-dump 1", then one line per key: the key
// and its value as two arguments in the cli's own syntax (quoting.h): bare when printable,
// else double-quoted with \xHH and C escapes, so any bytes survive, a record is one line, and
// a dump reads as text (`sed 's/^/put /'` makes it a cli script). Keys come in ascending
// order, but import does not rely on it.
//
// export reads the range through one cursor: a consistent snapshot however long it takes,
// paged through the daemon's limits. import puts every record, many in flight at once
// (Client::execute, batches of kImportBatch), each its own commit: not atomic as a whole.
// With durability sync (the default) every put but the last is async and the last is sync:
// once the last is durable, so is everything logged before it, so an import that exits 0 is
// on disk, at the async rate. A malformed line stops the import before its batch is
// written, naming the line; the batches before it stay.
//
// Thread safety: one call at a time per Client.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "ringdb/client.h"

namespace ringdb::cli {

inline constexpr char kDumpHeader[] = "# ringdb-dump 1";
inline constexpr size_t kImportBatch = 4096;

struct DumpResult {
  Status status = Status::kOk;  // the daemon's, or kInvalidArgument for a malformed input
  uint64_t keys = 0;            // exported, or imported (whole batches)
  std::string error;            // a sentence when status is not kOk
};

// Writes the keys that begin with `prefix` (all for an empty one) to `out`.
DumpResult export_dump(Client& client, const std::string& prefix, FILE* out);

// Reads a dump from `in` and puts every record with `durability`.
DumpResult import_dump(Client& client, FILE* in, Durability durability);

}  // namespace ringdb::cli
