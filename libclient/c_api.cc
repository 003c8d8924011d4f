// libringdb's C ABI (ringdb/ringdb.h) over the C++ API. No exception crosses it: the C++
// API throws nothing but std::bad_alloc (and, for absurd sizes, std::length_error) from the
// containers it fills; both become RINGDB_OUT_OF_MEMORY here. Returned bytes are malloc'ed
// with one extra NUL byte, so that C callers may treat text keys and values as strings.
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ringdb/client.h"
#include "ringdb/ringdb.h"

struct ringdb_client {
  std::unique_ptr<ringdb::Client> client;
};

struct ringdb_txn {
  std::unique_ptr<ringdb::Transaction> txn;
};

struct ringdb_cursor {
  std::unique_ptr<ringdb::Cursor> cursor;
};

struct ringdb_op {
  ringdb::Operation op;
  bool in_flight = false;
  bool out_of_memory = false;  // its results could not be stored: its status is OUT_OF_MEMORY
};

struct ringdb_batch {
  ringdb::Batch batch;
};

namespace {

using ringdb::Status;

ringdb_status c_status(Status s) {
  return static_cast<ringdb_status>(s);
}

// Runs fn() -> Status, turning an allocation failure into RINGDB_OUT_OF_MEMORY.
template <typename Fn>
ringdb_status guarded(Fn&& fn) {
  try {
    return c_status(fn());
  } catch (const std::bad_alloc&) {
    return RINGDB_OUT_OF_MEMORY;
  } catch (const std::length_error&) {
    return RINGDB_OUT_OF_MEMORY;
  } catch (...) {
    // Nothing else is thrown by the C++ API; should it ever be, it must not unwind into C.
    return RINGDB_OUT_OF_MEMORY;
  }
}

// A (data, len) pair from C: NULL is only allowed with length 0.
bool valid(const char* data, size_t len) {
  return data != nullptr || len == 0;
}

std::string_view view(const char* data, size_t len) {
  return len == 0 ? std::string_view() : std::string_view(data, len);
}

char* copy_out(const std::string& bytes) {
  auto* p = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  p[bytes.size()] = '\0';
  return p;
}

ringdb::ScanOptions scan_options(const ringdb_scan_options& o) {
  ringdb::ScanOptions options;
  options.start.assign(view(o.start, o.start_len));
  options.end.assign(view(o.end, o.end_len));
  options.prefix.assign(view(o.prefix, o.prefix_len));
  options.limit = o.limit;
  options.reverse = o.reverse != 0;
  return options;
}

bool valid(const ringdb_cursor_options* o) {
  return o != nullptr && valid(o->start, o->start_len) && valid(o->end, o->end_len) &&
         valid(o->prefix, o->prefix_len);
}

ringdb::CursorOptions cursor_options(const ringdb_cursor_options& o) {
  ringdb::CursorOptions options;
  options.start.assign(view(o.start, o.start_len));
  options.end.assign(view(o.end, o.end_len));
  options.prefix.assign(view(o.prefix, o.prefix_len));
  options.reverse = o.reverse != 0;
  if (o.page_items != 0) options.page_items = o.page_items;
  return options;
}

// Opens a cursor with open(CursorOptions, unique_ptr<Cursor>*) -> Status.
template <typename Open>
ringdb_status open_cursor(const ringdb_cursor_options* options, ringdb_cursor** out, Open&& open) {
  return guarded([&] {
    auto handle = std::make_unique<ringdb_cursor>();
    const Status s = open(cursor_options(*options), &handle->cursor);
    if (s == Status::kOk) *out = handle.release();
    return s;
  });
}

bool valid(ringdb_durability d) {
  return d == RINGDB_SYNC || d == RINGDB_ASYNC || d == RINGDB_NONE;
}

// Makes an op from make() -> ringdb::Operation when `ok` (the arguments are valid).
template <typename Make>
ringdb_status make_op(ringdb_op** out, bool ok, Make&& make) {
  if (out != nullptr) *out = nullptr;
  if (out == nullptr || !ok) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    auto op = std::make_unique<ringdb_op>();
    op->op = make();
    *out = op.release();
    return Status::kOk;
  });
}

