// it_client: the client processes of the integration tests (transport_test.cc spawns them).
// Each mode prints one result line on standard output ("ok ..." or "FAIL ...") and exits
// 0 on success.
//   mixed SOCKET SEED THREADS OPS DEPTH  threads issue random get/put/del/scan on keys of
//                                        their own, checked against a model, plus counter
//                                        increments in transactions (checked by the test)
//   hold-txn SOCKET PREFIX N             begins a transaction, writes N keys, prints
//                                        "holding", then waits on stdin (to be killed)
//   wait-get SOCKET KEY                  prints "connected", waits for a line, submits a
//                                        get, prints "submitted", prints its status
//   hostile SOCKET SEED ROUNDS           a raw session that scribbles over its segment
//   truncate SOCKET                      truncates its segment, then submits a request
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ringdb/client.h"
#include "tests/integration/raw_session.h"

using ringdb::Client;
using ringdb::Operation;
using ringdb::Status;

namespace {

[[noreturn]] void fail(const std::string& why) {
  printf("FAIL %s\n", why.c_str());
  fflush(stdout);
  exit(1);
}

std::unique_ptr<Client> connect_or_die(const std::string& socket) {
  std::unique_ptr<Client> client;
  std::string error;
  ringdb::ConnectOptions options;
  options.socket_path = socket;
  if (Client::connect(options, &client, &error) != Status::kOk) fail("connect: " + error);
  return client;
}

std::string name(Status s) {
  return ringdb::status_name(s);
}

// One thread of `mixed`: keys "<prefix>k<n>", a model of what they hold.
struct MixedThread {
  Client* client = nullptr;
  std::string prefix;
  uint64_t seed = 0;
  int ops = 0;
  int depth = 1;
  uint64_t requests = 0;
  uint64_t increments = 0;
  std::string error;

  void check(bool ok, const std::string& what) {
    if (!ok && error.empty()) error = prefix + ": " + what;
  }

