#include "tools/common/args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ringdb::tools {

bool parse_decimal(std::string_view text, long min, long max, long* out) {
  if (text.empty() || text.size() > 18) return false;
  long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

Args::Args(std::string program, std::string version)
    : program_(std::move(program)), version_(std::move(version)) {}

void Args::flag(const std::string& name, bool* out, char short_name) {
  options_.push_back({name, short_name, false, "", [out](std::string_view) {
                        *out = true;
                        return true;
                      }});
}

void Args::text(const std::string& name, std::string* out) {
  options_.push_back({name, 0, true, "a non-empty value", [out](std::string_view v) {
                        if (v.empty()) return false;
                        *out = std::string(v);
                        return true;
                      }});
}

void Args::number(const std::string& name, long min, long max, long* out) {
  options_.push_back({name, 0, true,
                      "a whole number from " + std::to_string(min) + " to " + std::to_string(max),
                      [=](std::string_view v) { return parse_decimal(v, min, max, out); }});
}

void Args::seconds(const std::string& name, double min, double max, double* out) {
  char range[96];
  snprintf(range, sizeof range, "seconds from %g to %g", min, max);
  options_.push_back({name, 0, true, range, [=](std::string_view v) {
                        // Digits with at most one point: no sign, exponent, inf or nan.
                        if (v.empty() || v.find_first_not_of("0123456789.") != v.npos ||
                            v.find('.') != v.rfind('.') || v == ".") {
                          return false;
                        }
                        const double value = std::strtod(std::string(v).c_str(), nullptr);
                        if (value < min || value > max) return false;
                        *out = value;
                        return true;
                      }});
}

void Args::custom(const std::string& name, std::string expected,
                  std::function<bool(std::string_view value)> parse) {
  options_.push_back({name, 0, true, std::move(expected), std::move(parse)});
}

const Args::Option* Args::find(std::string_view name) const {
  for (const Option& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

int Args::usage_error(const std::string& message) const {
  fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), message.c_str());
  return 2;
}

int Args::parse(int argc, char** argv, const std::string& help, std::vector<std::string>* words) {
  bool options_end = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (options_end || arg.size() < 2 || arg.substr(0, 2) != "--") {
      if (arg == "-h") {
        fputs(help.c_str(), stdout);
        return 0;
      }
      if (!options_end && arg.size() > 1 && arg[0] == '-') {
        const Option* o = nullptr;
        for (const Option& candidate : options_) {
          if (arg.size() == 2 && candidate.short_name != 0 && candidate.short_name == arg[1])
            o = &candidate;
        }
        if (o == nullptr) return usage_error("unknown option " + std::string(arg));
        o->parse({});
        continue;
      }
      words->emplace_back(arg);
      if (stop_at_first_word_ && !options_end) {
        words->insert(words->end(), argv + i + 1, argv + argc);
        return -1;
      }
      continue;
    }
    if (arg == "--") {
      options_end = true;
      continue;
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string_view::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "help" || name == "version") {
      if (inline_value) return usage_error("--" + std::string(name) + " takes no value");
      fputs(name == "help" ? help.c_str() : (program_ + " " + version_ + "\n").c_str(), stdout);
      return 0;
    }
    const Option* o = find(name);
    if (o == nullptr) return usage_error("unknown option --" + std::string(name));
    if (!o->takes_value) {
      if (inline_value) return usage_error("--" + o->name + " takes no value");
      o->parse({});
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) return usage_error("--" + o->name + " needs a value");
      value = argv[++i];
    }
    if (!o->parse(value)) {
      return usage_error("--" + o->name + " needs " + o->expected + ", not '" + std::string(value) +
                         "'");
    }
  }
  return -1;
}

}  // namespace ringdb::tools