bool valid(const ringdb_scan_options* o) {
  return o != nullptr && valid(o->start, o->start_len) && valid(o->end, o->end_len) &&
         valid(o->prefix, o->prefix_len);
}

// Hands a get's value to the caller; on any failure the outputs are NULL and 0.
template <typename Get>
ringdb_status get_value(Get&& get, char** value, size_t* value_len) {
  *value = nullptr;
  *value_len = 0;
  return guarded([&] {
    std::string v;
    const Status s = get(&v);
    if (s != Status::kOk) return s;
    *value = copy_out(v);
    *value_len = v.size();
    return s;
  });
}

void free_items(ringdb_item* items, size_t count) {
  if (items == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    std::free(items[i].key);
    std::free(items[i].value);
  }
  std::free(items);
}

// Hands scan items to the caller; on any failure the outputs are NULL and 0.
template <typename Scan>
ringdb_status scan_items(Scan&& scan, ringdb_item** items, size_t* count, int* truncated) {
  *items = nullptr;
  *count = 0;
  if (truncated != nullptr) *truncated = 0;
  return guarded([&] {
    std::vector<ringdb::KeyValue> found;
    bool cut = false;
    const Status s = scan(&found, &cut);
    if (s != Status::kOk || found.empty()) {
      if (truncated != nullptr) *truncated = cut ? 1 : 0;
      return s;
    }
    auto* out = static_cast<ringdb_item*>(std::calloc(found.size(), sizeof(ringdb_item)));
    if (out == nullptr) throw std::bad_alloc();
    try {
      for (size_t i = 0; i < found.size(); ++i) {
        out[i].key = copy_out(found[i].key);
        out[i].key_len = found[i].key.size();
        out[i].value = copy_out(found[i].value);
        out[i].value_len = found[i].value.size();
      }
    } catch (...) {
      free_items(out, found.size());  // calloc'ed: unfilled pointers are NULL
      throw;
    }
    *items = out;
    *count = found.size();
    if (truncated != nullptr) *truncated = cut ? 1 : 0;
    return s;
  });
}

}  // namespace

extern "C" {

const char* ringdb_status_name(ringdb_status status) {
  return ringdb::status_name(static_cast<Status>(status));
}

const char* ringdb_status_message(ringdb_status status) {
  return ringdb::status_message(static_cast<Status>(status));
}

const char* ringdb_version(int* major, int* minor, int* patch) {
  if (major != nullptr) *major = RINGDB_VERSION_MAJOR;
  if (minor != nullptr) *minor = RINGDB_VERSION_MINOR;
  if (patch != nullptr) *patch = RINGDB_VERSION_PATCH;
  return ringdb::version();
}

const char* ringdb_daemon_version(const ringdb_client* client) {
  return client == nullptr ? "" : client->client->daemon_version().c_str();
}

ringdb_status ringdb_set_timeout(ringdb_client* client, int64_t timeout_ms) {
  if (client == nullptr || timeout_ms < 0) return RINGDB_INVALID_ARGUMENT;
  client->client->set_timeout(timeout_ms);
  return RINGDB_OK;
}

const char* ringdb_last_error_detail(void) {
  thread_local std::string detail;
  detail = ringdb::last_error_detail();
  return detail.c_str();
}

ringdb_status ringdb_connect(const char* socket_path, ringdb_client** out, char* error,
                             size_t error_len) {
  if (error != nullptr && error_len > 0) error[0] = '\0';
  if (out == nullptr) return RINGDB_INVALID_ARGUMENT;
  *out = nullptr;
  std::string why;
  const ringdb_status status = guarded([&] {
    ringdb::ConnectOptions options;
    if (socket_path != nullptr) options.socket_path = socket_path;
    auto handle = std::make_unique<ringdb_client>();
    const Status s = ringdb::Client::connect(options, &handle->client, &why);
    if (s == Status::kOk) *out = handle.release();
    return s;
  });
  if (status == RINGDB_OUT_OF_MEMORY && why.empty()) why = "out of memory";
  if (status != RINGDB_OK && error != nullptr && error_len > 0) {
    const size_t n = why.size() < error_len - 1 ? why.size() : error_len - 1;
    std::memcpy(error, why.data(), n);
    error[n] = '\0';
  }
  return status;
}

void ringdb_close(ringdb_client* client) {
  delete client;
}

ringdb_status ringdb_ping(ringdb_client* client) {
  if (client == nullptr) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] { return client->client->ping(); });
}