  void run() {
    std::mt19937_64 rng(seed);
    std::map<std::string, std::string> model;
    auto key = [&](uint64_t n) { return prefix + "k" + std::to_string(n % 64); };
    for (int i = 0; i < ops && error.empty(); ++i) {
      const uint64_t r = rng();
      const std::string k = key(r >> 8);
      switch (r % 8) {
        case 0:
        case 1: {  // put; large values now and then (external payloads)
          const size_t size = (r >> 20) % 16 == 0 ? 600 + (r >> 24) % 5000 : (r >> 24) % 64;
          std::string v(size, static_cast<char>('a' + (r >> 32) % 26));
          v += std::to_string(i);
          check(client->put(k, v) == Status::kOk, "put " + k);
          model[k] = v;
          break;
        }
        case 2: {
          const Status s = client->del(k);
          check(s == (model.count(k) ? Status::kOk : Status::kNotFound),
                "del " + k + " " + name(s));
          model.erase(k);
          break;
        }
        case 3: {  // a scan over the thread's own keys
          std::vector<ringdb::KeyValue> items;
          ringdb::ScanOptions o;
          o.prefix = prefix;
          o.limit = 1000;
          check(client->scan(o, &items) == Status::kOk, "scan");
          check(items.size() == model.size(), "scan size " + std::to_string(items.size()) +
                                                  " != " + std::to_string(model.size()));
          auto it = model.begin();
          for (size_t j = 0; j < items.size() && it != model.end(); ++j, ++it) {
            check(items[j].key == it->first && items[j].value == it->second, "scan item");
          }
          break;
        }
        case 4: {  // a counter increment in a transaction, retried on conflict
          const std::string c = "counter/" + std::to_string(r % 4);
          const Status s = ringdb::run_transaction(
              *client,
              [&](ringdb::Transaction& t) {
                std::string v;
                Status g = t.get(c, &v);
                if (g != Status::kOk && g != Status::kNotFound) return g;
                const long n = g == Status::kOk ? std::stol(v) : 0;
                return t.put(c, std::to_string(n + 1));
              },
              1000);
          check(s == Status::kOk, "increment " + name(s));
          ++increments;
          break;
        }
        default: {  // gets, `depth` of them in flight at once
          std::vector<Operation> batch;
          std::vector<std::string> keys;
          for (int d = 0; d < depth; ++d) {
            keys.push_back(key(rng()));
            batch.push_back(Operation::get(keys.back()));
          }
          for (auto& op : batch)
            check(client->submit(&op) == Status::kOk, "submit");
          for (size_t d = 0; d < batch.size(); ++d) {
            check(client->wait(&batch[d]) == Status::kOk, "wait");
            auto m = model.find(keys[d]);
            if (m == model.end()) {
              check(batch[d].status() == Status::kNotFound, "get absent " + keys[d]);
            } else {
              check(batch[d].status() == Status::kOk && batch[d].value() == m->second,
                    "get " + keys[d] + " " + name(batch[d].status()));
            }
          }
          requests += batch.size() - 1;
          break;
        }
      }
      ++requests;
    }
  }
};

int mixed(const std::string& socket, uint64_t seed, int threads, int ops, int depth) {
  auto client = connect_or_die(socket);
  std::vector<MixedThread> work;
  for (int t = 0; t < threads; ++t) {
    MixedThread w;
    w.client = client.get();
    w.prefix = std::string("p").append(std::to_string(getpid())).append("t");
    w.prefix.append(std::to_string(t)).append("/");
    w.seed = seed * 1000 + static_cast<uint64_t>(t);
    w.ops = ops;
    w.depth = depth;
    work.push_back(std::move(w));
  }
  std::vector<std::thread> running;
  for (auto& w : work)
    running.emplace_back([&w] { w.run(); });
  for (auto& t : running)
    t.join();
  uint64_t requests = 0, increments = 0;
  for (auto& w : work) {
    if (!w.error.empty()) fail(w.error);
    requests += w.requests;
    increments += w.increments;
  }
  printf("ok %lu %lu\n", static_cast<unsigned long>(requests),
         static_cast<unsigned long>(increments));
  return 0;
}

// Commits transaction after transaction, each writing w/ID/N/a, w/ID/N/b and w/ID/last, all
// with value N, and prints "acked N" once its commit is acknowledged; ends at the first
// failure (the daemon killed under it).
int writer(const std::string& socket, const std::string& id) {
  auto client = connect_or_die(socket);
  const std::string base = std::string("w/").append(id).append("/");
  for (uint64_t n = 0;; ++n) {
    const std::string v = std::to_string(n);
    std::unique_ptr<ringdb::Transaction> txn;
    if (client->begin(&txn) != Status::kOk) break;
    if (txn->put(std::string(base).append(v).append("/a"), v) != Status::kOk ||
        txn->put(std::string(base).append(v).append("/b"), v) != Status::kOk ||
        txn->put(std::string(base).append("last"), v) != Status::kOk) {
      break;
    }
    const Status s = txn->commit();
    if (s != Status::kOk) {
      printf("stopped %s\n", name(s).c_str());
      fflush(stdout);
      break;
    }
    printf("acked %lu\n", static_cast<unsigned long>(n));
    fflush(stdout);
  }
  return 0;
}

// As writer, but each commit is one conditional batch: if w/ID/last is still the previous N
// (absent for the first), put the three keys. A failed condition would mean a lost or a
// repeated commit: it stops the writer ("stopped CONDITION_FAILED"), which the test sees.
int batch_writer(const std::string& socket, const std::string& id) {
  auto client = connect_or_die(socket);
  const std::string base = std::string("w/").append(id).append("/");
  const std::string last = std::string(base).append("last");
  for (uint64_t n = 0;; ++n) {
    const std::string v = std::to_string(n);
    ringdb::Batch batch;
    if (n == 0) {
      batch.if_absent(last);
    } else {
      batch.if_equals(last, std::to_string(n - 1));
    }
    batch.put(std::string(base).append(v).append("/a"), v)
        .put(std::string(base).append(v).append("/b"), v)
        .put(last, v);
    const Status s = client->apply(batch);
    if (s != Status::kOk) {
      printf("stopped %s\n", name(s).c_str());
      fflush(stdout);
      break;
    }
    printf("acked %lu\n", static_cast<unsigned long>(n));
    fflush(stdout);
  }
  return 0;
}

// Hot key writer: batch after batch, each putting the key all hot writers share ("hot", to
// ID/N) and its own ("hot/ID", to N); prints "acked N CSN" once a batch is acknowledged. The
// shared key is held by one writer's commit while the others' batches wait for it.
int hot_writer(const std::string& socket, const std::string& id) {
  auto client = connect_or_die(socket);
  for (uint64_t n = 0;; ++n) {
    const std::string v = std::to_string(n);
    ringdb::Batch batch;
    batch.put("hot", std::string(id).append("/").append(v)).put(std::string("hot/").append(id), v);
    ringdb::BatchResult result;
    const Status s = client->apply(batch, &result);
    if (s != Status::kOk) {
      printf("stopped %s\n", name(s).c_str());
      fflush(stdout);
      break;
    }
    printf("acked %lu %llu\n", static_cast<unsigned long>(n),
           static_cast<unsigned long long>(result.commit_sequence));
    fflush(stdout);
  }
  return 0;
}

int hold_txn(const std::string& socket, const std::string& prefix, int n) {
  auto client = connect_or_die(socket);
  std::unique_ptr<ringdb::Transaction> txn;
  if (client->begin(&txn) != Status::kOk) fail("begin");
  for (int i = 0; i < n; ++i) {
    if (txn->put(prefix + std::to_string(i), "uncommitted") != Status::kOk) fail("put");
  }
  printf("holding\n");
  fflush(stdout);
  std::string line;
  std::getline(std::cin, line);  // killed here
  return 0;
}

int wait_get(const std::string& socket, const std::string& key) {
  auto client = connect_or_die(socket);
  printf("connected\n");
  fflush(stdout);
  std::string line;
  std::getline(std::cin, line);
  Operation op = Operation::get(key);
  Status s = client->submit(&op);
  printf("submitted\n");
  fflush(stdout);
  if (s == Status::kOk) s = client->wait(&op);
  if (s == Status::kOk) s = op.status();
  printf("%s\n", name(s).c_str());
  return 0;
}

bool hung_up(int fd) {
  pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLIN)) != 0;
}

