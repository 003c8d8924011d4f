/* libringdb's C ABI: the same calls as the C++ API (ringdb/client.h), for other languages.
 *
 * Every function returns a ringdb_status; none throws or aborts on an operating error.
 * Memory returned to the caller (values, scan items) is allocated with malloc and released
 * with ringdb_free / ringdb_items_free.
 *
 * Thread safety: a ringdb_client may be used by many threads at once. A ringdb_txn is used
 * by one thread at a time (it may move between threads).
 */
#ifndef RINGDB_RINGDB_H
#define RINGDB_RINGDB_H

#include <stddef.h>
#include <stdint.h>

#include "ringdb/status_codes.h"
#include "ringdb/version.h"

#ifdef __cplusplus
extern "C" {
#endif
/* C names (RINGDB_OK, ringdb_status), not the C++ code's: */
/* NOLINTBEGIN(readability-identifier-naming) */

/* Codes 0-31 come from the daemon (the wire's status codes); 32 and up from the library.
 * Each code's number and meaning: <ringdb/status_codes.h>. */
#define RINGDB_C_STATUS(name, camel, number, message) RINGDB_##name = number,
typedef enum ringdb_status { RINGDB_ALL_STATUS_CODES(RINGDB_C_STATUS) } ringdb_status;
#undef RINGDB_C_STATUS

typedef struct ringdb_client ringdb_client;
typedef struct ringdb_txn ringdb_txn;

typedef struct ringdb_item {
  char* key;
  size_t key_len;
  char* value;
  size_t value_len;
} ringdb_item;

typedef struct ringdb_scan_options {
  const char* start; /* keys >= start; NULL or length 0: unbounded */
  size_t start_len;
  const char* end; /* keys < end; NULL or length 0: unbounded */
  size_t end_len;
  const char* prefix; /* keys that begin with prefix; NULL or length 0: all */
  size_t prefix_len;
  uint32_t limit; /* at most this many items, >= 1 */
  int reverse;    /* nonzero: descending from the largest */
} ringdb_scan_options;

/* The name of a status, e.g. "NOT_FOUND" (static storage). */
const char* ringdb_status_name(ringdb_status status);
/* What a status means, in a sentence for a person, e.g. for RINGDB_CONFLICT "another
 * transaction wrote this key first (first updater wins); only abort is useful now" (static
 * storage; every code's sentence: docs/PROTOCOL.md section 4 and docs/CLIENT.md). */
const char* ringdb_status_message(ringdb_status status);

/* This library's version, "MAJOR.MINOR.PATCH" (static storage), and its parts when the
 * pointers are not NULL. <ringdb/version.h> has the version a program was compiled against. */
const char* ringdb_version(int* major, int* minor, int* patch);

/* What the last answer this thread received exceeded, when it was RINGDB_TOO_LARGE: which
 * part (key, value, the transaction's log record) and the daemon's limit, in a sentence; ""
 * otherwise. Valid until this thread's next call. */
const char* ringdb_last_error_detail(void);

/* Connects to the daemon at socket_path (NULL: $RINGDB_SOCKET, else the default path).
 * On failure *out is NULL and, if error is not NULL, a reason is written to it (at most
 * error_len bytes, NUL-terminated). A thread that waits for an answer is moved off the
 * daemon's worker CPUs once, as in C++ (ConnectOptions::keep_threads_off_worker_cpus in
 * ringdb/client.h); RINGDB_KEEP_OFF_WORKER_CPUS=0 in the environment turns that off. */
ringdb_status ringdb_connect(const char* socket_path, ringdb_client** out, char* error,
                             size_t error_len);
/* Closes the session: open transactions are aborted by the daemon. Accepts NULL. */
void ringdb_close(ringdb_client* client);
/* The daemon's software version as it said when the session began, e.g. "0.1.0" ("" for
 * NULL). Valid until ringdb_close(client). */
const char* ringdb_daemon_version(const ringdb_client* client);
/* A limit on each wait for the daemon (an answer, or a free request slot), in milliseconds;
 * 0 (the default): none. Past it a call returns RINGDB_TIMED_OUT, and the request is
 * abandoned, not cancelled: the daemon still runs it (a write that timed out may have
 * happened; a transaction answers RINGDB_TRANSACTION_BUSY until the daemon is done with it).
 * RINGDB_OK, or RINGDB_INVALID_ARGUMENT (NULL client, negative timeout). */
ringdb_status ringdb_set_timeout(ringdb_client* client, int64_t timeout_ms);

ringdb_status ringdb_ping(ringdb_client* client);

/* Autocommit operations. A value from get is malloc'ed: release it with ringdb_free. */
ringdb_status ringdb_get(ringdb_client* client, const char* key, size_t key_len, char** value,
                         size_t* value_len);
ringdb_status ringdb_put(ringdb_client* client, const char* key, size_t key_len, const char* value,
                         size_t value_len);
ringdb_status ringdb_del(ringdb_client* client, const char* key, size_t key_len);
/* Items are malloc'ed: release with ringdb_items_free(items, count). *truncated (if not
 * NULL) is set when the range holds more keys than were returned (the limit or the daemon's
 * per-answer byte limit stopped the scan): scan again from just after the last key. */
ringdb_status ringdb_scan(ringdb_client* client, const ringdb_scan_options* options,
                          ringdb_item** items, size_t* count, int* truncated);

/* Transactions (snapshot isolation). */
ringdb_status ringdb_begin(ringdb_client* client, int read_only, ringdb_txn** out);
ringdb_status ringdb_txn_get(ringdb_txn* txn, const char* key, size_t key_len, char** value,
                             size_t* value_len);
ringdb_status ringdb_txn_put(ringdb_txn* txn, const char* key, size_t key_len, const char* value,
                             size_t value_len);
ringdb_status ringdb_txn_del(ringdb_txn* txn, const char* key, size_t key_len);
ringdb_status ringdb_txn_scan(ringdb_txn* txn, const ringdb_scan_options* options,
                              ringdb_item** items, size_t* count, int* truncated);

/* Cursors (ringdb::Cursor in client.h): iterate over a range in key order (or reverse), in one
 * snapshot, fetched from the daemon page_items at a time; the daemon's per-answer limits are
 * paged through transparently. One thread at a time per cursor. */
typedef struct ringdb_cursor ringdb_cursor;
typedef struct ringdb_cursor_options {
  const char* start; /* as ringdb_scan_options */
  size_t start_len;
  const char* end;
  size_t end_len;
  const char* prefix;
  size_t prefix_len;
  int reverse;         /* nonzero: descending */
  uint32_t page_items; /* items per request to the daemon; 0: 1000 */
} ringdb_cursor_options;
/* A cursor over a snapshot taken now. It holds a read-only transaction of its own until
 * closed: one of the session's open transactions, ended by the daemon past
 * --transaction-age-max-ms (then ringdb_cursor_next returns RINGDB_TRX_TOO_OLD). RINGDB_OK,
 * RINGDB_INVALID_ARGUMENT, or ringdb_begin's errors. */
ringdb_status ringdb_cursor_open(ringdb_client* client, const ringdb_cursor_options* options,
                                 ringdb_cursor** out);
/* A cursor in txn's snapshot; txn must stay open while it is used, and is used by it only
 * while ringdb_cursor_next runs. RINGDB_OK, RINGDB_INVALID_ARGUMENT,
 * RINGDB_UNKNOWN_TRANSACTION. */
ringdb_status ringdb_txn_cursor_open(ringdb_txn* txn, const ringdb_cursor_options* options,
                                     ringdb_cursor** out);
/* The next item: RINGDB_OK with *key and *value pointing into the cursor (not NUL-terminated;
 * valid until the cursor's next call), RINGDB_NOT_FOUND at the end of the range, or the error
 * that ended the cursor (returned again by every later call). Output pointers may be NULL. */
ringdb_status ringdb_cursor_next(ringdb_cursor* cursor, const char** key, size_t* key_len,
                                 const char** value, size_t* value_len);
/* Releases the cursor (and its own snapshot). Accepts NULL. */
void ringdb_cursor_close(ringdb_cursor* cursor);

/* Both release txn, whatever the outcome. */
ringdb_status ringdb_commit(ringdb_txn* txn);
void ringdb_abort(ringdb_txn* txn);

/* Waits before attempt number `attempt` (0, 1, ...) of a transaction that ended in
   RINGDB_CONFLICT: yields the processor for the first few attempts, then sleeps a random time
   that doubles with each attempt up to about 1 ms. Without it, retries in a tight loop can
   all meet the same writer, which may be descheduled between its write and its commit. */
void ringdb_conflict_backoff(unsigned attempt);

/* How durable a commit is when it is answered (ringdb::Durability in client.h). */
typedef enum ringdb_durability {
  RINGDB_SYNC = 0,  /* its log record is on disk (the default) */
  RINGDB_ASYNC = 1, /* queued for the log: visible at once, lost if the daemon dies first */
  RINGDB_NONE = 2   /* not logged: lost at the next restart */
} ringdb_durability;
/* ringdb_commit with a durability level; releases txn whatever the outcome. */
ringdb_status ringdb_commit_durability(ringdb_txn* txn, ringdb_durability durability);
/* ringdb_put and ringdb_del (which are RINGDB_SYNC) with a durability level. */
ringdb_status ringdb_put_durability(ringdb_client* client, const char* key, size_t key_len,
                                    const char* value, size_t value_len,
                                    ringdb_durability durability);
ringdb_status ringdb_del_durability(ringdb_client* client, const char* key, size_t key_len,
                                    ringdb_durability durability);

/* Conditional batches (ringdb::Batch in client.h): conditions on keys and puts and deletes,
 * applied atomically in one request if every condition holds. At most
 * RINGDB_BATCH_ENTRIES_MAX entries, conditions and operations together. */
#define RINGDB_BATCH_ENTRIES_MAX 1024
typedef struct ringdb_batch ringdb_batch;
typedef struct ringdb_batch_result {
  uint64_t commit_sequence;     /* RINGDB_OK: the commit's place in the commit order */
  uint32_t failed_condition;    /* RINGDB_CONDITION_FAILED: which, counting from 0 */
  uint64_t failed_key_sequence; /* RINGDB_CONDITION_FAILED: its key's value's; 0 if none */
} ringdb_batch_result;
/* An empty batch; release it with ringdb_batch_free (which accepts NULL). */
ringdb_status ringdb_batch_new(ringdb_batch** out);
void ringdb_batch_free(ringdb_batch* batch);
/* Conditions: the key has no value; has one; has exactly `value`; has a value no commit
 * changed after commit sequence number `csn` (ringdb_get_sequence, a batch's or a commit's). */
ringdb_status ringdb_batch_if_absent(ringdb_batch* batch, const char* key, size_t key_len);
ringdb_status ringdb_batch_if_present(ringdb_batch* batch, const char* key, size_t key_len);
ringdb_status ringdb_batch_if_equals(ringdb_batch* batch, const char* key, size_t key_len,
                                     const char* value, size_t value_len);
ringdb_status ringdb_batch_if_unchanged_since(ringdb_batch* batch, const char* key, size_t key_len,
                                              uint64_t csn);
/* Operations, applied in order. */
ringdb_status ringdb_batch_put(ringdb_batch* batch, const char* key, size_t key_len,
                               const char* value, size_t value_len);
ringdb_status ringdb_batch_del(ringdb_batch* batch, const char* key, size_t key_len);
/* Applies the batch: RINGDB_OK, RINGDB_CONDITION_FAILED (nothing written), RINGDB_CONFLICT
 * (a key is held by a client's transaction in progress; retry), ... `result` may be NULL.
 * The batch is left as it was: it may be applied again. */
ringdb_status ringdb_apply(ringdb_client* client, const ringdb_batch* batch,
                           ringdb_durability durability, ringdb_batch_result* result);
/* ringdb_get, also giving the commit sequence number of the value's version. */
ringdb_status ringdb_get_sequence(ringdb_client* client, const char* key, size_t key_len,
                                  char** value, size_t* value_len, uint64_t* commit_sequence);

/* Operations kept in flight (ringdb::Operation in client.h): made by a ringdb_op_* call,
 * run with ringdb_submit then ringdb_wait or ringdb_poll, or many at once with ringdb_execute;
 * read once complete; reusable (submit it again) and freed with ringdb_op_free. An op belongs
 * to the library from its submit until its completion: neither read nor freed meanwhile. The
 * key and value are copied into the op. The constructors return RINGDB_OK,
 * RINGDB_INVALID_ARGUMENT (NULL out, or NULL data with a length) or RINGDB_OUT_OF_MEMORY. */
typedef struct ringdb_op ringdb_op;
ringdb_status ringdb_op_get(const char* key, size_t key_len, ringdb_op** out);
ringdb_status ringdb_op_put(const char* key, size_t key_len, const char* value, size_t value_len,
                            ringdb_durability durability, ringdb_op** out);
ringdb_status ringdb_op_del(const char* key, size_t key_len, ringdb_durability durability,
                            ringdb_op** out);
ringdb_status ringdb_op_scan(const ringdb_scan_options* options, ringdb_op** out);
/* Runs the op inside txn instead of autocommit (before its submit; txn must stay open until
 * the op completes). RINGDB_OK or RINGDB_INVALID_ARGUMENT. */
ringdb_status ringdb_op_set_txn(ringdb_op* op, const ringdb_txn* txn);
/* Accepts NULL; never an op in flight. */
void ringdb_op_free(ringdb_op* op);

/* Sends op and returns once it is in a ring, waiting while the ring or the session's in-flight
 * limit is full (ringdb_try_submit returns RINGDB_RING_FULL or RINGDB_TOO_MANY_IN_FLIGHT
 * instead). RINGDB_OK; RINGDB_INVALID_ARGUMENT (NULL, or op in flight); RINGDB_TOO_LARGE (its
 * key and value do not fit the session's request area); RINGDB_DISCONNECTED. */
ringdb_status ringdb_submit(ringdb_client* client, ringdb_op* op);
ringdb_status ringdb_try_submit(ringdb_client* client, ringdb_op* op);
/* Waits until op is complete and returns its status (what ringdb_op_status gives). */
ringdb_status ringdb_wait(ringdb_client* client, ringdb_op* op);
/* 1 if op is complete (then as after ringdb_wait), 0 if its answer has not come yet. */
int ringdb_poll(ringdb_client* client, ringdb_op* op);
/* Runs count ops (made, not submitted) and returns when all are complete, keeping as many in
 * flight as the session allows: autocommit ops overlap (in no promised order), ops inside a
 * transaction run one after another. Each op's ringdb_op_status says how it went. Returns
 * RINGDB_OK, or the error that ended the session (then the status of every op not complete);
 * RINGDB_INVALID_ARGUMENT, running none, if an op is NULL or in flight. */
ringdb_status ringdb_execute(ringdb_client* client, ringdb_op* const* ops, size_t count);

/* A descriptor an event loop can wait on (epoll, poll, select): an eventfd that becomes
 * readable when an op submitted with ringdb_submit or ringdb_try_submit after the first call
 * completes, or when the session ends; then read it (8 bytes, to re-arm) and ringdb_poll the
 * ops in flight (a wake with none complete is possible: poll again later). The same
 * descriptor on every call, owned by the client (closed by ringdb_close). A library thread
 * follows the ops (started by the first call). RINGDB_OK, RINGDB_INVALID_ARGUMENT,
 * RINGDB_CONNECT_FAILED (no descriptor left). */
ringdb_status ringdb_completion_fd(ringdb_client* client, int* fd);

/* A complete op's results, valid until it is submitted again or freed. */
ringdb_status ringdb_op_status(const ringdb_op* op);
/* A get's value (RINGDB_OK): *value points into the op (NUL-terminated after len bytes). */
ringdb_status ringdb_op_value(const ringdb_op* op, const char** value, size_t* value_len);
/* A scan's items: how many, the i-th (pointers into the op), and whether more keys exist. */
size_t ringdb_op_item_count(const ringdb_op* op);
ringdb_status ringdb_op_item(const ringdb_op* op, size_t i, const char** key, size_t* key_len,
                             const char** value, size_t* value_len);
int ringdb_op_truncated(const ringdb_op* op);
/* A get: the commit sequence number of the value's version. A put or del with RINGDB_SYNC:
 * the log position after its commit (as a watch event's sequence); 0 otherwise. */
uint64_t ringdb_op_sequence(const ringdb_op* op);
uint64_t ringdb_op_log_position(const ringdb_op* op);

/* Watches (ringdb::WatchOptions and WatchEvent in client.h; docs/PROTOCOL.md, "Watches"):
 * the commits that change a key range, whole, in commit order, from a position in the
 * daemon's log that stays valid across restarts. */
#define RINGDB_WATCH_FROM_NOW UINT64_MAX
typedef struct ringdb_watch_options {
  const char* start; /* as ringdb_scan_options */
  size_t start_len;
  const char* end;
  size_t end_len;
  const char* prefix;
  size_t prefix_len;
  uint64_t from; /* RINGDB_WATCH_FROM_NOW, 0 (the oldest the log holds), or an event's sequence */
  int keys_only; /* nonzero: events without values */
} ringdb_watch_options;
typedef struct ringdb_change {
  int deleted;
  char* key;
  size_t key_len;
  char* value; /* empty for a delete, keys_only, or value_omitted */
  size_t value_len;
  int value_omitted; /* larger than a quarter of the event ring: read it with ringdb_get */
} ringdb_change;
typedef enum ringdb_watch_event_type {
  RINGDB_EVENT_COMMIT = 0,    /* a commit's changes in the watch's range */
  RINGDB_EVENT_COMPACTED = 1, /* the watch ended: the log no longer holds its next commit */
  RINGDB_EVENT_ENDED = 2      /* the watch ended: the daemon could not read its log on */
} ringdb_watch_event_type;
typedef struct ringdb_watch_event {
  ringdb_watch_event_type type;
  uint32_t watch;
  uint64_t
      sequence; /* COMMIT: watch from it to get every later commit; COMPACTED: the oldest kept */
  size_t change_count;
  ringdb_change* changes;
} ringdb_watch_event;
/* RINGDB_OK with *id and *position (may be NULL), RINGDB_COMPACTED (*position: the oldest kept),
 * RINGDB_INVALID_ARGUMENT, RINGDB_TOO_MANY_WATCHES. */
ringdb_status ringdb_watch(ringdb_client* client, const ringdb_watch_options* options, uint32_t* id,
                           uint64_t* position);
ringdb_status ringdb_unwatch(ringdb_client* client, uint32_t id);
/* Waits up to timeout_ms (negative: without limit) for the next event of any watch of the
 * client: RINGDB_OK with *out (release it with ringdb_watch_event_free), RINGDB_TIMED_OUT, or
 * the session's end. */
ringdb_status ringdb_next_event(ringdb_client* client, int64_t timeout_ms,
                                ringdb_watch_event** out);
void ringdb_watch_event_free(ringdb_watch_event* event);

void ringdb_free(void* p);
void ringdb_items_free(ringdb_item* items, size_t count);

/* NOLINTEND(readability-identifier-naming) */
#ifdef __cplusplus
}
#endif

#endif /* RINGDB_RINGDB_H */
