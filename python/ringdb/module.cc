// ringdb._ringdb: the Python binding's extension module, over libringdb's C++ API
// (ringdb/client.h). The package `ringdb` (__init__.py) re-exports it; the stubs in _ringdb.pyi
// say the same as the docstrings here.
//
// Keys and values are bytes (str is encoded as UTF-8); results are bytes. Every call that waits
// for the daemon releases the GIL, so other Python threads run meanwhile; the bytes and str
// objects it reads stay alive (the caller's references) and immutable, so they are read
// without a copy. Errors become exceptions carrying the status and the library's sentence.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringdb/client.h"
#include "ringdb/ringdb.h"

namespace py = pybind11;

namespace {

using ringdb::Durability;
using ringdb::Status;

// ---- Errors --------------------------------------------------------------------------------

// The exception classes, made once at import (references held for the process's life).
struct ErrorClasses {
  py::handle error;         // ringdb.Error: every failure
  py::handle conflict;      // CONFLICT, TRANSACTION_DONE: retry the transaction
  py::handle disconnected;  // DISCONNECTED, SHUTTING_DOWN: the session is over
  py::handle connect;       // connect() refused or failed
  py::handle timed_out;     // TIMED_OUT
};
ErrorClasses errors;

py::handle class_for(Status s) {
  switch (s) {
    case Status::kConflict:
    case Status::kTransactionDone:
      return errors.conflict;
    case Status::kDisconnected:
    case Status::kShuttingDown:
      return errors.disconnected;
    case Status::kConnectFailed:
    case Status::kPermissionDenied:
    case Status::kTooManySessions:
    case Status::kProtocolMismatch:
    case Status::kUntrustedDaemon:
      return errors.connect;
    case Status::kTimedOut:
      return errors.timed_out;
    default:
      return errors.error;
  }
}

// The exception for `s` (not raised): its text is "NAME: sentence", with the limit that was
// exceeded for TOO_LARGE, and `reason` (a connect's) first when given. Reads this thread's
// last_error_detail(), so it is made on the thread that made the call, right after it.
py::object make_error(Status s, const std::string& reason = {}) {
  const std::string detail = s == Status::kTooLarge ? ringdb::last_error_detail() : std::string();
  std::string text = std::string(ringdb::status_name(s)) + ": " + ringdb::status_message(s);
  if (!detail.empty()) text += " (" + detail + ")";
  if (!reason.empty()) text = reason + " [" + text + "]";
  py::object e = class_for(s)(text);
  e.attr("status") = py::cast(s);
  e.attr("code") = static_cast<int>(s);
  e.attr("message") = ringdb::status_message(s);
  e.attr("detail") = detail;
  return e;
}

[[noreturn]] void raise(Status s, const std::string& reason = {}) {
  py::object e = make_error(s, reason);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
  throw py::error_already_set();
}

void check(Status s) {
  if (s != Status::kOk) raise(s);
}

// ---- Bytes in and out ------------------------------------------------------------------------

// A key or value given by Python: bytes and str are read in place (immutable, kept alive by
// the caller while the GIL is released); other buffers (bytearray, memoryview) are copied,
// since another thread could change them meanwhile.
class Bytes {
 public:
  explicit Bytes(const py::handle& o) {
    if (PyBytes_Check(o.ptr())) {
      view_ = {PyBytes_AS_STRING(o.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(o.ptr()))};
    } else if (PyUnicode_Check(o.ptr())) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(o.ptr(), &size);
      if (data == nullptr) throw py::error_already_set();
      view_ = {data, static_cast<size_t>(size)};
    } else if (PyObject_CheckBuffer(o.ptr())) {
      const py::buffer_info info = py::reinterpret_borrow<py::buffer>(o).request();
      copy_.assign(static_cast<const char*>(info.ptr),
                   static_cast<size_t>(info.size * info.itemsize));
      view_ = copy_;
    } else {
      throw py::type_error("keys and values are bytes, str (encoded as UTF-8) or a buffer, not " +
                           std::string(Py_TYPE(o.ptr())->tp_name));
    }
  }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  std::string_view view() const { return view_; }
  operator std::string_view() const { return view_; }  // NOLINT: a view is what it is for

