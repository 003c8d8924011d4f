/* ringdb's status codes: one table for every side. The wire's codes (shm::WireStatus), the
 * engine's (daemon/engine/status.h), the C++ API's (ringdb::Status) and the C ABI's
 * (ringdb_status; this file is installed as <ringdb/status_codes.h>) are all made from the
 * lists below, with their names. The numbers are part of the wire format and of the C ABI:
 * a code keeps its number for ever.
 *
 * Each entry: X(NAME, CamelName, number, "what it means"). Plain C, no includes: the C ABI's
 * header includes it.
 */
#ifndef RINGDB_STATUS_CODES_H
#define RINGDB_STATUS_CODES_H

/* The engine's results (0-7): the daemon and the clients know them too. */
#define RINGDB_ENGINE_STATUS_CODES(X)                                                      \
  X(OK, Ok, 0, "success")                                                                  \
  X(NOT_FOUND, NotFound, 1, "no visible value for the key")                                \
  X(CONFLICT, Conflict, 2,                                                                 \
    "write-write conflict (first updater wins); the transaction can only abort")           \
  X(OUT_OF_MEMORY, OutOfMemory, 3,                                                         \
    "the daemon's memory limit for stored data; reads and deletes still work")             \
  X(TOO_LARGE, TooLarge, 4,                                                                \
    "a key, a value or a transaction's log record over its limit (the answer says which)") \
  X(INVALID_ARGUMENT, InvalidArgument, 5, "e.g. a write in a read-only transaction")       \
  X(TOO_MANY_VIEWS, TooManyViews, 6, "the read-view table is full")                        \
  X(TRANSACTION_DONE, TransactionDone, 7, "the transaction already failed; only abort is useful")

/* The daemon's service (8-31): with the engine's, every code that travels on the wire. */
#define RINGDB_SERVICE_STATUS_CODES(X)                                                           \
  X(INVALID_REQUEST, InvalidRequest, 8, "a malformed request (opcode, flags, length, offset)")   \
  X(SHUTTING_DOWN, ShuttingDown, 9, "the daemon is stopping; the request was not executed")      \
  X(TOO_MANY_TRANSACTIONS, TooManyTransactions, 10, "the session's open-transaction limit")      \
  X(TRANSACTION_BUSY, TransactionBusy, 11, "another request of the same transaction is running") \
  X(RESPONSE_AREA_FULL, ResponseAreaFull, 12,                                                    \
    "the result did not fit in the response area now; retry later")                              \
  X(UNKNOWN_TRANSACTION, UnknownTransaction, 13,                                                 \
    "the handle names no open transaction of this session")                                      \
  X(DISK_FULL, DiskFull, 14,                                                                     \
    "the commit could not be written to the log (no space); it was aborted")                     \
  X(TRX_TOO_OLD, TrxTooOld, 15,                                                                  \
    "the transaction was open longer than --transaction-age-max-ms and was aborted; its handle " \
    "answers this from then on")                                                                 \
  X(CONDITION_FAILED, ConditionFailed, 16,                                                       \
    "a conditional batch's condition did not hold; nothing was written (the answer says which)") \
  X(COMPACTED, Compacted, 17,                                                                    \
    "a watch's start is no longer in the log (the answer gives the oldest position it holds)")   \
  X(TOO_MANY_WATCHES, TooManyWatches, 18, "the session's or the daemon's watch limit")

/* The client library's own (32 and up): never on the wire. */
#define RINGDB_CLIENT_STATUS_CODES(X)                                                       \
  X(RING_FULL, RingFull, 32, "try-submit: the core's request ring is full")                 \
  X(TOO_MANY_IN_FLIGHT, TooManyInFlight, 33, "try-submit: every request context is in use") \
  X(DISCONNECTED, Disconnected, 34, "the daemon went away (or detached the session)")       \
  X(PERMISSION_DENIED, PermissionDenied, 35, "the daemon does not allow this user")         \
  X(TOO_MANY_SESSIONS, TooManySessions, 36, "the daemon's session limit")                   \
  X(PROTOCOL_MISMATCH, ProtocolMismatch, 37,                                                \
    "library and daemon speak different protocol versions")                                 \
  X(CONNECT_FAILED, ConnectFailed, 38, "no daemon at the socket, or a system error")        \
  X(UNTRUSTED_DAEMON, UntrustedDaemon, 39,                                                  \
    "the process behind the socket runs as a user this client does not trust")              \
  X(TIMED_OUT, TimedOut, 40, "no watch event came within the time given")

/* Every code on the wire. */
#define RINGDB_WIRE_STATUS_CODES(X) RINGDB_ENGINE_STATUS_CODES(X) RINGDB_SERVICE_STATUS_CODES(X)
/* Every code a client sees. */
#define RINGDB_ALL_STATUS_CODES(X) RINGDB_WIRE_STATUS_CODES(X) RINGDB_CLIENT_STATUS_CODES(X)

#endif /* RINGDB_STATUS_CODES_H */
