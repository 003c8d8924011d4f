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
      w.string(reply.value);
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
        w.string(item.key);
        w.string(item.value);
        w.end_array();
      }
      w.end_array();
      // truncated: the range holds more keys; a caller goes on after resume_after.
      w.key("truncated");
      w.boolean(reply.truncated);
      if (reply.truncated && !reply.items.empty()) {
        w.key("resume_after");
        w.string(reply.items.back().key);
      }
      break;
    case Reply::Kind::kCommit:
      w.key("commit_sequence");
      w.number(reply.commit_sequence);
      break;
    case Reply::Kind::kHelp:
      w.key("help");
      w.string(reply.value);
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
      fprintf(
          out, "(%zu item%s%s)\n", reply.items.size(), reply.items.size() == 1 ? "" : "s",
          reply.truncated ? "; the range holds more: scan again from just after the last key" : "");
      break;
    case Reply::Kind::kCommit:
      fprintf(out, "OK (commit sequence %llu)\n",
              static_cast<unsigned long long>(reply.commit_sequence));
      break;
    case Reply::Kind::kHelp:
      fputs(reply.value.c_str(), out);
      break;
  }
}

}  // namespace ringdb::cli