 private:
  std::string copy_;
  std::string_view view_;
};

// An optional range bound or prefix (None: unbounded).
std::string optional_bytes(const py::object& o) {
  return o.is_none() ? std::string() : std::string(Bytes(o).view());
}

py::bytes to_bytes(std::string_view s) {
  return {s.data(), s.size()};
}

// A get's answer: the value, or None for NOT_FOUND (no error); raises for any other failure.
std::optional<py::bytes> found(Status s, const std::string& value) {
  if (s == Status::kNotFound) return std::nullopt;
  check(s);
  return to_bytes(value);
}

// A delete's answer: whether the key had a value (NOT_FOUND is no error).
bool deleted(Status s) {
  if (s == Status::kNotFound) return false;
  check(s);
  return true;
}

// ---- Cursor ----------------------------------------------------------------------------------

ringdb::CursorOptions cursor_options(const py::object& start, const py::object& end,
                                     const py::object& prefix, bool reverse, uint32_t page_items) {
  ringdb::CursorOptions options;
  options.start = optional_bytes(start);
  options.end = optional_bytes(end);
  options.prefix = optional_bytes(prefix);
  options.reverse = reverse;
  options.page_items = page_items;
  return options;
}

class PyCursor {
 public:
  // `client`: the session it reads through, kept until the cursor goes (even past
  // Client.close()); `owner`: a transaction's Python object, for a cursor in it.
  PyCursor(std::unique_ptr<ringdb::Cursor> cursor, std::shared_ptr<ringdb::Client> client,
           py::object owner = {})
      : client_(std::move(client)), owner_(std::move(owner)), cursor_(std::move(cursor)) {}

  py::tuple next() {
    Status s = Status::kNotFound;
    std::string key;
    std::string value;
    {
      py::gil_scoped_release unlocked;
      std::lock_guard<std::mutex> guard(mu_);
      if (cursor_) s = cursor_->next();
      if (s == Status::kOk) {  // copied under the lock: another thread may call next() after
        key.assign(cursor_->key());
        value.assign(cursor_->value());
      }
    }
    if (s == Status::kNotFound) {
      close();
      throw py::stop_iteration();
    }
    check(s);
    return py::make_tuple(to_bytes(key), to_bytes(value));
  }

  void close() {
    std::unique_ptr<ringdb::Cursor> done;
    {
      py::gil_scoped_release unlocked;  // an autocommit cursor's abort is a round trip
      std::lock_guard<std::mutex> guard(mu_);
      done = std::move(cursor_);
      done.reset();
    }
  }

 private:
  std::mutex mu_;  // one call at a time, whichever Python thread makes it
  // In this order: the cursor goes first, then what it reads through.
  std::shared_ptr<ringdb::Client> client_;
  py::object owner_;
  std::unique_ptr<ringdb::Cursor> cursor_;
};

// ---- Transaction -----------------------------------------------------------------------------

class PyTransaction {
 public:
  PyTransaction(std::unique_ptr<ringdb::Transaction> txn, Durability durability,
                std::shared_ptr<ringdb::Client> client)
      : client_(std::move(client)), txn_(std::move(txn)), durability_(durability) {}

  std::optional<py::bytes> get(const py::object& key) {
    const Bytes k(key);
    std::string value;
    return found(run([&](ringdb::Transaction& t) { return t.get(k, &value); }), value);
  }

  void put(const py::object& key, const py::object& value) {
    const Bytes k(key);
    const Bytes v(value);
    check(run([&](ringdb::Transaction& t) { return t.put(k, v); }));
  }

  bool del(const py::object& key) {
    const Bytes k(key);
    return deleted(run([&](ringdb::Transaction& t) { return t.del(k); }));
  }

  // The cursor reads through this transaction: it keeps this object alive.
  std::unique_ptr<PyCursor> scan(const py::object& self, const py::object& start,
                                 const py::object& end, const py::object& prefix, bool reverse,
                                 uint32_t page_items) {
    const ringdb::CursorOptions options = cursor_options(start, end, prefix, reverse, page_items);
    std::unique_ptr<ringdb::Cursor> cursor;
    check(run([&](ringdb::Transaction& t) { return t.open_cursor(options, &cursor); }));
    return std::make_unique<PyCursor>(std::move(cursor), client_, self);
  }

