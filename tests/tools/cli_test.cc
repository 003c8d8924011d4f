// ringdb-cli end to end: a real ringdbd in a fresh temporary directory, ringdb-cli --json
// processes driven one command at a time through pipes. Autocommit operations, quoting of
// keys with spaces and binary bytes, scans, transactions (visibility, conflicts, abort,
// misuse), malformed lines, exit codes at end of input, quit, connect failure, the text
// output pasted back, and a daemon killed under a waiting cli.
//
// The programs come from meson: $RINGDBD and $RINGDB_CLI.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "tests/support/child_process.h"
#include "tests/tools/cli_daemon.h"
#include "tools/cli/json_writer.h"
#include "tools/cli/quoting.h"

namespace {

using ringdb::test::ChildOptions;
using ringdb::test::ChildProcess;
using ringdb::test::Daemon;
using ringdb::test::exit_code;
using ringdb::test::program_path;

constexpr char kOk[] = R"({"status":"OK"})";
constexpr char kNotFound[] = R"({"status":"NOT_FOUND"})";

ChildOptions cli_options(std::map<std::string, std::string> env = {}) {
  ChildOptions options;
  options.env = std::move(env);
  return options;
}

// One ringdb-cli process, one command at a time.
class Cli {
 public:
  explicit Cli(const Daemon& daemon, bool json = true)
      : Cli(args(daemon.socket(), json), cli_options()) {}
  Cli(const std::vector<std::string>& argv, const ChildOptions& options)
      : process_(argv, options) {}

  static std::vector<std::string> args(const std::string& socket, bool json) {
    std::vector<std::string> a = {program_path("RINGDB_CLI"), "--socket", socket};
    if (json) a.push_back("--json");
    return a;
  }

  // Sends one line and returns the one line it answers ("<no answer>" if none came). After
  // one missing answer the cli's output is out of step with its commands: later calls fail
  // at once instead of each waiting for the timeout.
  std::string run(const std::string& line) {
    if (lost_) return "<no answer earlier>";
    if (!process_.write(line + "\n")) return "<stdin closed>";
    std::string answer;
    if (!process_.read_line(&answer)) {
      lost_ = true;
      return "<no answer>";
    }
    return answer;
  }

