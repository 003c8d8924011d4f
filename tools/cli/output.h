// How ringdb-cli prints a Reply: one JSON object on one line (--json), or text for a person.
//
// JSON (json_writer.h has the escaping; keys and values are "text" when valid UTF-8, else
// {"base64":"..."}):
//   {"status":"OK"}                                   ping, put, del, begin, abort, quit
//   {"status":"OK","value":"..."}                     get
//   {"status":"OK","items":[["k","v"],...],"truncated":false}   scan
//   {"status":"OK","commit_sequence":N}               commit (N = 0 if it wrote nothing)
//   {"status":"OK","help":"..."}                      help
//   {"status":"NOT_FOUND"}                            get or del of a key with no value
//   {"status":"CONFLICT","error":"..."}               every other status: with a sentence
// Status names are ringdb::status_name()'s.
//
// Text: values and keys are printed with quote() (quoting.h), so they can be pasted back.
// Successes and NOT_FOUND go to `out`; other statuses to `err` as "NAME: sentence".
//
// Thread safety: pure functions (print_text writes to the given streams).
#pragma once

#include <cstdio>
#include <string>

#include "tools/cli/shell.h"

namespace ringdb::cli {

std::string format_json(const Reply& reply);

void print_text(const Reply& reply, FILE* out, FILE* err);

}  // namespace ringdb::cli