  void commit(std::optional<Durability> durability) {
    const Durability d = durability.value_or(durability_);
    check(run([&](ringdb::Transaction& t) { return t.commit(d); }));
  }

  void abort() {
    (void)run([](ringdb::Transaction& t) {
      t.abort();
      return Status::kOk;
    });
  }

  bool open() {
    std::lock_guard<std::mutex> guard(mu_);
    return txn_->open();
  }
  uint64_t commit_sequence() {
    std::lock_guard<std::mutex> guard(mu_);
    return txn_->commit_sequence();
  }
  uint64_t log_position() {
    std::lock_guard<std::mutex> guard(mu_);
    return txn_->log_position();
  }

  // Context manager: commits when the block ends normally, aborts when it raises.
  bool exit(const py::object& type) {
    if (type.is_none()) {
      commit(std::nullopt);
    } else {
      abort();
    }
    return false;  // the exception, if any, goes on
  }

 private:
  // fn(Transaction&) -> Status without the GIL; a transaction runs one request at a time.
  template <typename Fn>
  Status run(Fn&& fn) {
    py::gil_scoped_release unlocked;
    std::lock_guard<std::mutex> guard(mu_);
    return fn(*txn_);
  }

  std::mutex mu_;
  // The session, kept while the transaction lives (even past Client.close()): destroyed
  // after it, as its abort needs the session.
  std::shared_ptr<ringdb::Client> client_;
  std::unique_ptr<ringdb::Transaction> txn_;
  Durability durability_;
};

// ---- Client ----------------------------------------------------------------------------------

class PyClient;

// Operations gathered and run together (Client.pipeline()): many in flight from one call.
class PyPipeline {
 public:
  explicit PyPipeline(std::shared_ptr<PyClient> client) : client_(std::move(client)) {}

  void get(const py::object& key) { add(Kind::kGet, ringdb::Operation::get(Bytes(key))); }
  void put(const py::object& key, const py::object& value, Durability durability) {
    add(Kind::kPut, ringdb::Operation::put(Bytes(key), Bytes(value)));
    ops_.back().set_durability(durability);
  }
  void del(const py::object& key, Durability durability) {
    add(Kind::kDel, ringdb::Operation::del(Bytes(key)));
    ops_.back().set_durability(durability);
  }
  size_t size() const { return ops_.size(); }
  py::list execute(bool raise_on_error);

 private:
  enum class Kind : uint8_t { kGet, kPut, kDel };
  void add(Kind kind, ringdb::Operation op) {
    ops_.push_back(std::move(op));
    kinds_.push_back(kind);
  }

  std::shared_ptr<PyClient> client_;
  std::vector<ringdb::Operation> ops_;
  std::vector<Kind> kinds_;
};

class PyClient : public std::enable_shared_from_this<PyClient> {
 public:
  explicit PyClient(std::shared_ptr<ringdb::Client> client) : client_(std::move(client)) {}

