// ringdb-admin verify DIR: checks a data directory offline, without a daemon
// (daemon/durability/verify.h), and prints what it found. Exit code 0 if nothing is damaged
// (a torn tail, a crash's unfinished last write, is not damage), 1 otherwise.
#pragma once

#include <string>

namespace ringdb::admin {

int verify_command(const std::string& data_dir, bool as_json);

}  // namespace ringdb::admin
