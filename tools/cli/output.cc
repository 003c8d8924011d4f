// Printing ringdb-cli replies as JSON or text (see output.h).
#include "tools/cli/output.h"

#include "tools/cli/json_writer.h"
#include "tools/cli/quoting.h"

namespace ringdb::cli {

std::string format_json(const Reply& reply) {
  JsonWriter w;
  w.begin_object();
  w.key("status");
  w.string(status_name(reply.status));
  if (!reply.error.empty()) {
    w.key("error");
    w.string(reply.error);
  }
  if (reply.status == Status::kConditionFailed) {
    w.key("failed_condition");
    w.number(reply.failed_condition);
    w.key("key_sequence");
    w.number(reply.commit_sequence);
  }
  switch (reply.kind) {
    case Reply::Kind::kPlain:
      break;
    case Reply::Kind::kValue:
      w.key("value");
      w.bytes(reply.value);
      if (reply.commit_sequence != 0) {
        w.key("commit_sequence");
        w.number(reply.commit_sequence);
      }
      break;
    case Reply::Kind::kItems:
      w.key("items");
      w.begin_array();
      for (const KeyValue& item : reply.items) {
        w.begin_array();
        w.bytes(item.key);
        w.bytes(item.value);
        w.end_array();
      }
      w.end_array();
      // truncated: the range holds more keys; a caller goes on after resume_after (in the
      // scan's order: a reverse scan goes on with it as END).
      w.key("truncated");
      w.boolean(reply.truncated);
      if (reply.truncated && !reply.items.empty()) {
        w.key("resume_after");
        w.bytes(reply.items.back().key);
      }
      break;
    case Reply::Kind::kCommit:
      w.key("commit_sequence");
      w.number(reply.commit_sequence);
      if (reply.log_position != 0) {
        w.key("log_position");
        w.number(reply.log_position);
      }
      break;
    case Reply::Kind::kHelp:
      w.key("help");
      w.string(reply.value);
      break;
    case Reply::Kind::kEvent:
      w.key("watch");
      w.number(reply.event.watch);
      w.key("sequence");
      w.number(reply.event.sequence);
      w.key("changes");
      w.begin_array();
      for (const Change& c : reply.event.changes) {
        w.begin_object();
        w.key("op");
        w.string(c.deleted ? "del" : "put");
        w.key("key");
        w.bytes(c.key);
        if (!c.deleted) {
          w.key("value");
          w.bytes(c.value);
        }
        if (c.value_omitted) {
          w.key("value_omitted");
          w.boolean(true);
        }
        w.end_object();
      }
      w.end_array();
      break;
    case Reply::Kind::kWatched:
      // from: where it started; next: where to watch from to go on (COMPACTED: the oldest
      // position the log holds).
      w.key("from");
      w.number(reply.watch_from);
      w.key("commits");
      w.number(reply.events);
      w.key(reply.status == Status::kCompacted ? "oldest" : "next");
      w.number(reply.commit_sequence);
      break;
  }
  w.end_object();
  return w.text();
}

void print_text(const Reply& reply, FILE* out, FILE* err) {
  if (reply.status == Status::kNotFound) {
    fputs("(not found)\n", out);
    return;
  }
  if (reply.status != Status::kOk) {
    fprintf(err, "%s: %s\n", status_name(reply.status), reply.error.c_str());
    return;
  }
  switch (reply.kind) {
    case Reply::Kind::kPlain:
      if (!reply.quit) fputs("OK\n", out);
      break;
    case Reply::Kind::kValue:
      fprintf(out, "%s\n", quote(reply.value).c_str());
      break;
    case Reply::Kind::kItems:
      for (const KeyValue& item : reply.items) {
        fprintf(out, "%s %s\n", quote(item.key).c_str(), quote(item.value).c_str());
      }
      fprintf(out, "(%zu item%s%s)\n", reply.items.size(), reply.items.size() == 1 ? "" : "s",
              !reply.truncated ? ""
              : reply.reverse  ? "; the range holds more: scan again with the last key as END"
                               : "; the range holds more: scan again from just after the last key");
      break;
    case Reply::Kind::kCommit:
      fprintf(out, "OK (commit sequence %llu)\n",
              static_cast<unsigned long long>(reply.commit_sequence));
      break;
    case Reply::Kind::kHelp:
      fputs(reply.value.c_str(), out);
      break;
    case Reply::Kind::kEvent:
      for (const Change& c : reply.event.changes) {
        fprintf(out, "%llu %s %s%s%s\n", static_cast<unsigned long long>(reply.event.sequence),
                c.deleted ? "del" : "put", quote(c.key).c_str(), c.deleted ? "" : " ",
                c.deleted ? "" : (c.value_omitted ? "(value omitted)" : quote(c.value).c_str()));
      }
      break;
    case Reply::Kind::kWatched:
      fprintf(out, "(%llu commit%s; watch from %llu to go on)\n",
              static_cast<unsigned long long>(reply.events), reply.events == 1 ? "" : "s",
              static_cast<unsigned long long>(reply.commit_sequence));
      break;
  }
}

}  // namespace ringdb::cli