ringdb_status ringdb_get(ringdb_client* client, const char* key, size_t key_len, char** value,
                         size_t* value_len) {
  if (client == nullptr || !valid(key, key_len) || value == nullptr || value_len == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return get_value([&](std::string* v) { return client->client->get(view(key, key_len), v); },
                   value, value_len);
}

ringdb_status ringdb_put(ringdb_client* client, const char* key, size_t key_len, const char* value,
                         size_t value_len) {
  if (client == nullptr || !valid(key, key_len) || !valid(value, value_len)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] { return client->client->put(view(key, key_len), view(value, value_len)); });
}

ringdb_status ringdb_del(ringdb_client* client, const char* key, size_t key_len) {
  return ringdb_del_durability(client, key, key_len, RINGDB_SYNC);
}

ringdb_status ringdb_put_durability(ringdb_client* client, const char* key, size_t key_len,
                                    const char* value, size_t value_len,
                                    ringdb_durability durability) {
  if (client == nullptr || !valid(key, key_len) || !valid(value, value_len) || !valid(durability)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] {
    return client->client->put(view(key, key_len), view(value, value_len),
                               static_cast<ringdb::Durability>(durability));
  });
}

ringdb_status ringdb_del_durability(ringdb_client* client, const char* key, size_t key_len,
                                    ringdb_durability durability) {
  if (client == nullptr || !valid(key, key_len) || !valid(durability)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] {
    return client->client->del(view(key, key_len), static_cast<ringdb::Durability>(durability));
  });
}

// ---- Operations kept in flight -----------------------------------------------------------

ringdb_status ringdb_op_get(const char* key, size_t key_len, ringdb_op** out) {
  return make_op(out, valid(key, key_len),
                 [&] { return ringdb::Operation::get(view(key, key_len)); });
}

ringdb_status ringdb_op_put(const char* key, size_t key_len, const char* value, size_t value_len,
                            ringdb_durability durability, ringdb_op** out) {
  return make_op(out, valid(key, key_len) && valid(value, value_len) && valid(durability), [&] {
    ringdb::Operation op = ringdb::Operation::put(view(key, key_len), view(value, value_len));
    op.set_durability(static_cast<ringdb::Durability>(durability));
    return op;
  });
}

ringdb_status ringdb_op_del(const char* key, size_t key_len, ringdb_durability durability,
                            ringdb_op** out) {
  return make_op(out, valid(key, key_len) && valid(durability), [&] {
    ringdb::Operation op = ringdb::Operation::del(view(key, key_len));
    op.set_durability(static_cast<ringdb::Durability>(durability));
    return op;
  });
}

ringdb_status ringdb_op_scan(const ringdb_scan_options* options, ringdb_op** out) {
  return make_op(out, valid(options),
                 [&] { return ringdb::Operation::scan(scan_options(*options)); });
}

ringdb_status ringdb_op_set_txn(ringdb_op* op, const ringdb_txn* txn) {
  if (op == nullptr || op->in_flight || txn == nullptr) return RINGDB_INVALID_ARGUMENT;
  op->op.set_transaction(*txn->txn);
  return RINGDB_OK;
}

void ringdb_op_free(ringdb_op* op) {
  delete op;
}

