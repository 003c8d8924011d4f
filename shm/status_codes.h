/* ringdb's status codes: one table for every side. The wire's codes (shm::WireStatus), the
 * engine's (daemon/engine/status.h), the C++ API's (ringdb::Status) and the C ABI's
 * (ringdb_status; this file is installed as <ringdb/status_codes.h>) are all made from the
 * lists below, with their names. The numbers are part of the wire format and of the C ABI:
 * a code keeps its number for ever.
 *
 * Each entry: X(NAME, CamelName, number, "what it means"), the sentence a person reads: the
 * library's ringdb_status_message() / ringdb::status_message(), ringdb-cli's errors, and
 * docs/PROTOCOL.md section 4. Plain C, no includes: the C ABI's header includes it.
 */
#ifndef RINGDB_STATUS_CODES_H
#define RINGDB_STATUS_CODES_H

/* The engine's results (0-7): the daemon and the clients know them too. */
#define RINGDB_ENGINE_STATUS_CODES(X)                                                             \
  X(OK, Ok, 0, "success")                                                                         \
  X(NOT_FOUND, NotFound, 1, "the key has no value")                                               \
  X(CONFLICT, Conflict, 2,                                                                        \
    "another transaction wrote this key first (first updater wins); only abort is useful now")    \
  X(OUT_OF_MEMORY, OutOfMemory, 3,                                                                \
    "the daemon's memory limit for data is reached; reads and deletes still work")                \
  X(TOO_LARGE, TooLarge, 4,                                                                       \
    "a key, a value or the transaction's writes are larger than the daemon allows (the answer "   \
    "says which)")                                                                                \
  X(INVALID_ARGUMENT, InvalidArgument, 5,                                                         \
    "the daemon rejected an argument (e.g. an empty key, or a write in a read-only transaction)") \
  X(TOO_MANY_VIEWS, TooManyViews, 6, "the daemon's read-view table is full; retry later")         \
  X(TRANSACTION_DONE, TransactionDone, 7,                                                         \
    "the transaction had already failed and has been aborted; only abort is useful")

/* The daemon's service (8-31): with the engine's, every code that travels on the wire. */
#define RINGDB_SERVICE_STATUS_CODES(X)                                                           \
  X(INVALID_REQUEST, InvalidRequest, 8,                                                          \
    "the daemon rejected the request as malformed (opcode, flags, a length or offset, a limit)") \
  X(SHUTTING_DOWN, ShuttingDown, 9, "the daemon is shutting down; the request did not run")      \
  X(TOO_MANY_TRANSACTIONS, TooManyTransactions, 10,                                              \
    "this session has as many open transactions as the daemon allows")                           \
  X(TRANSACTION_BUSY, TransactionBusy, 11, "the transaction is running another request")         \
  X(RESPONSE_AREA_FULL, ResponseAreaFull, 12,                                                    \
    "too much result data in flight in this session's response area; retry")                     \
  X(UNKNOWN_TRANSACTION, UnknownTransaction, 13,                                                 \
    "the handle names no open transaction of this session")                                      \
  X(DISK_FULL, DiskFull, 14,                                                                     \
    "the daemon's disk is full: the commit could not be logged and was aborted")                 \
  X(TRX_TOO_OLD, TrxTooOld, 15,                                                                  \
    "the transaction was open longer than the daemon allows (--transaction-age-max-ms) and was " \
    "aborted")                                                                                   \
  X(CONDITION_FAILED, ConditionFailed, 16,                                                       \
    "a condition of the batch did not hold; nothing was written (the answer says which)")        \
  X(COMPACTED, Compacted, 17,                                                                    \
    "the log no longer holds that position (the answer gives the oldest it holds): read a "      \
    "snapshot, then watch from now")                                                             \
  X(TOO_MANY_WATCHES, TooManyWatches, 18,                                                        \
    "this session, or the daemon, has as many watches as it allows")

/* The client library's own (32 and up): never on the wire. */
#define RINGDB_CLIENT_STATUS_CODES(X)                                                    \
  X(RING_FULL, RingFull, 32, "the request ring is full (try-submit)")                    \
  X(TOO_MANY_IN_FLIGHT, TooManyInFlight, 33,                                             \
    "every request context of the session is in use (try-submit)")                       \
  X(DISCONNECTED, Disconnected, 34,                                                      \
    "the connection to the daemon is lost (it stopped, or detached the session)")        \
  X(PERMISSION_DENIED, PermissionDenied, 35, "the daemon does not allow this user")      \
  X(TOO_MANY_SESSIONS, TooManySessions, 36, "the daemon has reached its session limit")  \
  X(PROTOCOL_MISMATCH, ProtocolMismatch, 37,                                             \
    "the daemon speaks another protocol version than this library")                      \
  X(CONNECT_FAILED, ConnectFailed, 38,                                                   \
    "no daemon answers at the socket (or a system error; the connect error says which)") \
  X(UNTRUSTED_DAEMON, UntrustedDaemon, 39,                                               \
    "the process at the socket runs as a user this client does not trust")               \
  X(TIMED_OUT, TimedOut, 40,                                                             \
    "nothing came within the time given (a request that timed out may still run)")

/* Every code on the wire. */
#define RINGDB_WIRE_STATUS_CODES(X) RINGDB_ENGINE_STATUS_CODES(X) RINGDB_SERVICE_STATUS_CODES(X)
/* Every code a client sees. */
#define RINGDB_ALL_STATUS_CODES(X) RINGDB_WIRE_STATUS_CODES(X) RINGDB_CLIENT_STATUS_CODES(X)

#endif /* RINGDB_STATUS_CODES_H */
