// Args: the one command-line parser of ringdb-cli, ringdb-admin and ringdb-bench, so that they
// read options the same way and say the same things: every value checked whole (numbers in
// decimal, within their range), `--help` and `--version` answered on standard output (exit
// 0), and every mistake a one-line message on standard error (exit 2): "unknown option --x",
// "--x needs a value", "--x needs a whole number from 1 to 100, not 'abc'".
//
// Options are `--name`, `--name VALUE` or `--name=VALUE` (and a few one-letter flags, `-e`),
// anywhere among the other words
// (which are returned in order); `--` ends the options. Each tool keeps its own help text
// (written for people, within 80 columns) and checks that need several options together.
// (ringdbd reads its flags with its table of options, daemon/service/config.h, which also
// reads the config file and prints its help, and says the same things.)
//
// Thread safety: none needed; one parser per main().
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringdb::tools {

class Args {
 public:
  // `program` starts every message ("ringdb-bench: ..."); `version` is what --version prints.
  Args(std::string program, std::string version);

  // --name (or -c, if `short_name` is given): sets *out to true.
  void flag(const std::string& name, bool* out, char short_name = 0);
  // --name TEXT (any text but "", which is refused).
  void text(const std::string& name, std::string* out);
  // --name N: a whole decimal number in [min, max].
  void number(const std::string& name, long min, long max, long* out);
  // --name S: seconds, a decimal number in [min, max] (fractions allowed).
  void seconds(const std::string& name, double min, double max, double* out);
  // --name VALUE read by `parse`, which returns false for a bad value; `expected` says what
  // a good one is ("sync, async or none").
  void custom(const std::string& name, std::string expected,
              std::function<bool(std::string_view value)> parse);

  // Options end at the first word that is not one: the rest is the command's own, dashes
  // and all (ringdb-cli: `ringdb-cli get -x` looks up the key "-x").
  void stop_at_first_word() { stop_at_first_word_ = true; }

  // Parses argv[1..]. Returns -1 to go on (the other words in *words), or the exit code:
  // 0 after printing `help` (for --help or -h) or the version, 2 after a usage error.
  int parse(int argc, char** argv, const std::string& help, std::vector<std::string>* words);

  // A usage error found later (a check across options): the message, and 2 to exit with.
  int usage_error(const std::string& message) const;

 private:
  struct Option {
    std::string name;  // without the dashes
    char short_name = 0;
    bool takes_value = true;
    std::string expected;  // what a good value is, for the message
    std::function<bool(std::string_view)> parse;
  };
  const Option* find(std::string_view name) const;

  std::string program_;
  std::string version_;
  std::vector<Option> options_;
  bool stop_at_first_word_ = false;
};

// Whole decimal numbers: digits only, no sign, no spaces, within [min, max].
bool parse_decimal(std::string_view text, long min, long max, long* out);

}  // namespace ringdb::tools