ringdb_status ringdb_submit(ringdb_client* client, ringdb_op* op) {
  if (client == nullptr || op == nullptr || op->in_flight) return RINGDB_INVALID_ARGUMENT;
  op->out_of_memory = false;
  const Status s = client->client->submit(&op->op);
  op->in_flight = s == Status::kOk;
  return c_status(s);
}

ringdb_status ringdb_try_submit(ringdb_client* client, ringdb_op* op) {
  if (client == nullptr || op == nullptr || op->in_flight) return RINGDB_INVALID_ARGUMENT;
  op->out_of_memory = false;
  const Status s = client->client->try_submit(&op->op);
  op->in_flight = s == Status::kOk;
  return c_status(s);
}

ringdb_status ringdb_wait(ringdb_client* client, ringdb_op* op) {
  if (client == nullptr || op == nullptr) return RINGDB_INVALID_ARGUMENT;
  const ringdb_status s = guarded([&] {
    (void)client->client->wait(&op->op);  // a transport error is the op's status too
    return Status::kOk;
  });
  op->in_flight = false;
  op->out_of_memory = s != RINGDB_OK;
  return ringdb_op_status(op);
}

int ringdb_poll(ringdb_client* client, ringdb_op* op) {
  if (client == nullptr || op == nullptr) return 1;
  bool complete = true;
  op->out_of_memory = guarded([&] {
                        complete = client->client->poll(&op->op);
                        return Status::kOk;
                      }) != RINGDB_OK;
  if (complete) op->in_flight = false;
  return complete ? 1 : 0;
}

ringdb_status ringdb_completion_fd(ringdb_client* client, int* fd) {
  if (fd != nullptr) *fd = -1;
  if (client == nullptr || fd == nullptr) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] { return client->client->completion_fd(fd); });
}

ringdb_status ringdb_execute(ringdb_client* client, ringdb_op* const* ops, size_t count) {
  if (client == nullptr || (ops == nullptr && count != 0)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    std::vector<ringdb::Operation*> list(count);
    for (size_t i = 0; i < count; ++i) {
      if (ops[i] == nullptr || ops[i]->in_flight) return Status::kInvalidArgument;
      list[i] = &ops[i]->op;
      ops[i]->out_of_memory = false;
    }
    return client->client->execute(list);
  });
}

ringdb_status ringdb_op_status(const ringdb_op* op) {
  if (op == nullptr) return RINGDB_INVALID_ARGUMENT;
  return op->out_of_memory ? RINGDB_OUT_OF_MEMORY : c_status(op->op.status());
}

ringdb_status ringdb_op_value(const ringdb_op* op, const char** value, size_t* value_len) {
  if (op == nullptr || value == nullptr || value_len == nullptr) return RINGDB_INVALID_ARGUMENT;
  *value = op->op.value().c_str();
  *value_len = op->op.value().size();
  return c_status(op->op.status());
}

size_t ringdb_op_item_count(const ringdb_op* op) {
  return op == nullptr ? 0 : op->op.items().size();
}

