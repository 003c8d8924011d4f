#include "tools/cli/dump.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "tools/cli/lines.h"
#include "tools/cli/quoting.h"

namespace ringdb::cli {

namespace {

DumpResult failed(Status status, uint64_t keys, std::string error) {
  return DumpResult{status, keys, std::move(error)};
}

// Puts ops[...]; the first failure, if any, as a DumpResult.
DumpResult run_batch(Client& client, std::vector<Operation>& ops, uint64_t keys_before,
                     uint64_t first_line) {
  std::vector<Operation*> list;
  list.reserve(ops.size());
  for (Operation& op : ops)
    list.push_back(&op);
  if (const Status s = client.execute(list); s != Status::kOk) {
    return failed(s, keys_before, std::string("the session ended: ") + status_message(s));
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (const Status s = ops[i].status(); s != Status::kOk) {
      std::string detail = last_error_detail();
      return failed(s, keys_before,
                    "line " + std::to_string(first_line + i) + ": " + status_message(s) +
                        (detail.empty() ? std::string() : " (" + detail + ")"));
    }
  }
  return DumpResult{Status::kOk, keys_before + ops.size(), {}};
}

}  // namespace

DumpResult export_dump(Client& client, const std::string& prefix, FILE* out) {
  CursorOptions options;
  options.prefix = prefix;
  std::unique_ptr<Cursor> cursor;
  if (const Status s = client.open_cursor(options, &cursor); s != Status::kOk) {
    return failed(s, 0, status_message(s));
  }
  fprintf(out, "%s\n", kDumpHeader);
  uint64_t keys = 0;
  std::string line;
  Status s;
  while ((s = cursor->next()) == Status::kOk) {
    line = quote(cursor->key());
    line += ' ';
    line += quote(cursor->value());
    line += '\n';
    if (fwrite(line.data(), 1, line.size(), out) != line.size()) {
      return failed(Status::kInvalidArgument, keys, "cannot write the dump");
    }
    ++keys;
  }
  if (s != Status::kNotFound) return failed(s, keys, status_message(s));
  if (fflush(out) != 0) return failed(Status::kInvalidArgument, keys, "cannot write the dump");
  return DumpResult{Status::kOk, keys, {}};
}

DumpResult import_dump(Client& client, FILE* in, Durability durability) {
  std::string line;
  if (read_line(in, &line) != LineRead::kLine || line != kDumpHeader) {
    return failed(
        Status::kInvalidArgument, 0,
        std::string("line 1: not a ringdb dump (it begins with \"") + kDumpHeader + "\")");
  }
  // Every put but the very last is async when the import is to be durable (see dump.h).
  const Durability bulk = durability == Durability::kSync ? Durability::kAsync : durability;
  uint64_t keys = 0;
  uint64_t line_number = 1;
  std::vector<Operation> batch;
  uint64_t batch_first_line = 2;
  // Held back from each batch: the last record of the input is written alone, last.
  std::optional<std::pair<std::string, std::string>> held;
  uint64_t held_line = 0;
  for (;;) {
    const LineRead read = read_line(in, &line);
    const bool more = read != LineRead::kEnd;
    if (more) {
      ++line_number;
      if (read == LineRead::kTooLong) {
        return failed(Status::kInvalidArgument, keys,
                      "line " + std::to_string(line_number) + ": longer than " +
                          std::to_string(kLineBytesMax) + " bytes");
      }
      SplitResult split = split_line(line);
      if (!split.ok || split.args.size() != 2) {
        return failed(Status::kInvalidArgument, keys,
                      "line " + std::to_string(line_number) + ": " +
                          (split.ok ? "a record is two arguments, a key and a value, not " +
                                          std::to_string(split.args.size())
                                    : split.error));
      }
      if (held) {
        batch.push_back(Operation::put(held->first, held->second));
        batch.back().set_durability(bulk);
      }
      held.emplace(std::move(split.args[0]), std::move(split.args[1]));
      held_line = line_number;
    }
    if (batch.size() == kImportBatch || (!more && !batch.empty())) {
      DumpResult r = run_batch(client, batch, keys, batch_first_line);
      if (r.status != Status::kOk) return r;
      keys = r.keys;
      batch.clear();
      batch_first_line = held_line;
    }
    if (!more) break;
  }
  if (held) {
    batch.push_back(Operation::put(held->first, held->second));
    batch.back().set_durability(durability);
    DumpResult r = run_batch(client, batch, keys, held_line);
    if (r.status != Status::kOk) return r;
    keys = r.keys;
  }
  return DumpResult{Status::kOk, keys, {}};
}

}  // namespace ringdb::cli