  static std::shared_ptr<PyClient> connect(const std::optional<std::string>& socket,
                                           const std::vector<uint32_t>& daemon_uids,
                                           bool keep_threads_off_worker_cpus,
                                           std::optional<double> timeout) {
    ringdb::ConnectOptions options;
    if (socket) options.socket_path = *socket;
    options.daemon_uids = daemon_uids;
    options.keep_threads_off_worker_cpus = keep_threads_off_worker_cpus;
    std::unique_ptr<ringdb::Client> client;
    std::string reason;
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = ringdb::Client::connect(options, &client, &reason);
    }
    if (s != Status::kOk) raise(s, reason);
    auto out = std::make_shared<PyClient>(std::move(client));
    out->set_timeout(timeout);
    return out;
  }

  // Seconds (None: no limit), as Python's socket timeouts; kept in whole milliseconds, at
  // least 1 for any positive value.
  std::optional<double> timeout() {
    const int64_t ms = client().timeout_ms();
    if (ms == 0) return std::nullopt;
    return static_cast<double>(ms) / 1000.0;
  }
  void set_timeout(std::optional<double> seconds) {
    if (seconds && !(*seconds >= 0)) throw py::value_error("timeout must be None or >= 0");
    int64_t ms = 0;
    if (seconds && *seconds > 0)
      ms = std::max<int64_t>(1, static_cast<int64_t>(std::min(*seconds, 1e9) * 1000.0));
    client().set_timeout(ms);
  }

  ringdb::Client& client() { return *shared(); }
  // The session, shared with the transactions and cursors made from it.
  const std::shared_ptr<ringdb::Client>& shared() {
    if (!client_) raise(Status::kDisconnected, "the client is closed");
    return client_;
  }

  // No more calls through this object; the session ends once the transactions and cursors
  // made from it are gone too (at once, if there are none).
  void close() {
    std::shared_ptr<ringdb::Client> done = std::move(client_);
    py::gil_scoped_release unlocked;
    done.reset();
  }

  void ping() {
    ringdb::Client& c = client();
    check(unlocked([&] { return c.ping(); }));
  }

  std::optional<py::bytes> get(const py::object& key) {
    ringdb::Client& c = client();
    const Bytes k(key);
    std::string value;
    return found(unlocked([&] { return c.get(k, &value); }), value);
  }

  std::optional<py::tuple> get_with_sequence(const py::object& key) {
    ringdb::Client& c = client();
    const Bytes k(key);
    std::string value;
    uint64_t sequence = 0;
    const Status s = unlocked([&] { return c.get(k, &value, &sequence); });
    if (s == Status::kNotFound) return std::nullopt;
    check(s);
    return py::make_tuple(to_bytes(value), sequence);
  }

  void put(const py::object& key, const py::object& value, Durability durability) {
    ringdb::Client& c = client();
    const Bytes k(key);
    const Bytes v(value);
    check(unlocked([&] { return c.put(k, v, durability); }));
  }

  bool del(const py::object& key, Durability durability) {
    ringdb::Client& c = client();
    const Bytes k(key);
    return deleted(unlocked([&] { return c.del(k, durability); }));
  }

  std::unique_ptr<PyCursor> scan(const py::object& start, const py::object& end,
                                 const py::object& prefix, bool reverse, uint32_t page_items) {
    const std::shared_ptr<ringdb::Client>& c = shared();
    const ringdb::CursorOptions options = cursor_options(start, end, prefix, reverse, page_items);
    std::unique_ptr<ringdb::Cursor> cursor;
    check(unlocked([&] { return c->open_cursor(options, &cursor); }));
    return std::make_unique<PyCursor>(std::move(cursor), c);
  }

  std::shared_ptr<PyTransaction> begin(bool read_only, Durability durability) {
    const std::shared_ptr<ringdb::Client>& c = shared();
    std::unique_ptr<ringdb::Transaction> txn;
    check(unlocked([&] { return c->begin(&txn, read_only); }));
    return std::make_shared<PyTransaction>(std::move(txn), durability, c);
  }

  // Calls fn(txn) in a new transaction and commits it, again from the start (after a backoff)
  // while that ends in ConflictError, at most `attempts` times; returns fn's result.
  py::object run_transaction(const py::function& fn, int attempts, bool read_only,
                             Durability durability) {
    if (attempts < 1) throw py::value_error("attempts must be at least 1");
    for (int i = 0;; ++i) {
      std::shared_ptr<PyTransaction> txn = begin(read_only, durability);
      try {
        py::object result = fn(txn);
        txn->commit(std::nullopt);
        return result;
      } catch (py::error_already_set& e) {
        txn->abort();  // (a no-op if the commit ended it)
        if (!e.matches(errors.conflict) || i + 1 == attempts) throw;
      }
      py::gil_scoped_release unlocked;
      ringdb_conflict_backoff(static_cast<unsigned>(i));
    }
  }

  // Runs ops with as many in flight as the session allows (Client::execute).
  Status execute(std::vector<ringdb::Operation>& ops) {
    ringdb::Client& c = client();
    std::vector<ringdb::Operation*> list;
    list.reserve(ops.size());
    for (ringdb::Operation& op : ops)
      list.push_back(&op);
    return unlocked([&] { return c.execute(list); });
  }

  py::list get_many(const py::iterable& keys) {
    std::vector<ringdb::Operation> ops;
    for (const py::handle& key : keys)
      ops.push_back(ringdb::Operation::get(Bytes(key)));
    (void)execute(ops);  // a transport error is every unfinished op's status
    py::list out;
    for (const ringdb::Operation& op : ops) {
      if (op.status() == Status::kNotFound) {
        out.append(py::none());
      } else {
        check(op.status());
        out.append(to_bytes(op.value()));
      }
    }
    return out;
  }

  void put_many(const py::iterable& items, Durability durability) {
    std::vector<ringdb::Operation> ops;
    for (const py::handle& item : items) {
      const auto pair = py::reinterpret_borrow<py::sequence>(item);
      if (pair.size() != 2) throw py::value_error("put_many takes (key, value) pairs");
      ops.push_back(ringdb::Operation::put(Bytes(pair[0]), Bytes(pair[1])));
      ops.back().set_durability(durability);
    }
    (void)execute(ops);
    for (const ringdb::Operation& op : ops)
      check(op.status());
  }

  // Watches (Client::watch): returns (id, position).
  py::tuple watch(const py::object& start, const py::object& end, const py::object& prefix,
                  std::optional<uint64_t> position, bool keys_only) {
    ringdb::Client& c = client();
    ringdb::WatchOptions options;
    options.start = optional_bytes(start);
    options.end = optional_bytes(end);
    options.prefix = optional_bytes(prefix);
    options.from = position.value_or(ringdb::kWatchFromNow);
    options.keys_only = keys_only;
    uint32_t id = 0;
    uint64_t at = 0;
    const Status s = unlocked([&] { return c.watch(options, &id, &at); });
    if (s == Status::kCompacted) {
      py::object e = make_error(s);
      e.attr("oldest_position") = at;
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
      throw py::error_already_set();
    }
    check(s);
    return py::make_tuple(id, at);
  }

  bool unwatch(uint32_t id) {
    ringdb::Client& c = client();
    return deleted(unlocked([&] { return c.unwatch(id); }));
  }

  // The next event of any watch, or None once `timeout` (seconds; None: no limit) passes.
  std::optional<ringdb::WatchEvent> next_event(std::optional<double> timeout) {
    ringdb::Client& c = client();
    const int64_t ms = timeout ? static_cast<int64_t>(std::max(0.0, *timeout) * 1000.0) : -1;
    ringdb::WatchEvent event;
    const Status s = unlocked([&] { return c.next_event(&event, ms); });
    if (s == Status::kTimedOut) return std::nullopt;
    check(s);
    return event;
  }

  const std::string& daemon_version() { return client().daemon_version(); }
  uint64_t session_id() { return client().session_id(); }

 private:
  template <typename Fn>
  static Status unlocked(Fn&& fn) {
    py::gil_scoped_release unlocked;
    return fn();
  }

  std::shared_ptr<ringdb::Client> client_;
};