ringdb_status ringdb_op_item(const ringdb_op* op, size_t i, const char** key, size_t* key_len,
                             const char** value, size_t* value_len) {
  if (op == nullptr || i >= op->op.items().size() || key == nullptr || key_len == nullptr ||
      value == nullptr || value_len == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  const ringdb::KeyValue& item = op->op.items()[i];
  *key = item.key.c_str();
  *key_len = item.key.size();
  *value = item.value.c_str();
  *value_len = item.value.size();
  return RINGDB_OK;
}

int ringdb_op_truncated(const ringdb_op* op) {
  return op != nullptr && op->op.truncated() ? 1 : 0;
}

uint64_t ringdb_op_sequence(const ringdb_op* op) {
  return op == nullptr ? 0 : op->op.commit_sequence();
}

uint64_t ringdb_op_log_position(const ringdb_op* op) {
  return op == nullptr ? 0 : op->op.log_position();
}

ringdb_status ringdb_scan(ringdb_client* client, const ringdb_scan_options* options,
                          ringdb_item** items, size_t* count, int* truncated) {
  if (client == nullptr || !valid(options) || items == nullptr || count == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return scan_items(
      [&](std::vector<ringdb::KeyValue>* found, bool* cut) {
        return client->client->scan(scan_options(*options), found, cut);
      },
      items, count, truncated);
}

ringdb_status ringdb_begin(ringdb_client* client, int read_only, ringdb_txn** out) {
  if (client == nullptr || out == nullptr) return RINGDB_INVALID_ARGUMENT;
  *out = nullptr;
  return guarded([&] {
    auto handle = std::make_unique<ringdb_txn>();
    const Status s = client->client->begin(&handle->txn, read_only != 0);
    if (s == Status::kOk) *out = handle.release();
    return s;
  });
}

ringdb_status ringdb_txn_get(ringdb_txn* txn, const char* key, size_t key_len, char** value,
                             size_t* value_len) {
  if (txn == nullptr || !valid(key, key_len) || value == nullptr || value_len == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return get_value([&](std::string* v) { return txn->txn->get(view(key, key_len), v); }, value,
                   value_len);
}

ringdb_status ringdb_txn_put(ringdb_txn* txn, const char* key, size_t key_len, const char* value,
                             size_t value_len) {
  if (txn == nullptr || !valid(key, key_len) || !valid(value, value_len)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] { return txn->txn->put(view(key, key_len), view(value, value_len)); });
}

ringdb_status ringdb_txn_del(ringdb_txn* txn, const char* key, size_t key_len) {
  if (txn == nullptr || !valid(key, key_len)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] { return txn->txn->del(view(key, key_len)); });
}

ringdb_status ringdb_txn_scan(ringdb_txn* txn, const ringdb_scan_options* options,
                              ringdb_item** items, size_t* count, int* truncated) {
  if (txn == nullptr || !valid(options) || items == nullptr || count == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return scan_items([&](std::vector<ringdb::KeyValue>* found,
                        bool* cut) { return txn->txn->scan(scan_options(*options), found, cut); },
                    items, count, truncated);
}

ringdb_status ringdb_cursor_open(ringdb_client* client, const ringdb_cursor_options* options,
                                 ringdb_cursor** out) {
  if (out != nullptr) *out = nullptr;
  if (client == nullptr || !valid(options) || out == nullptr) return RINGDB_INVALID_ARGUMENT;
  return open_cursor(options, out, [&](const ringdb::CursorOptions& o, auto* cursor) {
    return client->client->open_cursor(o, cursor);
  });
}

ringdb_status ringdb_txn_cursor_open(ringdb_txn* txn, const ringdb_cursor_options* options,
                                     ringdb_cursor** out) {
  if (out != nullptr) *out = nullptr;
  if (txn == nullptr || !valid(options) || out == nullptr) return RINGDB_INVALID_ARGUMENT;
  return open_cursor(options, out, [&](const ringdb::CursorOptions& o, auto* cursor) {
    return txn->txn->open_cursor(o, cursor);
  });
}

ringdb_status ringdb_cursor_next(ringdb_cursor* cursor, const char** key, size_t* key_len,
                                 const char** value, size_t* value_len) {
  if (cursor == nullptr) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    const Status s = cursor->cursor->next();
    const bool ok = s == Status::kOk;
    const std::string_view k = ok ? cursor->cursor->key() : std::string_view();
    const std::string_view v = ok ? cursor->cursor->value() : std::string_view();
    if (key != nullptr) *key = k.data();
    if (key_len != nullptr) *key_len = k.size();
    if (value != nullptr) *value = v.data();
    if (value_len != nullptr) *value_len = v.size();
    return s;
  });
}

void ringdb_cursor_close(ringdb_cursor* cursor) {
  delete cursor;
}

ringdb_status ringdb_commit(ringdb_txn* txn) {
  if (txn == nullptr) return RINGDB_INVALID_ARGUMENT;
  const ringdb_status status = guarded([&] { return txn->txn->commit(); });
  delete txn;
  return status;
}