// A hostile session: every round damages something, submits, and sees what happens.
int hostile(const std::string& socket, uint64_t seed, int rounds) {
  std::mt19937_64 rng(seed);
  auto session = std::make_unique<ringdb::test::RawSession>(socket);
  if (!session->ok()) fail("raw connect: " + session->error());
  int answered = 0, disconnects = 0, abandoned = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto& g = session->geometry();
    std::byte* seg = session->segment();
    const uint32_t ring = static_cast<uint32_t>(rng() % g.sizes.ring_count);
    const uint32_t index = static_cast<uint32_t>(rng() % g.sizes.context_count);
    auto random_bytes = [&](std::byte* at, size_t n) {
      for (size_t i = 0; i < n; ++i)
        at[i] = static_cast<std::byte>(rng());
    };
    bool ring_scribbled = false;
    switch (rng() % 6) {
      case 0:  // a random context header and inline bytes, then a proper submit
        random_bytes(reinterpret_cast<std::byte*>(session->context(index)) + 4,
                     g.sizes.context_size - 4);
        break;
      case 1: {  // a plausible request with one field off
        auto* c = session->context(index);
        c->opcode = static_cast<uint8_t>(1 + rng() % 9);
        c->flags = static_cast<uint8_t>(rng() % 8);
        for (auto& l : c->len)
          l = static_cast<uint32_t>(rng() % 3 == 0 ? rng() : rng() % 600);
        c->limit = static_cast<uint32_t>(rng() % 4);
        c->txn = rng() % 3 == 0 ? rng() : 0;
        c->data_offset = static_cast<uint32_t>(rng() % 2 == 0 ? 0 : rng());
        break;
      }
      case 2:  // random bytes over the ring header and slots
        random_bytes(seg + g.rings_offset + uint64_t{ring} * g.ring_stride,
                     static_cast<size_t>(rng() % g.ring_stride));
        ring_scribbled = true;
        break;
      case 3:  // random bytes over the request area
        random_bytes(seg + g.request_area_offset, static_cast<size_t>(rng() % 65536));
        break;
      case 4:  // the same context twice: the second is a corrupt ring
        session->context(index)->state.store(ringdb::shm::kStateSubmitted);
        session->submit(ring, index);
        break;
      default:  // the header page (the daemon never reads it back)
        random_bytes(seg + 8, 200);
        break;
    }
    session->context(index)->state.store(ringdb::shm::kStateSubmitted);
    const uint32_t submitted = rng() % 5 == 4 ? static_cast<uint32_t>(rng()) : index;
    const bool pushed = session->submit(ring, submitted);
    // A request pushed on a sound ring is answered or the session is disconnected. One pushed
    // on a ring we scribbled over may sit behind garbage the daemon cannot get past (it only
    // stalls our own ring): that session is abandoned after a short wait.
    bool abandon = !pushed || ring_scribbled;
    if (pushed && submitted == index) {
      if (session->wait_done(index, ring_scribbled ? 100 : 20000)) {
        ++answered;
      } else if (!ring_scribbled && !hung_up(session->socket_fd())) {
        fail("round " + std::to_string(round) + ": a request was neither answered nor the " +
             "session disconnected within 20 s");
      }
    }
    // A ring that refuses pushes (it looks full or corrupt to the producer) is abandoned too.
    const bool gone = hung_up(session->socket_fd());
    if (gone || abandon) {
      disconnects += gone;
      abandoned += !gone;
      session = std::make_unique<ringdb::test::RawSession>(socket);
      if (!session->ok()) fail("reconnect: " + session->error());
    }
  }
  printf("ok answered=%d disconnects=%d abandoned=%d\n", answered, disconnects, abandoned);
  return 0;
}

