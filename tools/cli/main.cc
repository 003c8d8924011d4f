// ringdb-cli: a command shell for ringdbd. Options, the input loop and exit codes; the
// commands are in shell.h, the syntax in quoting.h, the output formats in output.h.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringdb/client.h"
#include "tools/cli/dump.h"
#include "tools/cli/editing.h"
#include "tools/cli/lines.h"
#include "tools/cli/output.h"
#include "tools/cli/quoting.h"
#include "tools/cli/shell.h"
#include "tools/cli/terminal.h"
#include "tools/common/args.h"

namespace {

using ringdb::cli::Reply;
using ringdb::cli::Shell;

using ringdb::cli::kLineBytesMax;
using ringdb::cli::LineRead;

constexpr char kUsage[] =
    "Usage: ringdb-cli [--socket PATH] [--json] [-e] [COMMAND [ARG...]]\n"
    "  or:  ringdb-cli [--socket PATH] export [PREFIX] > DUMP\n"
    "  or:  ringdb-cli [--socket PATH] import [--durability sync|async|none] < DUMP\n"
    "A command shell for ringdbd. Reads one command a line from standard input.\n"
    "At a terminal: a prompt (ringdb(txn)> while a transaction is open), line\n"
    "editing, Tab completion of command and option names, and history (Up), kept in\n"
    "$RINGDB_CLI_HISTORY, else $XDG_STATE_HOME/ringdb/cli_history, else\n"
    "~/.local/state/ringdb/cli_history: the last 1000 lines but blank ones, lines\n"
    "that begin with a space and lines over 4096 bytes.\n"
    "With a COMMAND, runs that one command and exits (each ARG is one argument, any\n"
    "bytes: no quoting needed).\n"
    "\n"
    "  --socket PATH  the daemon's socket [$RINGDB_SOCKET, else the default path]\n"
    "  --json         answer each command with one JSON object on one line (flushed)\n"
    "  -e, --stop-on-error\n"
    "                 stop at the first command that does not answer OK (exit 3)\n"
    "  --help         this text\n"
    "  --version      the version\n"
    "\n"
    "export writes every key with PREFIX (all keys without one), from one snapshot,\n"
    "as a dump: a line \"# ringdb-dump 1\", then one line per key, the key and its\n"
    "value quoted as the cli's arguments are (binary-safe). import reads a dump and\n"
    "puts every record, many in flight; with sync durability (the default) all of it\n"
    "is on disk when it exits 0. Not atomic: a malformed line stops it there, the\n"
    "records before it stay (the count of keys imported is printed on standard\n"
    "error).\n"
    "\n"
    "Commands:\n";

static_assert(ringdb::cli::kHistoryLinesMax == 1000 && ringdb::cli::kHistoryLineBytesMax == 4096,
              "kUsage names the history's limits: change them there too");

constexpr char kUsageEnd[] =
    "\n"
    "JSON answers: {\"status\":\"OK\"} and, by command, \"value\" (get), \"items\"\n"
    "as [[key,value],...] with \"truncated\" (scan: true if the range holds more\n"
    "keys, then \"resume_after\" is the last key returned), \"commit_sequence\"\n"
    "(commit), \"help\". {\"status\":\"NOT_FOUND\"} when a key has no value; every\n"
    "other status comes with an \"error\" sentence. A malformed line gives\n"
    "INVALID_ARGUMENT and the cli goes on.\n"
    "Keys and values are bytes: one that is valid UTF-8 is a JSON string, any other\n"
    "an object {\"base64\":\"...\"} of its bytes (so the byte key ff fe,\n"
    "{\"base64\":\"//4=\"}, and the text key \"\\u00ff\\u00fe\" differ).\n"
    "\n"
    "Exit status: 0 when every command answered OK (at the end of input or quit);\n"
    "3 when one answered anything else (NOT_FOUND too), at the end, or at once with\n"
    "-e; 1 if the daemon cannot be reached or the connection is lost; 2 for a usage\n"
    "error. One COMMAND, export, import: 0 if it answered OK, 3 otherwise. An open\n"
    "transaction is aborted at the end, and when -e stops.\n";

struct Options {
  std::string socket_path;  // empty: the library's default
  bool json = false;
  bool stop_on_error = false;        // -e
  std::vector<std::string> command;  // one-shot: the command and its arguments
};

// Returns -1 to go on, else the exit status (tools/common/args.h).
int parse_options(int argc, char** argv, Options* options) {
  ringdb::tools::Args args("ringdb-cli",
                           std::string(RINGDB_VERSION) + " (libringdb " + ringdb::version() + ")");
  args.text("socket", &options->socket_path);
  args.flag("json", &options->json);
  args.flag("stop-on-error", &options->stop_on_error, 'e');
  args.stop_at_first_word();  // the command and what follows are its own
  return args.parse(argc, argv, std::string(kUsage) + ringdb::cli::kCommandHelp + kUsageEnd,
                    &options->command);
}

void print(const Reply& reply, bool json) {
  if (json) {
    const std::string text = ringdb::cli::format_json(reply);
    fprintf(stdout, "%s\n", text.c_str());
  } else {
    ringdb::cli::print_text(reply, stdout, stderr);
  }
  fflush(stdout);
}

// The exit status of one command that answered `status`.
int command_status(ringdb::Status status) {
  if (status == ringdb::Status::kOk) return 0;
  if (status == ringdb::Status::kDisconnected || status == ringdb::Status::kShuttingDown) return 1;
  return 3;
}

// export [PREFIX] / import [--durability LEVEL]: 0, 1, 2 (usage) or 3, as the usage says.
int run_dump(ringdb::Client& client, const std::vector<std::string>& command) {
  const std::string& what = command[0];
  ringdb::cli::DumpResult result;
  if (what == "export") {
    if (command.size() > 2) {
      fputs("ringdb-cli: export takes at most one argument, a prefix (see --help)\n", stderr);
      return 2;
    }
    result = ringdb::cli::export_dump(client, command.size() == 2 ? command[1] : "", stdout);
  } else {
    ringdb::Durability durability = ringdb::Durability::kSync;
    if (command.size() == 3 && command[1] == "--durability" &&
        (command[2] == "sync" || command[2] == "async" || command[2] == "none")) {
      durability = command[2] == "sync"    ? ringdb::Durability::kSync
                   : command[2] == "async" ? ringdb::Durability::kAsync
                                           : ringdb::Durability::kNone;
    } else if (command.size() != 1) {
      fputs("ringdb-cli: import takes only --durability sync|async|none (see --help)\n", stderr);
      return 2;
    }
    result = ringdb::cli::import_dump(client, stdin, durability);
  }
  fprintf(stderr, "ringdb-cli: %s: %llu keys\n", what.c_str(),
          static_cast<unsigned long long>(result.keys));
  if (result.status == ringdb::Status::kOk) return 0;
  fprintf(stderr, "ringdb-cli: %s failed: %s (%s)\n", what.c_str(), result.error.c_str(),
          ringdb::status_name(result.status));
  return command_status(result.status);
}

int run(const Options& options) {
  ringdb::ConnectOptions connect_options;
  connect_options.socket_path = options.socket_path;
  const std::string path =
      options.socket_path.empty() ? ringdb::default_socket_path() : options.socket_path;
  std::unique_ptr<ringdb::Client> client;
  std::string error;
  const ringdb::Status status = ringdb::Client::connect(connect_options, &client, &error);
  if (status != ringdb::Status::kOk) {
    if (error.empty()) error = ringdb::status_message(status);
    fprintf(stderr, "ringdb-cli: cannot connect to %s: %s (%s)\n", path.c_str(), error.c_str(),
            ringdb::status_name(status));
    if (options.json) {
      Reply reply;
      reply.status = status;
      reply.error = "cannot connect to " + path + ": " + error;
      print(reply, /*json=*/true);
    }
    return 1;
  }

  if (!options.command.empty()) {
    if (options.command[0] == "export" || options.command[0] == "import") {
      return run_dump(*client, options.command);
    }
    // One command: its arguments quoted back into one line of the shell's syntax.
    std::string line;
    for (const std::string& arg : options.command) {
      if (!line.empty()) line += ' ';
      line += ringdb::cli::quote(arg);
    }
    Shell shell(std::move(client));
    shell.set_emit([&options](const Reply& r) { print(r, options.json); });
    const std::optional<Reply> reply = shell.run_line(line);
    if (!reply.has_value()) return 2;  // (arguments cannot make a blank line)
    print(*reply, options.json);
    shell.abort_transaction();
    return command_status(reply->status);
  }

  // At a terminal, libedit; it draws on standard output, or on standard error when the
  // output goes to a file or a pipe.
  std::unique_ptr<ringdb::cli::LineEditor> editor;
  FILE* screen = stdout;
  if (isatty(STDIN_FILENO) == 1) {
    screen = isatty(STDOUT_FILENO) == 1 || isatty(STDERR_FILENO) != 1 ? stdout : stderr;
    editor = ringdb::cli::LineEditor::open(stdin, screen, ringdb::cli::history_path());
    if (editor != nullptr && !options.json) {
      fprintf(screen, "connected to %s (session %llu); type help for the commands\n", path.c_str(),
              static_cast<unsigned long long>(client->session_id()));
      fflush(screen);
    }
  }
  Shell shell(std::move(client));
  shell.set_emit([&options](const Reply& r) { print(r, options.json); });
  std::string line;
  bool failed = false;  // a command answered anything but OK
  for (;;) {
    LineRead read;
    if (editor != nullptr) {
      editor->set_prompt(options.json ? "" : shell.in_transaction() ? "ringdb(txn)> " : "ringdb> ");
      read = editor->read(&line);
      if (read == LineRead::kLine) editor->remember(line);
    } else {
      read = ringdb::cli::read_line(stdin, &line);
    }
    if (read == LineRead::kEnd) {
      if (editor != nullptr && !options.json) fputs("\n", screen);
      break;
    }
    std::optional<Reply> reply;
    if (read == LineRead::kTooLong) {
      reply.emplace();
      reply->status = ringdb::Status::kInvalidArgument;
      reply->error = "line longer than " + std::to_string(kLineBytesMax) + " bytes";
    } else {
      reply = shell.run_line(line);
    }
    if (!reply.has_value()) continue;  // a blank line
    print(*reply, options.json);
    // The daemon is gone: every later command would fail the same way.
    if (reply->status == ringdb::Status::kDisconnected) return 1;
    if (reply->quit) break;
    if (reply->status != ringdb::Status::kOk) {
      failed = true;
      if (options.stop_on_error) break;
    }
  }
  shell.abort_transaction();
  return failed ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const int rc = parse_options(argc, argv, &options);
  if (rc >= 0) return rc;
  return run(options);
}