ringdb_status ringdb_commit_durability(ringdb_txn* txn, ringdb_durability durability) {
  if (txn == nullptr || durability < RINGDB_SYNC || durability > RINGDB_NONE) {
    delete txn;
    return RINGDB_INVALID_ARGUMENT;
  }
  const ringdb_status status =
      guarded([&] { return txn->txn->commit(static_cast<ringdb::Durability>(durability)); });
  delete txn;
  return status;
}

void ringdb_abort(ringdb_txn* txn) {
  delete txn;  // the destructor aborts an open transaction
}

void ringdb_conflict_backoff(unsigned attempt) {
  constexpr unsigned kYields = 3;
  if (attempt < kYields) {
    sched_yield();
    return;
  }
  // 2, 4, 8, ... µs, capped at 1024 µs, and a random point in the upper half of that, so
  // that threads which met at one conflict do not meet again at the next attempt.
  const unsigned shift = std::min(attempt - kYields + 1, 10u);
  const uint64_t ceiling_ns = uint64_t{1000} << shift;
  thread_local std::minstd_rand rng(static_cast<unsigned>(
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      reinterpret_cast<uintptr_t>(&rng)));
  const uint64_t ns = ceiling_ns / 2 + rng() % (ceiling_ns / 2);
  timespec t = {0, static_cast<long>(ns)};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

ringdb_status ringdb_batch_new(ringdb_batch** out) {
  if (out == nullptr) return RINGDB_INVALID_ARGUMENT;
  *out = nullptr;
  return guarded([&] {
    *out = new ringdb_batch;
    return Status::kOk;
  });
}

void ringdb_batch_free(ringdb_batch* batch) {
  delete batch;
}

ringdb_status ringdb_batch_if_absent(ringdb_batch* batch, const char* key, size_t key_len) {
  if (batch == nullptr || !valid(key, key_len)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    batch->batch.if_absent(view(key, key_len));
    return Status::kOk;
  });
}

ringdb_status ringdb_batch_if_present(ringdb_batch* batch, const char* key, size_t key_len) {
  if (batch == nullptr || !valid(key, key_len)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    batch->batch.if_present(view(key, key_len));
    return Status::kOk;
  });
}

ringdb_status ringdb_batch_if_equals(ringdb_batch* batch, const char* key, size_t key_len,
                                     const char* value, size_t value_len) {
  if (batch == nullptr || !valid(key, key_len) || !valid(value, value_len)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] {
    batch->batch.if_equals(view(key, key_len), view(value, value_len));
    return Status::kOk;
  });
}

ringdb_status ringdb_batch_if_unchanged_since(ringdb_batch* batch, const char* key, size_t key_len,
                                              uint64_t csn) {
  if (batch == nullptr || !valid(key, key_len)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    batch->batch.if_unchanged_since(view(key, key_len), csn);
    return Status::kOk;
  });
}

ringdb_status ringdb_batch_put(ringdb_batch* batch, const char* key, size_t key_len,
                               const char* value, size_t value_len) {
  if (batch == nullptr || !valid(key, key_len) || !valid(value, value_len)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] {
    batch->batch.put(view(key, key_len), view(value, value_len));
    return Status::kOk;
  });
}

ringdb_status ringdb_batch_del(ringdb_batch* batch, const char* key, size_t key_len) {
  if (batch == nullptr || !valid(key, key_len)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    batch->batch.del(view(key, key_len));
    return Status::kOk;
  });
}

ringdb_status ringdb_apply(ringdb_client* client, const ringdb_batch* batch,
                           ringdb_durability durability, ringdb_batch_result* result) {
  if (result != nullptr) *result = ringdb_batch_result{};
  if (client == nullptr || batch == nullptr || !valid(durability)) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] {
    ringdb::BatchResult r;
    const Status s =
        client->client->apply(batch->batch, &r, static_cast<ringdb::Durability>(durability));
    if (result != nullptr) {
      result->commit_sequence = r.commit_sequence;
      result->failed_condition = r.failed_condition;
      result->failed_key_sequence = r.failed_key_sequence;
    }
    return s;
  });
}

