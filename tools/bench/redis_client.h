// A minimal RESP2 client for the Redis baseline: PING, GET and SET over a unix socket with
// blocking I/O, pipelined (depth D = D commands written before their replies are read),
// and the Redis client process loop and preload; any command once (CONFIG SET, SUBSCRIBE),
// and pub/sub messages as they come (the watch benchmark). Not a general Redis client: it
// parses the reply types those produce (+, -, :, $, and arrays of them). One thread per
// RespClient.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench/driver.h"
#include "tools/bench/options.h"
#include "tools/bench/workload.h"

namespace ringdb::bench {

class RespClient {
 public:
  RespClient() = default;
  ~RespClient();
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  bool connect(const std::string& socket_path, std::string* error);
  // One PING, waiting for +PONG.
  bool ping_once(std::string* error);

  // Appends one command in RESP to *out.
  static void append_command(RequestKind kind, std::string_view key, std::string_view value,
                             std::string* out);
  // Appends a command of any words (CONFIG SET ..., SUBSCRIBE ...) to *out.
  static void append_args(std::initializer_list<std::string_view> args, std::string* out);
  // Sends one command and waits for its reply (an array counts as one); false on an error reply.
  bool command(std::initializer_list<std::string_view> args, std::string* error);
  bool send(const std::string& bytes);
  // Reads what the socket has (blocking until at least one byte); false on EOF or error.
  bool receive();
  // Takes one complete reply from what was received: 1 taken (*is_error set for a '-'
  // reply), 0 incomplete, -1 malformed.
  int next_reply(bool* is_error);

 private:
  int fd_ = -1;
  std::vector<char> in_;
  size_t in_pos_ = 0;  // first unparsed byte
  size_t in_end_ = 0;  // one past the last received byte
};

// Sets keys 0..options.keys-1 with values of options.value_size_bytes (64 per batch).
bool preload_redis(const std::string& socket_path, const Options& options, std::string* error);

// A client process: its own connection, options.depth commands in flight.
int redis_client(int index, Recorder& recorder, const std::string& socket_path,
                 const Options& options);

}  // namespace ringdb::bench