int truncate_segment(const std::string& socket) {
  ringdb::test::RawSession session(socket);
  if (!session.ok()) fail("raw connect: " + session.error());
  auto* c = session.context(0);
  c->opcode = 1;  // ping
  c->state.store(ringdb::shm::kStateSubmitted);
  if (ftruncate(session.segment_fd(), 0) != 0) fail("ftruncate");
  // The ring is gone with the truncation; push through a private copy so the daemon's
  // next look at the ring faults. Writing into our own mapping now would SIGBUS us.
  session.ring_doorbells();
  // The daemon's worker touches the ring when it polls; the fault makes it disconnect us.
  pollfd p = {session.socket_fd(), POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) fail("not disconnected");
  printf("ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: it_client MODE SOCKET ...\n");
    return 2;
  }
  const std::string mode = argv[1], socket = argv[2];
  auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };
  if (mode == "mixed") {
    return mixed(socket, std::stoull(arg(3)), std::stoi(arg(4)), std::stoi(arg(5)),
                 std::stoi(arg(6)));
  }
  if (mode == "writer") return writer(socket, arg(3));
  if (mode == "batch-writer") return batch_writer(socket, arg(3));
  if (mode == "hot-writer") return hot_writer(socket, arg(3));
  if (mode == "hold-txn") return hold_txn(socket, arg(3), std::stoi(arg(4)));
  if (mode == "wait-get") return wait_get(socket, arg(3));
  if (mode == "hostile") return hostile(socket, std::stoull(arg(3)), std::stoi(arg(4)));
  if (mode == "truncate") return truncate_segment(socket);
  if (mode == "hold") {  // connects, says how it went, and keeps the session until stdin ends
    ringdb::ConnectOptions options;
    options.socket_path = socket;
    std::unique_ptr<ringdb::Client> client;
    std::string why;
    const ringdb::Status s = ringdb::Client::connect(options, &client, &why);
    if (s == ringdb::Status::kOk) {
      printf("ok\n");
    } else {
      printf("refused %s: %s\n", ringdb::status_name(s), why.c_str());
    }
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
