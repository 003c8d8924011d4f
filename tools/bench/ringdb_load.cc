// ringdb through libringdb: preload, the client request loop, idle sessions.
#include "tools/bench/ringdb_load.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "ringdb/client.h"
#include "tools/bench/workload.h"

namespace ringdb::bench {
namespace {

constexpr int kPreloadDepth = 64;
constexpr int kIdleConnectTimeout_ms = 60000;

// `settle`: libringdb may move the threads that wait off the worker CPUs, as it does for
// any application. The benchmark's own process says no (its preload): processes it starts
// afterwards (redis-server, the baselines' clients) would inherit the narrowed affinity.
Status connect_client(const std::string& socket_path, bool settle, std::unique_ptr<Client>* out,
                      std::string* error) {
  ConnectOptions options;
  options.socket_path = socket_path;
  options.keep_threads_off_worker_cpus = settle;
  std::string why;
  Status s = Client::connect(options, out, &why);
  if (s != Status::kOk) *error = std::string("connect: ") + status_name(s) + ": " + why;
  return s;
}

bool expected(RequestKind kind, Status s) {
  return s == Status::kOk || (kind == RequestKind::kGet && s == Status::kNotFound);
}

Operation make_operation(RequestKind kind, std::string_view key, std::string_view value,
                         Durability durability) {
  switch (kind) {
    case RequestKind::kPing:
      return Operation::ping();
    case RequestKind::kGet:
      return Operation::get(key);
    case RequestKind::kPut: {
      Operation op = Operation::put(key, value);
      op.set_durability(durability);
      return op;
    }
  }
  return Operation::ping();
}

// Depth 1: the synchronous calls.
int run_sync(Client& client, Recorder& recorder, RequestMix& mix, const std::string& value,
             Durability durability) {
  char key_buf[kKeyBytes];
  std::string_view key(key_buf, kKeyBytes);
  std::string got;
  while (recorder.running()) {
    RequestKind kind = mix.next(key_buf);
    uint64_t start = now_ns();
    Status s = kind == RequestKind::kPing  ? client.ping()
               : kind == RequestKind::kGet ? client.get(key, &got)
                                           : client.put(key, value, durability);
    recorder.record(start, now_ns());
    if (s == Status::kDisconnected || s == Status::kShuttingDown) {
      recorder.fail(std::string("request: ") + status_name(s));
      return 1;
    }
    if (!expected(kind, s)) recorder.error();
  }
  return 0;
}

// Depth D: D operations in flight, each reaped as it completes (a durable put waiting for its
// fdatasync does not hold up the gets submitted after it): a sweep polls every operation and
// resubmits those done; after kIdleSweeps sweeps that found none, the thread waits for the
// oldest read (else the oldest write) instead of spinning on, so a window of slow operations
// costs no CPU.
constexpr int kIdleSweeps = 64;

int run_async(Client& client, Recorder& recorder, RequestMix& mix, const std::string& value,
              int depth, Durability durability) {
  char key_buf[kKeyBytes];
  std::string_view key(key_buf, kKeyBytes);
  std::vector<Operation> ops(static_cast<size_t>(depth));
  std::vector<RequestKind> kinds(ops.size());
  std::vector<uint64_t> starts(ops.size());
  std::vector<bool> in_flight(ops.size(), false);
  int code = 0;
  auto submit = [&](size_t i) {
    kinds[i] = mix.next(key_buf);
    ops[i] = make_operation(kinds[i], key, value, durability);
    starts[i] = now_ns();
    Status s = client.submit(&ops[i]);
    in_flight[i] = s == Status::kOk;
    if (s != Status::kOk) {
      recorder.fail(std::string("submit: ") + status_name(s));
      code = 1;
    }
  };
  // A completed operation: recorded, checked, and replaced by the next request.
  auto reap = [&](size_t i, Status s) {
    recorder.record(starts[i], now_ns());
    in_flight[i] = false;
    if (s == Status::kOk) s = ops[i].status();
    if (s == Status::kDisconnected || s == Status::kShuttingDown) {
      recorder.fail(std::string("request: ") + status_name(s));
      code = 1;
      return;
    }
    if (!expected(kinds[i], s)) recorder.error();
    if (recorder.running()) submit(i);
  };
  for (size_t i = 0; i < ops.size() && code == 0; ++i)
    submit(i);
  int idle_sweeps = 0;
  while (code == 0 && recorder.running()) {
    bool any = false;
    for (size_t i = 0; i < ops.size() && code == 0; ++i) {
      if (in_flight[i] && client.poll(&ops[i])) {
        reap(i, Status::kOk);
        any = true;
      }
    }
    if (any) {
      idle_sweeps = 0;
      continue;
    }
    if (++idle_sweeps < kIdleSweeps) continue;
    idle_sweeps = 0;
    // Wait for the oldest read in flight, which completes soon; a durable write takes an
    // fdatasync, and sleeping on one would leave the reads done meanwhile unreaped. Only
    // when writes alone are in flight, for the oldest of them.
    size_t oldest = ops.size();
    for (int pass = 0; pass < 2 && oldest == ops.size(); ++pass) {
      for (size_t i = 0; i < ops.size(); ++i) {
        if (!in_flight[i] || (pass == 0 && kinds[i] == RequestKind::kPut)) continue;
        if (oldest == ops.size() || starts[i] < starts[oldest]) oldest = i;
      }
    }
    if (oldest == ops.size()) break;
    reap(oldest, client.wait(&ops[oldest]));
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (in_flight[i]) (void)client.wait(&ops[i]);
  }
  return code;
}

// The commit workload: begin, K puts, commit, one transaction after another. A transaction is
// recorded (begin to the acknowledged commit, which the daemon sends once the log record is
// on disk) only when it committed, so the rate is commits per second; any other outcome
// counts as an error.
// With --batch, a transaction is one conditional batch request of K puts (no conditions).
int run_commits(Client& client, Recorder& recorder, int index, const Options& options,
                const std::string& value) {
  char key_buf[kCommitKeyBytesMax];
  Batch batch;
  for (uint64_t n = 0; recorder.running(); ++n) {
    uint64_t start = now_ns();
    Status s = Status::kOk;
    if (options.batch) {
      batch.clear();
      for (uint32_t i = 0; i < options.keys_per_commit; ++i) {
        size_t length = format_commit_key(index, n, options.keys, i, key_buf);
        batch.put(std::string_view(key_buf, length), value);
      }
      s = client.apply(batch, nullptr, options.durability);
    } else {
      std::unique_ptr<Transaction> txn;
      s = client.begin(&txn);
      for (uint32_t i = 0; s == Status::kOk && i < options.keys_per_commit; ++i) {
        size_t length = format_commit_key(index, n, options.keys, i, key_buf);
        s = txn->put(std::string_view(key_buf, length), value);
      }
      if (s == Status::kOk) s = txn->commit(options.durability);
    }
    uint64_t end = now_ns();
    if (s == Status::kDisconnected || s == Status::kShuttingDown) {
      recorder.fail(std::string("transaction: ") + status_name(s));
      return 1;
    }
    if (s == Status::kOk) {
      recorder.record(start, end);
    } else {
      recorder.error();
    }
  }
  return 0;
}

// The counter workload: increments of one key shared by every client, each retried until it
// commits, as run_transaction does (at most kCounterAttempts attempts, backing off between
// them). A commit is recorded from its first attempt to its acknowledgement; each aborted
// attempt is a retry; an increment that gave up after every attempt is an error (it would
// reach the application). Transactions: begin, get, put, commit. --batch: get the value and
// its commit sequence number, then a batch "if unchanged since it, put value + 1".
constexpr int kCounterAttempts = 16;
constexpr std::string_view kCounterKey = "counter";

uint64_t parse_count(const std::string& text) {
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

Status counter_attempt(Client& client, const Options& options, std::string* value) {
  uint64_t csn = 0;
  if (options.batch) {
    Status s = client.get(kCounterKey, value, &csn);
    if (s != Status::kOk && s != Status::kNotFound) return s;
    Batch batch;
    if (s == Status::kNotFound) {
      batch.if_absent(kCounterKey);
    } else {
      batch.if_unchanged_since(kCounterKey, csn);
    }
    batch.put(kCounterKey, std::to_string(parse_count(s == Status::kOk ? *value : "") + 1));
    return client.apply(batch, nullptr, options.durability);
  }
  std::unique_ptr<Transaction> txn;
  Status s = client.begin(&txn);
  if (s != Status::kOk) return s;
  s = txn->get(kCounterKey, value);
  if (s != Status::kOk && s != Status::kNotFound) return s;
  const uint64_t next = parse_count(s == Status::kOk ? *value : "") + 1;
  s = txn->put(kCounterKey, std::to_string(next));
  if (s == Status::kOk) s = txn->commit(options.durability);
  return s;
}

int run_counter(Client& client, Recorder& recorder, const Options& options) {
  std::string value;
  while (recorder.running()) {
    const uint64_t start = now_ns();
    Status s = Status::kConflict;
    for (int attempt = 0; attempt < kCounterAttempts && recorder.running(); ++attempt) {
      s = counter_attempt(client, options, &value);
      if (s != Status::kConflict && s != Status::kTransactionDone &&
          s != Status::kConditionFailed) {
        break;
      }
      recorder.retry();
      ringdb_conflict_backoff(static_cast<unsigned>(attempt));
    }
    const uint64_t end = now_ns();
    if (s == Status::kDisconnected || s == Status::kShuttingDown) {
      recorder.fail(std::string("counter: ") + status_name(s));
      return 1;
    }
    if (s == Status::kOk) {
      recorder.record(start, end);
    } else if (recorder.running()) {
      recorder.error();
    }
  }
  return 0;
}

}  // namespace

bool preload_ringdb(const std::string& socket_path, const Options& options, std::string* error) {
  std::unique_ptr<Client> client;
  if (connect_client(socket_path, /*settle=*/false, &client, error) != Status::kOk) return false;
  std::string value(options.value_size_bytes, 'v');
  std::vector<Operation> ops(kPreloadDepth);
  char key_buf[kKeyBytes];
  uint32_t next = 0;
  uint32_t done = 0;
  size_t slot = 0;
  // An operation must not be destroyed while submitted.
  auto drain = [&](uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i)
      (void)client->wait(&ops[i % kPreloadDepth]);
  };
  // Keep kPreloadDepth puts in flight, completing them in submission order.
  while (done < options.keys) {
    if (next < options.keys && next - done < static_cast<uint32_t>(kPreloadDepth)) {
      format_key(next, key_buf);
      Operation& op = ops[next % kPreloadDepth];
      op = Operation::put(std::string_view(key_buf, kKeyBytes), value);
      Status s = client->submit(&op);
      if (s != Status::kOk) {
        *error = std::string("preload submit: ") + status_name(s);
        drain(done, next);
        return false;
      }
      ++next;
      continue;
    }
    slot = done % kPreloadDepth;
    Status s = client->wait(&ops[slot]);
    if (s == Status::kOk) s = ops[slot].status();
    if (s != Status::kOk) {
      *error = std::string("preload put: ") + status_name(s);
      drain(done + 1, next);
      return false;
    }
    ++done;
  }
  return true;
}

int ringdb_client(int index, Recorder& recorder, const std::string& socket_path,
                  const Options& options) {
  std::unique_ptr<Client> client;
  std::string error;
  if (connect_client(socket_path, /*settle=*/true, &client, &error) != Status::kOk) {
    recorder.fail(error);
    return 1;
  }
  RequestMix mix(options, static_cast<uint64_t>(index) + 1);
  std::string value(options.value_size_bytes, 'v');
  if (!recorder.ready_and_wait()) return 0;
  if (options.workload == Workload::kCommit) {
    return run_commits(*client, recorder, index, options, value);
  }
  if (options.workload == Workload::kCounter) return run_counter(*client, recorder, options);
  if (options.depth == 1) return run_sync(*client, recorder, mix, value, options.durability);
  return run_async(*client, recorder, mix, value, options.depth, options.durability);
}

bool IdleSessions::start(const std::string& socket_path, int count, std::string* error) {
  int to_helper[2];    // the helper waits for EOF on it
  int from_helper[2];  // the helper writes one byte per state: 'r' ready, 'f' failed
  if (pipe2(to_helper, O_CLOEXEC) != 0 || pipe2(from_helper, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return false;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(to_helper[1]);
    close(from_helper[0]);
    std::vector<std::unique_ptr<Client>> sessions(static_cast<size_t>(count));
    std::string why;
    char state = 'r';
    for (auto& s : sessions) {
      if (connect_client(socket_path, /*settle=*/false, &s, &why) != Status::kOk) {
        std::fprintf(stderr, "ringdb-bench: idle session: %s\n", why.c_str());
        state = 'f';
        break;
      }
    }
    if (write(from_helper[1], &state, 1) != 1 || state != 'r') _exit(1);
    char c;
    while (read(to_helper[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(to_helper[0]);
  close(from_helper[1]);
  pid_ = pid;
  control_fd_ = to_helper[1];
  pollfd p{from_helper[0], POLLIN, 0};
  char state = 0;
  bool ok = poll(&p, 1, kIdleConnectTimeout_ms) == 1 && read(from_helper[0], &state, 1) == 1 &&
            state == 'r';
  close(from_helper[0]);
  if (!ok) {
    *error = "the idle-session helper could not connect " + std::to_string(count) + " sessions";
    stop();
  }
  return ok;
}

void IdleSessions::stop() {
  if (control_fd_ >= 0) close(control_fd_);
  control_fd_ = -1;
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace ringdb::bench