py::list PyPipeline::execute(bool raise_on_error) {
  std::vector<ringdb::Operation> ops = std::exchange(ops_, {});
  const std::vector<Kind> kinds = std::exchange(kinds_, {});
  (void)client_->execute(ops);  // a transport error is every unfinished op's status
  py::list out;
  py::object first_error;
  for (size_t i = 0; i < ops.size(); ++i) {
    const ringdb::Operation& op = ops[i];
    const Status s = op.status();
    const Kind kind = kinds[i];
    if (kind == Kind::kGet && s == Status::kNotFound) {
      out.append(py::none());
    } else if (kind == Kind::kDel && s == Status::kNotFound) {
      out.append(false);
    } else if (s != Status::kOk) {
      py::object e = make_error(s);
      if (!first_error) first_error = e;
      out.append(e);
    } else if (kind == Kind::kGet) {
      out.append(to_bytes(op.value()));
    } else if (kind == Kind::kDel) {
      out.append(true);
    } else {
      out.append(py::none());
    }
  }
  if (raise_on_error && first_error) {
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(first_error.ptr())), first_error.ptr());
    throw py::error_already_set();
  }
  return out;
}

// A new exception class ringdb.<name>, a subclass of `bases` (a class or a tuple of them).
py::handle new_error(const char* name, const char* doc, const py::handle& bases) {
  const std::string qualified = std::string("ringdb.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (cls == nullptr) throw py::error_already_set();
  return cls;  // a new reference, kept for the process's life
}

}  // namespace