  // Closes standard input; returns the exit code (after reading what is left on stdout).
  int finish(std::string* rest = nullptr) {
    if (lost_) {  // it is stuck in a command: waiting for its end would only add a timeout
      process_.signal(SIGKILL);
      return -1;
    }
    process_.close_stdin();
    std::string text = process_.read_rest();
    if (rest != nullptr) *rest = text;
    return exit_code(process_.wait());
  }

  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
  bool lost_ = false;
};

// The commit_sequence of a successful commit's answer, or 0 if the answer is not one. A sync
// commit that wrote also gives its log position (docs/PROTOCOL.md, "Watches"); the others none.
uint64_t commit_sequence(const std::string& answer) {
  const std::string prefix = R"({"status":"OK","commit_sequence":)";
  if (answer.rfind(prefix, 0) != 0 || answer.back() != '}') return 0;
  const size_t end = answer.find_first_not_of("0123456789", prefix.size());
  if (end == prefix.size()) return 0;
  const std::string rest = answer.substr(end);
  const std::string position = R"(,"log_position":)";
  if (rest != "}" && (rest.rfind(position, 0) != 0 ||
                      rest.find_first_not_of("0123456789", position.size()) != rest.size() - 1)) {
    return 0;
  }
  return std::stoull(answer.substr(prefix.size(), end - prefix.size()));
}

// A get's answer without its commit_sequence (a number that differs from run to run).
std::string plain(const std::string& answer) {
  const std::string field = R"(,"commit_sequence":)";
  const size_t at = answer.find(field);
  if (at == std::string::npos || answer.find(R"("value":)") == std::string::npos) return answer;
  const size_t end = answer.find_first_not_of("0123456789", at + field.size());
  return answer.substr(0, at) + answer.substr(end);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool is_error(const std::string& answer, const std::string& status) {
  return starts_with(answer, R"({"status":")" + status + R"(","error":")") &&
         answer.size() > status.size() + 25 && answer.back() == '}';
}

}  // namespace

TEST_CASE("ping, and autocommit put, get, del") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run("ping") == kOk);
  CHECK(cli.run("get k") == kNotFound);
  CHECK(cli.run("put k v") == kOk);
  CHECK(plain(cli.run("get k")) == R"({"status":"OK","value":"v"})");
  CHECK(cli.run("put k w") == kOk);
  CHECK(plain(cli.run("GET k")) == R"({"status":"OK","value":"w"})");
  CHECK(cli.run("del k") == kOk);
  CHECK(cli.run("get k") == kNotFound);
  CHECK(cli.run("del k") == kNotFound);
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("quoted keys and values with spaces, quotes and binary bytes") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run(R"(put "a key" "a \"value\"\twith\\escapes\n")") == kOk);
  CHECK(plain(cli.run(R"(get "a key")")) ==
        R"({"status":"OK","value":"a \"value\"\twith\\escapes\n"})");
  CHECK(cli.run(R"(put "b\x00\xff" "\xc3\xa9\x01\x80")") == kOk);
  // Not UTF-8 (0x80 alone): the value's bytes in base64.
  CHECK(plain(cli.run(R"(get "b\0\xFF")")) == R"({"status":"OK","value":{"base64":"w6kBgA=="}})");
  CHECK(cli.run(R"(get "b")") == kNotFound);
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("scan: bounds, unbounded \"\", limit, binary keys") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run(R"(scan "" "")") == R"({"status":"OK","items":[],"truncated":false})");
  CHECK(cli.run(R"(put "a key" 1)") == kOk);
  CHECK(cli.run(R"(put "b\x00\xff" "two words")") == kOk);
  CHECK(cli.run("put c 3") == kOk);
  CHECK(cli.run("put d 4") == kOk);
  const std::string a = R"(["a key","1"])";
  const std::string b = R"([{"base64":"YgD/"},"two words"])";  // b 00 ff: not UTF-8
  const std::string c = R"(["c","3"])";
  const std::string d = R"(["d","4"])";
  auto items = [](const std::string& list) {
    return R"({"status":"OK","items":[)" + list + R"(],"truncated":false})";
  };
  CHECK(cli.run(R"(scan "" "")") == items(a + "," + b + "," + c + "," + d));
  // Stopped by its limit with keys left in the range: it says so, and where to go on.
  CHECK(cli.run(R"(scan "" "" 2)") ==
        R"({"status":"OK","items":[)" + a + "," + b +
            R"(],"truncated":true,"resume_after":{"base64":"YgD/"}})");
  CHECK(cli.run(R"(scan "" "" 4)") == items(a + "," + b + "," + c + "," + d));
  CHECK(cli.run(R"(scan b "")") == items(b + "," + c + "," + d));
  CHECK(cli.run(R"(scan "" c)") == items(a + "," + b));
  CHECK(cli.run(R"(scan "b\x00\xff" d 5)") == items(b + "," + c));
  CHECK(cli.run("scan x z") == items(""));
  CHECK(cli.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("scan: prefix P and reverse, with a range and a LIMIT, in a transaction too") {
  Daemon daemon;
  Cli cli(daemon);
  for (const char* key : {"a/1", "a/2", "a/3", "ab", "b/1"}) {
    CHECK(cli.run(std::string("put ") + key + " v") == kOk);
  }
  // Appended piece by piece: GCC 12's false -Wrestrict on string + chains (bug 105329).
  auto items = [](const std::vector<std::string>& keys, bool truncated = false) {
    std::string out = R"({"status":"OK","items":[)";
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) out += ',';
      out += R"([")";
      out += keys[i];
      out += R"(","v"])";
    }
    out += R"(],"truncated":)";
    out += truncated ? "true" : "false";
    if (truncated) {
      out += R"(,"resume_after":")";
      out += keys.back();
      out += '"';
    }
    out += '}';
    return out;
  };
  CHECK(cli.run(R"(scan "" "" prefix a/)") == items({"a/1", "a/2", "a/3"}));
  CHECK(cli.run(R"(scan "" "" reverse)") == items({"b/1", "ab", "a/3", "a/2", "a/1"}));
  CHECK(cli.run(R"(scan "" "" PREFIX a/ Reverse)") == items({"a/3", "a/2", "a/1"}));
  CHECK(cli.run(R"(scan "" "" 2 reverse prefix a/)") == items({"a/3", "a/2"}, true));
  // A reverse scan goes on with the last key as END.
  CHECK(cli.run(R"(scan "" a/2 reverse prefix a/)") == items({"a/1"}));
  CHECK(cli.run("scan a/2 b prefix a/") == items({"a/2", "a/3"}));
  CHECK(cli.run(R"(scan "" "" prefix zz)") == items({}));
  CHECK(cli.run("begin") == kOk);
  CHECK(cli.run("put a/0 v") == kOk);
  CHECK(cli.run(R"(scan "" "" 2 prefix a/)") == items({"a/0", "a/1"}, true));
  CHECK(cli.run("abort") == kOk);
  // Malformed: an option twice, prefix without P, a word that is no option, LIMIT after one.
  for (const char* line :
       {R"(scan "" "" reverse reverse)", R"(scan "" "" prefix a prefix b)", R"(scan "" "" prefix)",
        R"(scan "" "" backwards)", R"(scan "" "" reverse 10)"}) {
    CAPTURE(line);
    CHECK(is_error(cli.run(line), "INVALID_ARGUMENT"));
  }
  CHECK(cli.finish() == 3);  // the malformed ones
  Cli text(daemon, /*json=*/false);
  CHECK(text.run(R"(scan "" "" 1 reverse)") == "b/1 v");
  std::string line;
  CHECK(text.process().read_line(&line));
  CHECK(line == "(1 item; the range holds more: scan again with the last key as END)");
  CHECK(text.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("control bytes in a bare argument are refused (a cursor key at a pipe), quoted taken") {
  Daemon daemon;
  Cli cli(daemon);
  // What a terminal without line editing sent for: put k1 v1x, Left, Backspace.
  const std::string answer = cli.run("put k1 v1x\x1b[");
  CHECK(is_error(answer, "INVALID_ARGUMENT"));
  CHECK(answer.find(R"(control byte 0x1b in an unquoted argument at column 11)") !=
        std::string::npos);
  CHECK(answer.find(R"(\"v1x\\x1b[\")") != std::string::npos);  // how to write it
  CHECK(is_error(cli.run("get greeting\x01x"), "INVALID_ARGUMENT"));
  CHECK(cli.run("get k1") == kNotFound);  // nothing was stored
  CHECK(cli.run(R"(put k1 "v1x\x1b[")") == kOk);
  CHECK(plain(cli.run("get k1")) == R"({"status":"OK","value":"v1x\u001b["})");
  CHECK(cli.finish() == 3);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("single-quoted arguments: every byte as it is, no escapes") {
  Daemon daemon;
  Cli cli(daemon), text(daemon, /*json=*/false);
  CHECK(cli.run(R"(put 'a key' 'C:\new "dir"')") == kOk);
  CHECK(plain(cli.run(R"(get "a key")")) == R"({"status":"OK","value":"C:\\new \"dir\""})");
  CHECK(cli.run("put k don't") == kOk);  // an apostrophe inside a word is a byte
  CHECK(plain(cli.run("get k")) == R"({"status":"OK","value":"don't"})");
  // A value that begins with ' is printed quoted, so that it pastes back as itself.
  CHECK(cli.run(R"(put q "'x'")") == kOk);
  const std::string printed = text.run("get q");
  CHECK(printed == R"("'x'")");
  CHECK(text.run("put q2 " + printed) == "OK");
  CHECK(plain(cli.run("get q2")) == R"({"status":"OK","value":"'x'"})");
  CHECK(is_error(cli.run("put 'open v"), "INVALID_ARGUMENT"));
  CHECK(cli.finish() == 3);
  CHECK(text.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("--json: a byte key ff fe and the text key U+00FF U+00FE print differently") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run(R"(put "\xff\xfe" bytes)") == kOk);
  CHECK(cli.run("put \xc3\xbf\xc3\xbe text") == kOk);  // "ÿþ" in UTF-8
  CHECK(cli.run(R"(put k "\xff")") == kOk);
  CHECK(cli.run(R"(scan "" "")") == R"({"status":"OK","items":[["k",{"base64":"/w=="}],)"
                                    "[\"\xc3\xbf\xc3\xbe\",\"text\"],"
                                    R"([{"base64":"//4="},"bytes"]],"truncated":false})");
  CHECK(plain(cli.run("get k")) == R"({"status":"OK","value":{"base64":"/w=="}})");
  CHECK(cli.finish() == 0);
  // A watch's events use the same encoding.
  Cli watcher(daemon);
  CHECK(watcher.process().write("watch \"\" 0 max 3\n"));
  for (const char* expected : {R"("key":{"base64":"//4="},"value":"bytes")",
                               "\"key\":\"\xc3\xbf\xc3\xbe\",\"value\":\"text\"",
                               R"("key":"k","value":{"base64":"/w=="})"}) {
    std::string event;
    REQUIRE(watcher.process().read_line(&event));
    CAPTURE(event);
    CHECK(event.find(expected) != std::string::npos);
  }
  std::string end;
  REQUIRE(watcher.process().read_line(&end));
  CHECK(starts_with(end, R"({"status":"OK","from":)"));
  CHECK(watcher.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("--help names -e, the exit statuses, the JSON encoding, scan's options; 80 columns") {
  std::string out;
  ChildProcess p({program_path("RINGDB_CLI"), "--help"}, cli_options());
  p.close_stdin();
  out = p.read_rest();
  CHECK(exit_code(p.wait()) == 0);
  for (const char* text : {"-e ", "Exit status: 0 when every command answered OK",
                           "{\"base64\":\"...\"}", "scan START END [LIMIT] [prefix P] [reverse]",
                           "1 to 100000", "ringdb(txn)>", "'single quotes'"}) {
    CAPTURE(text);
    CHECK(out.find(text) != std::string::npos);
  }
  for (size_t at = 0, end; at < out.size(); at = end + 1) {
    end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    CAPTURE(out.substr(at, end - at));
    CHECK(end - at <= 80);
  }
}

TEST_CASE("values larger than a request context, every byte value, round trip") {
  Daemon daemon;
  Cli cli(daemon);
  std::string value;
  for (int i = 0; i < 70000; ++i)
    value.push_back(static_cast<char>(i * 7 % 256));
  std::string expected = R"({"status":"OK","value":)";
  ringdb::cli::append_json_bytes(&expected, value);
  expected += "}";
  CHECK(cli.run("put big " + ringdb::cli::quote(value)) == kOk);
  CHECK(plain(cli.run("get big")) == expected);
  CHECK(cli.run("begin") == kOk);
  CHECK(cli.run("put big2 " + ringdb::cli::quote(value)) == kOk);
  CHECK(commit_sequence(cli.run("commit")) > 0);
  CHECK(plain(cli.run("get big2")) == expected);
  CHECK(cli.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("limits: scan LIMIT refused by the cli past the daemon's, sizes named as configured") {
  Daemon daemon({"--key-size-max", "16", "--value-size-max", "64"});
  Cli cli(daemon);
  CHECK(cli.run("put a 1") == kOk);
  CHECK(cli.run(R"(scan "" "" 100000)") ==
        R"({"status":"OK","items":[["a","1"]],"truncated":false})");
  // Past the daemon's scan limit (a protocol constant, not announced): the cli's own
  // sentence, naming the limit, for every number the daemon would refuse.
  for (const char* limit : {"100001", "4294967295", "4294967296", "0"}) {
    CAPTURE(limit);
    const std::string answer = cli.run(std::string(R"(scan "" "" )") + limit);
    CHECK(is_error(answer, "INVALID_ARGUMENT"));
    CHECK(answer.find("from 1 to 100000 (the daemon's limit of items per scan)") !=
          std::string::npos);
  }
  // Keys and values: the daemon's configured limits, named in the answer.
  const std::string key = cli.run("put " + std::string(17, 'k') + " v");
  CHECK(is_error(key, "TOO_LARGE"));
  CHECK(key.find("limit of 16 bytes (--key-size-max)") != std::string::npos);
  const std::string value = cli.run("put k " + std::string(65, 'v'));
  CHECK(is_error(value, "TOO_LARGE"));
  CHECK(value.find("limit of 64 bytes (--value-size-max)") != std::string::npos);
  const std::string prefix = cli.run(R"(scan "" "" prefix )" + std::string(17, 'p'));
  CHECK(is_error(prefix, "TOO_LARGE"));
  CHECK(prefix.find("limit of 16 bytes") != std::string::npos);
  CHECK(cli.run("put " + std::string(16, 'k') + " " + std::string(64, 'v')) == kOk);
  CHECK(cli.run("ping") == kOk);
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a transaction's writes are seen by others after commit only") {
  Daemon daemon;
  Cli writer(daemon), reader(daemon);
  CHECK(writer.run("begin") == kOk);
  CHECK(writer.run("put k v") == kOk);
  CHECK(plain(writer.run("get k")) == R"({"status":"OK","value":"v"})");  // its own write
  CHECK(writer.run(R"(scan "" "")") == R"({"status":"OK","items":[["k","v"]],"truncated":false})");
  CHECK(reader.run("get k") == kNotFound);
  const std::string commit = writer.run("commit");
  CHECK(commit_sequence(commit) > 0);
  CHECK(plain(reader.run("get k")) == R"({"status":"OK","value":"v"})");
  // Back to autocommit after the commit.
  CHECK(writer.run("put k w") == kOk);
  CHECK(plain(reader.run("get k")) == R"({"status":"OK","value":"w"})");
  // A transaction that wrote nothing commits at sequence 0.
  CHECK(writer.run("begin") == kOk);
  CHECK(plain(writer.run("get k")) == R"({"status":"OK","value":"w"})");
  CHECK(writer.run("commit") == R"({"status":"OK","commit_sequence":0})");
  CHECK(writer.finish() == 0);
  CHECK(reader.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("two transactions put the same key: the second gets CONFLICT") {
  Daemon daemon;
  Cli first(daemon), second(daemon);
  CHECK(first.run("begin") == kOk);
  CHECK(second.run("begin") == kOk);
  CHECK(first.run("put k first") == kOk);
  const std::string conflict = second.run("put k second");
  CHECK(is_error(conflict, "CONFLICT"));
  CHECK(commit_sequence(first.run("commit")) > 0);
  // After a conflict only abort is useful; the cli's transaction is still open until then.
  CHECK(second.run("abort") == kOk);
  CHECK(plain(second.run("get k")) == R"({"status":"OK","value":"first"})");
  CHECK(first.finish() == 0);
  CHECK(second.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("commit after a conflict ends the transaction with TRANSACTION_DONE") {
  Daemon daemon;
  Cli first(daemon), second(daemon);
  CHECK(first.run("begin") == kOk);
  CHECK(second.run("begin") == kOk);
  CHECK(first.run("put k first") == kOk);
  CHECK(is_error(second.run("put k second"), "CONFLICT"));
  CHECK(is_error(second.run("commit"), "TRANSACTION_DONE"));
  CHECK(is_error(second.run("commit"), "INVALID_ARGUMENT"));  // none open any more
  CHECK(commit_sequence(first.run("commit")) > 0);
  CHECK(first.finish() == 0);
  CHECK(second.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("abort discards a transaction's writes") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run("put kept 1") == kOk);
  CHECK(cli.run("begin") == kOk);
  CHECK(cli.run("put k v") == kOk);
  CHECK(cli.run("del kept") == kOk);
  CHECK(cli.run("abort") == kOk);
  CHECK(cli.run("get k") == kNotFound);
  CHECK(plain(cli.run("get kept")) == R"({"status":"OK","value":"1"})");
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("commit takes a durability level: sync, async, none; anything else is refused") {
  Daemon daemon;
  Cli cli(daemon);
  for (const char* level : {"sync", "ASYNC", "none"}) {
    CAPTURE(level);
    CHECK(cli.run("begin") == kOk);
    CHECK(cli.run(std::string("put k ") + level) == kOk);
    CHECK(commit_sequence(cli.run(std::string("commit ") + level)) > 0);
    CHECK(plain(cli.run("get k")) == std::string(R"({"status":"OK","value":")") + level + "\"}");
  }
  CHECK(cli.run("begin") == kOk);
  CHECK(is_error(cli.run("commit later"), "INVALID_ARGUMENT"));
  CHECK(commit_sequence(cli.run("commit")) == 0);  // nothing written: still open, and empty
  CHECK(is_error(cli.run("commit sync extra"), "INVALID_ARGUMENT"));
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

// The number after `"field":` in a JSON answer, or 0.
uint64_t number_field(const std::string& answer, const std::string& field) {
  const std::string key = "\"" + field + "\":";
  const size_t at = answer.find(key);
  if (at == std::string::npos) return 0;
  return std::stoull(answer.substr(at + key.size()));
}

TEST_CASE("batch: conditions and operations in one command, the failed condition named") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run("put bal 100") == kOk);
  const std::string got = cli.run("get bal");
  const uint64_t bal_csn = number_field(got, "commit_sequence");
  CHECK(bal_csn > 0);
  const std::string applied =
      cli.run("batch if-equals bal 100 if-absent other if-unchanged bal " +
              std::to_string(bal_csn) + " put bal 70 put other 30 durability async");
  const uint64_t csn = commit_sequence(applied);
  CHECK(csn > bal_csn);
  CHECK(plain(cli.run("get bal")) == R"({"status":"OK","value":"70"})");
  CHECK(number_field(cli.run("get other"), "commit_sequence") == csn);
  // Again: the first condition fails, named in the error, with its key's sequence number.
  const std::string failed = cli.run("batch IF-EQUALS bal 100 put bal 0");
  CHECK(failed.rfind(R"({"status":"CONDITION_FAILED","error":"condition 1 (if-equals bal) )", 0) ==
        0);
  CHECK(number_field(failed, "failed_condition") == 0);
  CHECK(number_field(failed, "key_sequence") == csn);
  CHECK(plain(cli.run("get bal")) == R"({"status":"OK","value":"70"})");
  CHECK(number_field(cli.run("batch if-present bal if-absent bal del bal"), "failed_condition") ==
        1);
  CHECK(cli.run("batch if-present bal") == R"({"status":"OK","commit_sequence":0})");
  CHECK(commit_sequence(cli.run("batch del bal del nothing durability none")) > csn);
  CHECK(cli.run("get bal") == kNotFound);
  // Malformed: each refused with a sentence, the cli goes on.
  for (const char* line :
       {"batch", "batch put k", "batch frobnicate k", "batch if-unchanged k soon",
        "batch put k v durability later", R"(batch put "" v)"}) {
    CAPTURE(line);
    CHECK(is_error(cli.run(line), "INVALID_ARGUMENT"));
  }
  CHECK(cli.run("begin") == kOk);
  CHECK(is_error(cli.run("batch put k v"), "INVALID_ARGUMENT"));  // not inside a transaction
  CHECK(cli.run("abort") == kOk);
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("begin twice, commit or abort with none open: INVALID_ARGUMENT, and the cli goes on") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(is_error(cli.run("commit"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("abort"), "INVALID_ARGUMENT"));
  CHECK(cli.run("begin") == kOk);
  CHECK(is_error(cli.run("begin"), "INVALID_ARGUMENT"));
  CHECK(cli.run("put k v") == kOk);  // still in the first transaction
  CHECK(commit_sequence(cli.run("commit")) > 0);
  CHECK(plain(cli.run("get k")) == R"({"status":"OK","value":"v"})");
  CHECK(cli.finish() == 3);  // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("malformed lines answer INVALID_ARGUMENT and the cli goes on") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(is_error(cli.run("frobnicate"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("get"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("get a b"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("put k"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("ping now"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("scan a"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("scan a b 0"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("scan a b ten"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run("scan a b 99999999999"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run(R"(put "k v)"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run(R"(put "k\q" v)"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run(R"(put k\n v)"), "INVALID_ARGUMENT"));
  CHECK(is_error(cli.run(R"(put "k"v w)"), "INVALID_ARGUMENT"));
  // The daemon's own refusal: an empty key.
  CHECK(is_error(cli.run(R"(put "" v)"), "INVALID_ARGUMENT"));
  // Blank lines are not commands: no answer, so the next answer is ping's.
  CHECK(cli.run("\n  \n\t\nping") == kOk);
  std::string rest;
  CHECK(cli.finish(&rest) == 3);  // a command answered other than OK
  CHECK(rest.empty());
  CHECK(daemon.stop() == 0);
}

TEST_CASE("end of input: exit 0 when every command answered OK, 3 when one did not") {
  Daemon daemon;
  Cli good(daemon);
  CHECK(good.run("put k v") == kOk);
  CHECK(good.run("ping") == kOk);
  CHECK(good.finish() == 0);
  // Every command failed (the case that exited 0 before): 3.
  Cli bad(daemon);
  CHECK(bad.run("get nothing") == kNotFound);
  CHECK(is_error(bad.run("bogus"), "INVALID_ARGUMENT"));
  CHECK(bad.finish() == 3);
  // One failure among successes is enough; the commands after it still ran.
  Cli mixed(daemon);
  CHECK(is_error(mixed.run("commit"), "INVALID_ARGUMENT"));
  CHECK(mixed.run("put after v") == kOk);
  CHECK(mixed.finish() == 3);
  Cli check(daemon);
  CHECK(plain(check.run("get after")) == R"({"status":"OK","value":"v"})");
  CHECK(check.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("end of input aborts an open transaction") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.run("begin") == kOk);
  CHECK(cli.run("put k v") == kOk);
  std::string rest;
  CHECK(cli.finish(&rest) == 0);
  CHECK(rest.empty());
  Cli after(daemon);
  CHECK(after.run("get k") == kNotFound);
  CHECK(after.finish() == 3);  // NOT_FOUND is not OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("a last line without a newline is still a command") {
  Daemon daemon;
  Cli cli(daemon);
  CHECK(cli.process().write("put k v"));
  std::string rest;
  CHECK(cli.finish(&rest) == 0);
  CHECK(rest == std::string(kOk) + "\n");
  Cli after(daemon);
  CHECK(plain(after.run("get k")) == R"({"status":"OK","value":"v"})");
  CHECK(after.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("quit answers OK and exits 0 before the end of input; help answers OK") {
  Daemon daemon;
  Cli cli(daemon);
  const std::string help = cli.run("help");
  CHECK(starts_with(help, R"({"status":"OK","help":"ping)"));
  CHECK(help.find(R"(scan START END [LIMIT])") != std::string::npos);
  CHECK(cli.run("begin") == kOk);
  CHECK(cli.run("put k v") == kOk);
  CHECK(cli.run("quit") == kOk);
  CHECK(exit_code(cli.process().wait()) == 0);
  Cli after(daemon);
  CHECK(after.run("get k") == kNotFound);  // quit aborted the transaction
  CHECK(after.finish() == 3);              // a command answered other than OK
  CHECK(daemon.stop() == 0);
}

TEST_CASE("no daemon at the socket: a message on stderr, exit 1") {
  Daemon daemon;
  const std::string missing = daemon.dir() + "/no-such.sock";
  for (const bool json : {false, true}) {
    Cli cli(Cli::args(missing, json), cli_options());
    std::string out;
    CHECK(cli.finish(&out) == 1);
    const std::string err = cli.process().read_stderr();
    CHECK(err.find("cannot connect") != std::string::npos);
    CHECK(err.find(missing) != std::string::npos);
    if (json) {
      CHECK(starts_with(out, R"({"status":"CONNECT_FAILED","error":")"));
    } else {
      CHECK(out.empty());
    }
  }
  CHECK(daemon.stop() == 0);
}

TEST_CASE("without --socket the cli connects to $RINGDB_SOCKET") {
  Daemon daemon;
  Cli cli({program_path("RINGDB_CLI"), "--json"},
          cli_options({{"RINGDB_SOCKET", daemon.socket()}}));
  CHECK(cli.run("ping") == kOk);
  CHECK(cli.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("text output: quoted values paste back as input") {
  Daemon daemon;
  Cli text(daemon, /*json=*/false), json(daemon);
  CHECK(text.run("ping") == "OK");
  const std::string value = R"("a b\"c\\\n\0\x01\xff\xc3\xa9")";
  CHECK(text.run("put k " + value) == "OK");
  const std::string printed = text.run("get k");
  CHECK(printed == "\"a b\\\"c\\\\\\n\\0\\x01\\xff\xc3\xa9\"");
  CHECK(text.run("put copy " + printed) == "OK");
  CHECK(plain(json.run("get copy")) == plain(json.run("get k")));
  CHECK(text.run("get plain-word") == "(not found)");
  CHECK(text.run("put plain-word v") == "OK");
  CHECK(text.run("get plain-word") == "v");
  CHECK(text.run(R"(scan "" "" 2)") == R"(copy "a b\"c\\\n\0\x01\xff)"
                                       "\xc3\xa9\"");
  std::string line;
  CHECK(text.process().read_line(&line));
  CHECK(starts_with(line, "k "));
  CHECK(text.process().read_line(&line));
  CHECK(line == "(2 items; the range holds more: scan again from just after the last key)");
  CHECK(text.run("begin") == "OK");
  CHECK(starts_with(text.run("commit"), "OK (commit sequence 0)"));
  CHECK(text.finish() == 3);  // a command answered other than OK
  // Errors go to standard error in text mode.
  CHECK(text.process().read_stderr().empty());
  CHECK(json.finish() == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("text output: errors go to standard error") {
  Daemon daemon;
  Cli text(daemon, /*json=*/false);
  CHECK(text.process().write("commit\nbogus\n"));
  CHECK(text.run("ping") == "OK");  // nothing of the errors on standard output
  std::string rest;
  CHECK(text.finish(&rest) == 3);  // a command answered other than OK
  CHECK(rest.empty());
  const std::string err = text.process().read_stderr();
  CHECK(starts_with(err, "INVALID_ARGUMENT: no transaction is open"));
  CHECK(err.find("\nINVALID_ARGUMENT: unknown command bogus") != std::string::npos);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("the daemon is killed while the cli waits for input: DISCONNECTED, exit 1") {
  Daemon daemon;
  Cli idle(daemon), in_transaction(daemon);
  CHECK(idle.run("ping") == kOk);
  CHECK(in_transaction.run("begin") == kOk);
  CHECK(in_transaction.run("put k v") == kOk);
  daemon.process().signal(SIGKILL);
  const int status = daemon.process().wait();
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  CHECK(is_error(idle.run("get k"), "DISCONNECTED"));
  CHECK(exit_code(idle.process().wait()) == 1);
  CHECK(is_error(in_transaction.run("put k w"), "DISCONNECTED"));
  CHECK(exit_code(in_transaction.process().wait()) == 1);
}

// ---- One command, export and import --------------------------------------------------------

namespace {

// ringdb-cli with these arguments after --socket; `input` on its standard input. Returns the
// exit code; *out and *err get what it wrote.
int cli_once(const Daemon& daemon, const std::vector<std::string>& args,
             const std::string& input = "", std::string* out = nullptr,
             std::string* err = nullptr) {
  std::vector<std::string> argv = {program_path("RINGDB_CLI"), "--socket", daemon.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess cli(argv, cli_options());
  if (!input.empty()) REQUIRE(cli.write(input));
  cli.close_stdin();
  const std::string text = cli.read_rest(std::chrono::seconds(120));
  const int code = exit_code(cli.wait(std::chrono::seconds(120)));
  if (out != nullptr) *out = text;
  if (err != nullptr) *err = cli.read_stderr();
  return code;
}

// A dump of `count` keys "k00000..." (with a few binary and empty ones), sorted as export
// writes them.
std::string make_dump(int count) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < count; ++i) {
    // Appended, not inserted or added to a literal: GCC 12's false -Wrestrict (bug 105329).
    const std::string digits = std::to_string(i);
    std::string key("k");
    key.append(5 - std::min<size_t>(5, digits.size()), '0');
    key += digits;
    std::string value("v");
    value += key;
    static constexpr char kAwkward[] = "\0\n\t\"\\ \xff\xfe end";  // NUL, escapes, not UTF-8
    if (i % 1000 == 7) value.assign(kAwkward, sizeof kAwkward - 1);
    if (i % 1000 == 8) value.clear();
    if (i % 1000 == 9) value.assign(100000, 'x');  // larger than a request context
    if (i == 3) key.append("\n\xc3\xa9 \x01", 5);  // a key with a newline, UTF-8, a control
    records.emplace_back(key, value);
  }
  std::sort(records.begin(), records.end());
  std::string dump = "# ringdb-dump 1\n";
  for (const auto& [key, value] : records)
    dump += ringdb::cli::quote(key) + " " + ringdb::cli::quote(value) + "\n";
  return dump;
}

}  // namespace

TEST_CASE("one command from the arguments: no quoting needed, exit 0 on OK and 3 otherwise") {
  Daemon daemon;
  std::string out;
  CHECK(cli_once(daemon, {"--json", "put", "a key", "a \"value\""}, "", &out) == 0);
  CHECK(out == std::string(kOk) + "\n");
  CHECK(cli_once(daemon, {"--json", "get", "a key"}, "", &out) == 0);
  CHECK(plain(out) == R"({"status":"OK","value":"a \"value\""})"
                      "\n");
  CHECK(cli_once(daemon, {"get", "missing"}, "", &out) == 3);
  // An argument that begins with a quote is still taken as it is (it is quoted on its way
  // to the shell's syntax, where 'x' would mean x).
  CHECK(cli_once(daemon, {"put", "'q'", "v"}) == 0);
  CHECK(cli_once(daemon, {"get", "q"}) == 3);
  CHECK(cli_once(daemon, {"--json", "get", "'q'"}, "", &out) == 0);
  CHECK(cli_once(daemon, {"--json", "bogus"}, "", &out) == 3);
  CHECK(is_error(out.substr(0, out.size() - 1), "INVALID_ARGUMENT"));
  CHECK(cli_once(daemon, {"export", "a", "b"}) == 2);
  CHECK(cli_once(daemon, {"import", "--durability", "fast"}) == 2);
  CHECK(daemon.stop() == 0);
}

TEST_CASE(
    "-e stops at the first command that does not answer OK, exit 3, its transaction aborted") {
  Daemon daemon;
  std::string out;
  std::string err;
  // The lines after the failed one are not run: k2 is never written.
  CHECK(cli_once(daemon, {"-e", "--json"}, "put k1 v\nbegin\nput t v\nget missing\nput k2 v\n",
                 &out, &err) == 3);
  CHECK(out == std::string(kOk) + "\n" + kOk + "\n" + kOk + "\n" + kNotFound + "\n");
  CHECK(cli_once(daemon, {"--json", "get", "k1"}) == 0);
  CHECK(cli_once(daemon, {"--json", "get", "k2"}) == 3);
  CHECK(cli_once(daemon, {"--json", "get", "t"}) == 3);  // the open transaction was aborted
  // A malformed line stops it too; without -e the same input runs to its end.
  CHECK(cli_once(daemon, {"-e"}, "bogus\nput k3 v\n", &out, &err) == 3);
  CHECK(err.find("unknown command bogus") != std::string::npos);
  CHECK(cli_once(daemon, {"--json", "get", "k3"}) == 3);
  CHECK(cli_once(daemon, {}, "bogus\nput k3 v\n") == 3);
  CHECK(cli_once(daemon, {"--json", "get", "k3"}) == 0);
  // Nothing failed: 0.
  CHECK(cli_once(daemon, {"-e"}, "put k4 v\nget k4\n") == 0);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("export and import: every byte survives, many batches, a prefix, the copy the same") {
  Daemon from;
  Daemon to;
  const std::string dump = make_dump(10000);  // three batches of the import
  std::string out;
  std::string err;
  REQUIRE(cli_once(from, {"import"}, dump, &out, &err) == 0);
  CHECK(err.find("import: 10000 keys") != std::string::npos);
  REQUIRE(cli_once(from, {"export"}, "", &out, &err) == 0);
  CHECK(out == dump);  // byte for byte, in key order
  CHECK(err.find("export: 10000 keys") != std::string::npos);

  REQUIRE(cli_once(to, {"import", "--durability", "async"}, out) == 0);
  std::string copy;
  REQUIRE(cli_once(to, {"export"}, "", &copy) == 0);
  CHECK(copy == dump);

  REQUIRE(cli_once(to, {"export", "k0999"}, "", &out) == 0);  // k09990 to k09999
  CHECK(std::count(out.begin(), out.end(), '\n') == 1 + 10);
  REQUIRE(cli_once(to, {"export", "no such prefix"}, "", &out) == 0);
  CHECK(out == "# ringdb-dump 1\n");
  CHECK(from.stop() == 0);
  CHECK(to.stop() == 0);
}

TEST_CASE("import: a malformed line stops it there, named; the whole batches before it stay") {
  Daemon daemon;
  std::string dump = make_dump(5000);
  dump += "only-a-key\n";  // line 5002
  std::string err;
  CHECK(cli_once(daemon, {"import"}, dump, nullptr, &err) == 3);
  CHECK(err.find("line 5002") != std::string::npos);
  CHECK(err.find("import: 4096 keys") != std::string::npos);  // the first batch only
  std::string out;
  REQUIRE(cli_once(daemon, {"export"}, "", &out) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1 + 4096);

  CHECK(cli_once(daemon, {"import"}, "put a b\n", nullptr, &err) == 3);
  CHECK(err.find("not a ringdb dump") != std::string::npos);
  CHECK(cli_once(daemon, {"import"}, "# ringdb-dump 1\n\"unterminated v\n", nullptr, &err) == 3);
  CHECK(err.find("line 2") != std::string::npos);
  CHECK(daemon.stop() == 0);
}

// ---- The tools' command lines ----------------------------------------------------------------

namespace {

// Runs `argv` to its end; its exit code, and what it printed on standard output and error.
int run_tool(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  ChildProcess p(argv, cli_options());
  p.close_stdin();
  *out = p.read_rest();
  const int code = exit_code(p.wait());
  *err = p.read_stderr();
  return code;
}

}  // namespace

TEST_CASE("every tool answers --version with its name and version, exit 0") {
  for (const char* tool : {"RINGDB_CLI", "RINGDB_ADMIN", "RINGDB_BENCH", "RINGDBD"}) {
    CAPTURE(tool);
    std::string out;
    std::string err;
    CHECK(run_tool({program_path(tool), "--version"}, &out, &err) == 0);
    CHECK(out.find(RINGDB_VERSION) != std::string::npos);
    CHECK(err.empty());
  }
}

TEST_CASE("ringdb-admin: numbers are checked, a bad one is a usage error (exit 2)") {
  std::string out;
  std::string err;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--count", "abc", "watch"},
                                             {"--count", "0", "watch"},
                                             {"--count", "5x", "watch"},
                                             {"--top", "-1", "latches"},
                                             {"--timeout-ms", "99999999999", "status"}}) {
    std::vector<std::string> argv = {program_path("RINGDB_ADMIN")};
    argv.insert(argv.end(), args.begin(), args.end());
    CAPTURE(args[1]);
    CHECK(run_tool(argv, &out, &err) == 2);
    CHECK(err.find("needs a whole number") != std::string::npos);
  }
}

TEST_CASE(
    "every tool reads options the same way: unknown, missing values, exit 2; help in 80 "
    "columns") {
  for (const char* tool : {"RINGDB_CLI", "RINGDB_ADMIN", "RINGDB_BENCH", "RINGDBD"}) {
    CAPTURE(tool);
    std::string out;
    std::string err;
    CHECK(run_tool({program_path(tool), "--bogus"}, &out, &err) == 2);
    CHECK(err.find("unknown option --bogus (see --help)") != std::string::npos);
    CHECK(run_tool({program_path(tool), "--socket"}, &out, &err) == 2);
    CHECK(err.find("--socket needs a value (see --help)") != std::string::npos);
    REQUIRE(run_tool({program_path(tool), "--help"}, &out, &err) == 0);
    size_t start = 0;
    for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
      CHECK_MESSAGE(end - start <= 80, out.substr(start, end - start));
  }
}