ringdb_status ringdb_get_sequence(ringdb_client* client, const char* key, size_t key_len,
                                  char** value, size_t* value_len, uint64_t* commit_sequence) {
  if (client == nullptr || !valid(key, key_len) || value == nullptr || value_len == nullptr ||
      commit_sequence == nullptr) {
    return RINGDB_INVALID_ARGUMENT;
  }
  *commit_sequence = 0;
  return get_value(
      [&](std::string* v) { return client->client->get(view(key, key_len), v, commit_sequence); },
      value, value_len);
}

ringdb_status ringdb_watch(ringdb_client* client, const ringdb_watch_options* options, uint32_t* id,
                           uint64_t* position) {
  if (client == nullptr || options == nullptr || id == nullptr ||
      !valid(options->start, options->start_len) || !valid(options->end, options->end_len) ||
      !valid(options->prefix, options->prefix_len)) {
    return RINGDB_INVALID_ARGUMENT;
  }
  return guarded([&] {
    ringdb::WatchOptions o;
    o.start.assign(view(options->start, options->start_len));
    o.end.assign(view(options->end, options->end_len));
    o.prefix.assign(view(options->prefix, options->prefix_len));
    o.from = options->from;
    o.keys_only = options->keys_only != 0;
    return client->client->watch(o, id, position);
  });
}

ringdb_status ringdb_unwatch(ringdb_client* client, uint32_t id) {
  if (client == nullptr) return RINGDB_INVALID_ARGUMENT;
  return guarded([&] { return client->client->unwatch(id); });
}

void ringdb_watch_event_free(ringdb_watch_event* event) {
  if (event == nullptr) return;
  for (size_t i = 0; i < event->change_count; ++i) {
    std::free(event->changes[i].key);
    std::free(event->changes[i].value);
  }
  std::free(event->changes);
  std::free(event);
}

ringdb_status ringdb_next_event(ringdb_client* client, int64_t timeout_ms,
                                ringdb_watch_event** out) {
  if (client == nullptr || out == nullptr) return RINGDB_INVALID_ARGUMENT;
  *out = nullptr;
  return guarded([&] {
    ringdb::WatchEvent e;
    const Status s = client->client->next_event(&e, timeout_ms);
    if (s != Status::kOk) return s;
    // Built whole before it is handed out: a failed allocation frees what was made.
    auto* event = static_cast<ringdb_watch_event*>(std::calloc(1, sizeof(ringdb_watch_event)));
    if (event == nullptr) throw std::bad_alloc();
    std::unique_ptr<ringdb_watch_event, void (*)(ringdb_watch_event*)> owned(
        event, ringdb_watch_event_free);
    event->type = e.type == ringdb::WatchEvent::Type::kCommit      ? RINGDB_EVENT_COMMIT
                  : e.type == ringdb::WatchEvent::Type::kCompacted ? RINGDB_EVENT_COMPACTED
                                                                   : RINGDB_EVENT_ENDED;
    event->watch = e.watch;
    event->sequence = e.sequence;
    if (!e.changes.empty()) {
      event->changes =
          static_cast<ringdb_change*>(std::calloc(e.changes.size(), sizeof(ringdb_change)));
      if (event->changes == nullptr) throw std::bad_alloc();
      for (const ringdb::Change& c : e.changes) {
        ringdb_change& out_change = event->changes[event->change_count++];
        out_change.deleted = c.deleted ? 1 : 0;
        out_change.value_omitted = c.value_omitted ? 1 : 0;
        out_change.key = copy_out(c.key);
        out_change.key_len = c.key.size();
        out_change.value = copy_out(c.value);
        out_change.value_len = c.value.size();
      }
    }
    *out = owned.release();
    return Status::kOk;
  });
}

void ringdb_free(void* p) {
  std::free(p);
}

void ringdb_items_free(ringdb_item* items, size_t count) {
  free_items(items, count);
}

}  // extern "C"
