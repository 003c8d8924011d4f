// The RESP client, the Redis preload, and the Redis client process loop.
#include "tools/bench/redis_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringdb::bench {
namespace {

constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr int kPreloadBatch = 64;

// Finds "\r\n" in [p, end); returns the offset of '\r' or -1.
long find_crlf(const char* p, const char* end) {
  for (const char* q = p; q + 1 < end; ++q) {
    if (q[0] == '\r' && q[1] == '\n') return q - p;
  }
  return -1;
}

}  // namespace

RespClient::~RespClient() {
  if (fd_ >= 0) close(fd_);
}

bool RespClient::connect(const std::string& socket_path, std::string* error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long";
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect " + socket_path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void RespClient::append_command(RequestKind kind, std::string_view key, std::string_view value,
                                std::string* out) {
  auto bulk = [out](std::string_view s) {
    *out += '$';
    *out += std::to_string(s.size());
    *out += "\r\n";
    *out += s;
    *out += "\r\n";
  };
  switch (kind) {
    case RequestKind::kPing:
      *out += "*1\r\n$4\r\nPING\r\n";
      return;
    case RequestKind::kGet:
      *out += "*2\r\n$3\r\nGET\r\n";
      bulk(key);
      return;
    case RequestKind::kPut:
      *out += "*3\r\n$3\r\nSET\r\n";
      bulk(key);
      bulk(value);
      return;
  }
}

bool RespClient::send(const std::string& bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n > 0) {
    ssize_t w = write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool RespClient::receive() {
  if (in_pos_ == in_end_) in_pos_ = in_end_ = 0;
  if (in_pos_ > 0 && in_.size() - in_end_ < kReadChunkBytes) {  // compact
    std::memmove(in_.data(), in_.data() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  if (in_.size() - in_end_ < kReadChunkBytes) in_.resize(in_end_ + kReadChunkBytes);
  for (;;) {
    ssize_t r = read(fd_, in_.data() + in_end_, in_.size() - in_end_);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    in_end_ += static_cast<size_t>(r);
    return true;
  }
}

int RespClient::next_reply(bool* is_error) {
  const char* p = in_.data() + in_pos_;
  const char* end = in_.data() + in_end_;
  if (p == end) return 0;
  long line = find_crlf(p + 1, end);
  if (line < 0) return 0;
  size_t header = static_cast<size_t>(line) + 3;  // type byte, text, "\r\n"
  *is_error = p[0] == '-';
  switch (p[0]) {
    case '+':
    case '-':
    case ':':
      in_pos_ += header;
      return 1;
    case '$': {
      long len = std::strtol(p + 1, nullptr, 10);
      if (len < 0) {  // nil
        in_pos_ += header;
        return 1;
      }
      size_t total = header + static_cast<size_t>(len) + 2;
      if (static_cast<size_t>(end - p) < total) return 0;
      in_pos_ += total;
      return 1;
    }
    case '*': {  // an array (a pub/sub message): complete only when all its elements are
      const long count = std::strtol(p + 1, nullptr, 10);
      const size_t start = in_pos_;
      in_pos_ += header;
      for (long i = 0; i < count; ++i) {
        bool element_error = false;
        if (const int r = next_reply(&element_error); r != 1) {
          in_pos_ = start;
          return r;
        }
      }
      return 1;
    }
    default:
      return -1;
  }
}

void RespClient::append_args(std::initializer_list<std::string_view> args, std::string* out) {
  *out += '*';
  *out += std::to_string(args.size());
  *out += "\r\n";
  for (std::string_view a : args) {
    *out += '$';
    *out += std::to_string(a.size());
    *out += "\r\n";
    *out += a;
    *out += "\r\n";
  }
}

bool RespClient::command(std::initializer_list<std::string_view> args, std::string* error) {
  std::string cmd;
  append_args(args, &cmd);
  if (!send(cmd)) {
    *error = "write failed";
    return false;
  }
  bool is_error = false;
  int r = 0;
  while ((r = next_reply(&is_error)) == 0) {
    if (!receive()) {
      *error = "no reply";
      return false;
    }
  }
  if (r != 1 || is_error) *error = "an error reply";
  return r == 1 && !is_error;
}

bool RespClient::ping_once(std::string* error) {
  std::string cmd;
  append_command(RequestKind::kPing, {}, {}, &cmd);
  bool is_error = false;
  if (!send(cmd)) {
    *error = "write failed";
    return false;
  }
  int r = 0;
  while ((r = next_reply(&is_error)) == 0) {
    if (!receive()) {
      *error = "no reply";
      return false;
    }
  }
  return r == 1 && !is_error;
}

bool preload_redis(const std::string& socket_path, const Options& options, std::string* error) {
  RespClient client;
  if (!client.connect(socket_path, error)) return false;
  std::string value(options.value_size_bytes, 'v');
  char key_buf[kKeyBytes];
  std::string out;
  for (uint32_t next = 0; next < options.keys;) {
    out.clear();
    int batch = 0;
    for (; batch < kPreloadBatch && next < options.keys; ++batch, ++next) {
      format_key(next, key_buf);
      RespClient::append_command(RequestKind::kPut, {key_buf, kKeyBytes}, value, &out);
    }
    if (!client.send(out)) {
      *error = "preload: write failed";
      return false;
    }
    for (int done = 0; done < batch;) {
      bool is_error = false;
      int r = client.next_reply(&is_error);
      if (r < 0 || (r == 1 && is_error) || (r == 0 && !client.receive())) {
        *error = "preload: SET failed";
        return false;
      }
      done += r;
    }
  }
  return true;
}

int redis_client(int index, Recorder& recorder, const std::string& socket_path,
                 const Options& options) {
  RespClient client;
  std::string error;
  if (!client.connect(socket_path, &error)) {
    recorder.fail(error);
    return 1;
  }
  RequestMix mix(options, static_cast<uint64_t>(index) + 1);
  std::string value(options.value_size_bytes, 'v');
  char key_buf[kKeyBytes];
  auto depth = static_cast<size_t>(options.depth);
  std::vector<uint64_t> starts(depth);  // a FIFO: replies come in command order
  size_t head = 0;
  size_t count = 0;
  std::string out;
  // Writes n new commands at once (one system call), all stamped with the same start.
  auto send_new = [&](size_t n) {
    out.clear();
    uint64_t start = now_ns();
    for (size_t i = 0; i < n; ++i) {
      RequestKind kind = mix.next(key_buf);
      RespClient::append_command(kind, {key_buf, kKeyBytes}, value, &out);
      starts[(head + count) % depth] = start;
      ++count;
    }
    return client.send(out);
  };
  if (!recorder.ready_and_wait()) return 0;
  bool ok = send_new(depth);
  while (ok && count > 0) {
    if (!client.receive()) {
      ok = false;
      break;
    }
    uint64_t end = now_ns();
    size_t done = 0;
    bool is_error = false;
    int r = 0;
    while (count > 0 && (r = client.next_reply(&is_error)) == 1) {
      recorder.record(starts[head], end);
      if (is_error) recorder.error();
      head = (head + 1) % depth;
      --count;
      ++done;
    }
    if (r < 0) ok = false;
    if (ok && done > 0 && recorder.running()) ok = send_new(done);
  }
  if (!ok) {
    recorder.fail("redis connection failed or sent a malformed reply");
    return 1;
  }
  return 0;
}

}  // namespace ringdb::bench