PYBIND11_MODULE(_ringdb, m) {
  m.doc() = "ringdb's client: a transactional key-value store served over shared memory.";

  py::enum_<Durability>(m, "Durability",
                        "How durable a write is when its call returns: SYNC, its log record is "
                        "on disk; ASYNC, queued for the log (lost if the daemon dies first); "
                        "NONE, not logged (lost at the next restart).")
      .value("SYNC", Durability::kSync)
      .value("ASYNC", Durability::kAsync)
      .value("NONE", Durability::kNone);
  m.attr("SYNC") = Durability::kSync;
  m.attr("ASYNC") = Durability::kAsync;
  m.attr("NONE") = Durability::kNone;

  {
    py::enum_<Status> status(m, "Status", "libringdb's status codes (docs/PROTOCOL.md section 4).");
#define RINGDB_PY_STATUS(name, camel, number, message) status.value(#name, Status::k##camel);
    RINGDB_ALL_STATUS_CODES(RINGDB_PY_STATUS)
#undef RINGDB_PY_STATUS
  }

  errors.error = new_error("Error",
                           "A ringdb call failed. Attributes: status (ringdb.Status), code (int), "
                           "message (the sentence for the status), detail (for TOO_LARGE: "
                           "which part and the daemon's limit; else empty).",
                           PyExc_Exception);
  errors.conflict = new_error("ConflictError",
                              "Another transaction wrote a key first (CONFLICT), or the "
                              "transaction had already failed (TRANSACTION_DONE): run the "
                              "transaction again (Client.run_transaction does).",
                              errors.error);
  errors.disconnected =
      new_error("DisconnectedError",
                "The session is over: the daemon stopped, died or detached it. Connect again.",
                py::make_tuple(errors.error, py::handle(PyExc_ConnectionError)));
  errors.connect = new_error("ConnectError",
                             "connect() failed: no daemon, a refusal (user not allowed, session "
                             "limit), another protocol version, or an untrusted daemon.",
                             py::make_tuple(errors.error, py::handle(PyExc_ConnectionError)));
  errors.timed_out = new_error("TimedOutError", "Nothing came within the time given.",
                               py::make_tuple(errors.error, py::handle(PyExc_TimeoutError)));
  m.attr("Error") = errors.error;
  m.attr("ConflictError") = errors.conflict;
  m.attr("DisconnectedError") = errors.disconnected;
  m.attr("ConnectError") = errors.connect;
  m.attr("TimedOutError") = errors.timed_out;

  m.def("version", &ringdb::version, "libringdb's version, e.g. '0.1.0'.");
  m.def(
      "status_message", [](Status s) { return ringdb::status_message(s); },
      "The sentence that explains a status.", py::arg("status"));

  py::class_<ringdb::Change>(m, "Change", "One key a commit changed (WatchEvent.changes).")
      .def_property_readonly("key", [](const ringdb::Change& c) { return to_bytes(c.key); })
      .def_property_readonly(
          "value",
          [](const ringdb::Change& c) -> std::optional<py::bytes> {
            if (c.deleted) return std::nullopt;
            return to_bytes(c.value);
          },
          "The new value; None for a delete. Empty with keys_only or value_omitted.")
      .def_readonly("deleted", &ringdb::Change::deleted)
      .def_readonly("value_omitted", &ringdb::Change::value_omitted,
                    "The value was too large for the event ring: read it with get().")
      .def("__repr__", [](const ringdb::Change& c) {
        return "Change(" + py::repr(to_bytes(c.key)).cast<std::string>() +
               (c.deleted ? std::string(", deleted)") : std::string(")"));
      });

  py::enum_<ringdb::WatchEvent::Type>(m, "EventType")
      .value("COMMIT", ringdb::WatchEvent::Type::kCommit)
      .value("COMPACTED", ringdb::WatchEvent::Type::kCompacted)
      .value("ENDED", ringdb::WatchEvent::Type::kEnded);

  py::class_<ringdb::WatchEvent>(
      m, "WatchEvent",
      "A watch's event: COMMIT, one commit's changes in the watch's range, whole; COMPACTED "
      "or ENDED, the watch is over. sequence: for COMMIT the log position after the commit "
      "(watch from it to resume after it), for COMPACTED the oldest position the log holds.")
      .def_readonly("type", &ringdb::WatchEvent::type)
      .def_readonly("watch", &ringdb::WatchEvent::watch)
      .def_readonly("sequence", &ringdb::WatchEvent::sequence)
      .def_readonly("changes", &ringdb::WatchEvent::changes)
      .def("__repr__", [](const ringdb::WatchEvent& e) {
        return "WatchEvent(watch=" + std::to_string(e.watch) +
               ", sequence=" + std::to_string(e.sequence) +
               ", changes=" + std::to_string(e.changes.size()) + ")";
      });

  py::class_<PyCursor>(m, "Cursor",
                       "An iterator of (key, value) over a range, in one snapshot, fetched from "
                       "the daemon a page at a time. A context manager: close() releases its "
                       "snapshot (so does reaching the end).")
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", &PyCursor::next)
      .def("close", &PyCursor::close, "Releases the cursor and its snapshot.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyCursor& c, const py::object&, const py::object&, const py::object&) {
        c.close();
        return false;
      });

  py::class_<PyTransaction, std::shared_ptr<PyTransaction>>(
      m, "Transaction",
      "A snapshot-isolated transaction (Client.transaction). A context manager: commits when the "
      "block ends, aborts if it raises. After a ConflictError only abort is useful.")
      .def("get", &PyTransaction::get,
           "The key's value in the snapshot (own writes included), "
           "or None.",
           py::arg("key"))
      .def("put", &PyTransaction::put, py::arg("key"), py::arg("value"))
      .def("delete", &PyTransaction::del, "True if the key had a value.", py::arg("key"))
      .def(
          "scan",
          [](const py::object& self, const py::object& start, const py::object& end,
             const py::object& prefix, bool reverse, uint32_t page_items) {
            return self.cast<PyTransaction&>().scan(self, start, end, prefix, reverse, page_items);
          },
          "A Cursor over keys in [start, end) with the prefix, in the transaction's snapshot.",
          py::arg("start") = py::none(), py::arg("end") = py::none(),
          py::arg("prefix") = py::none(), py::arg("reverse") = false, py::arg("page_items") = 1000)
      .def("commit", &PyTransaction::commit,
           "Commits (ConflictError: it was aborted instead). durability: the transaction's if "
           "None.",
           py::arg("durability") = py::none())
      .def("abort", &PyTransaction::abort)
      .def_property_readonly("open", &PyTransaction::open)
      .def_property_readonly("commit_sequence", &PyTransaction::commit_sequence,
                             "The commit's place in the commit order (after a commit that "
                             "wrote).")
      .def_property_readonly("log_position", &PyTransaction::log_position,
                             "After a SYNC commit that wrote: the log position after it.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyTransaction& t, const py::object& type, const py::object&,
                          const py::object&) { return t.exit(type); });

  py::class_<PyPipeline>(m, "Pipeline",
                         "Operations gathered, then run together by execute() with many in "
                         "flight: one call for many gets and writes.")
      .def(
          "get",
          [](py::object self, const py::object& key) {
            self.cast<PyPipeline&>().get(key);
            return self;
          },
          py::arg("key"))
      .def(
          "put",
          [](py::object self, const py::object& key, const py::object& value, Durability d) {
            self.cast<PyPipeline&>().put(key, value, d);
            return self;
          },
          py::arg("key"), py::arg("value"), py::arg("durability") = Durability::kSync)
      .def(
          "delete",
          [](py::object self, const py::object& key, Durability d) {
            self.cast<PyPipeline&>().del(key, d);
            return self;
          },
          py::arg("key"), py::arg("durability") = Durability::kSync)
      .def("execute", &PyPipeline::execute,
           "Runs every gathered operation and returns their results in order: get, the value "
           "or None; put, None; delete, whether the key had a value. Raises the first error "
           "if raise_on_error (after all have run), else puts the exception in its place. "
           "The pipeline is empty again afterwards.",
           py::arg("raise_on_error") = true)
      .def("__len__", &PyPipeline::size);

  py::class_<PyClient, std::shared_ptr<PyClient>>(
      m, "Client",
      "A session with ringdbd (ringdb.connect). Safe to share between threads. A context "
      "manager: close() at the end of the block.")
      .def("close", &PyClient::close,
           "Ends the session (the daemon aborts its open transactions) once the transactions "
           "and cursors made from it are gone too; no call through this Client after it.")
      .def("ping", &PyClient::ping)
      .def("get", &PyClient::get, "The key's value, or None.", py::arg("key"))
      .def("get_with_sequence", &PyClient::get_with_sequence,
           "(value, commit sequence number of its version), or None.", py::arg("key"))
      .def("put", &PyClient::put, py::arg("key"), py::arg("value"),
           py::arg("durability") = Durability::kSync)
      .def("delete", &PyClient::del, "True if the key had a value.", py::arg("key"),
           py::arg("durability") = Durability::kSync)
      .def("scan", &PyClient::scan,
           "A Cursor over keys in [start, end) with the prefix, in a snapshot taken now (held "
           "by a read-only transaction until the cursor ends).",
           py::arg("start") = py::none(), py::arg("end") = py::none(),
           py::arg("prefix") = py::none(), py::arg("reverse") = false, py::arg("page_items") = 1000)
      .def("transaction", &PyClient::begin,
           "Begins a Transaction (snapshot isolation, first updater wins).",
           py::arg("read_only") = false, py::arg("durability") = Durability::kSync)
      .def("run_transaction", &PyClient::run_transaction,
           "Calls fn(txn) in a new transaction and commits it; on ConflictError runs it again "
           "from the start, after a backoff, up to `attempts` times. Returns fn's result.",
           py::arg("fn"), py::arg("attempts") = 16, py::arg("read_only") = false,
           py::arg("durability") = Durability::kSync)
      .def(
          "pipeline",
          [](const std::shared_ptr<PyClient>& self) { return std::make_unique<PyPipeline>(self); },
          "A new Pipeline of this client.")
      .def("get_many", &PyClient::get_many,
           "The values of many keys (None where absent), read with many gets in flight.",
           py::arg("keys"))
      .def("put_many", &PyClient::put_many,
           "Puts many (key, value) pairs, each its own commit, with many in flight.",
           py::arg("items"), py::arg("durability") = Durability::kSync)
      .def("watch", &PyClient::watch,
           "Starts a watch of keys in [start, end) with the prefix: every commit that changes "
           "them, whole, in commit order, from `position` (None: from now; 0: the oldest the "
           "log holds; an event's sequence: every commit after it). Returns (id, position). "
           "Raises Error with status COMPACTED (and oldest_position) if the log no longer "
           "holds that position.",
           py::arg("start") = py::none(), py::arg("end") = py::none(),
           py::arg("prefix") = py::none(), py::arg("position") = py::none(),
           py::arg("keys_only") = false)
      .def("unwatch", &PyClient::unwatch, "Ends a watch; False if there was none.", py::arg("id"))
      .def("next_event", &PyClient::next_event,
           "The next WatchEvent of any of this client's watches, or None after `timeout` "
           "seconds (None: wait without limit).",
           py::arg("timeout") = py::none())
      .def_property("timeout", &PyClient::timeout, &PyClient::set_timeout,
                    "Seconds a call may wait for the daemon (None: no limit). Past it the call "
                    "raises TimedOutError; the request still runs in the daemon (a write that "
                    "timed out may have happened).")
      .def_property_readonly("daemon_version", &PyClient::daemon_version)
      .def_property_readonly("session_id", &PyClient::session_id)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyClient& c, const py::object&, const py::object&, const py::object&) {
        c.close();
        return false;
      });

  m.def("connect", &PyClient::connect,
        "Connects to ringdbd at `socket` (None: $RINGDB_SOCKET, else the default path). Raises "
        "ConnectError with the reason. timeout: as Client.timeout.",
        py::arg("socket") = py::none(), py::arg("daemon_uids") = std::vector<uint32_t>(),
        py::arg("keep_threads_off_worker_cpus") = true, py::arg("timeout") = py::none());
}
