// The shared-memory wire format between libringdb and ringdbd: segment, ring and request
// context layouts, opcodes and status codes. docs/PROTOCOL.md describes the same layout in
// prose for writers of other clients; a change here changes kProtocolVersion.
//
// Three shared objects per connection (all passed over the session socket with SCM_RIGHTS,
// their names removed before the client sees them):
//   - the session segment (read-write for both; created per session): header, one request
//     ring per CPU, the request contexts, the request data area and the response data area;
//   - the board (read-only for clients; one per daemon): each worker's need-wakeup flag and
//     the ring -> worker map;
//   - the doorbells (read-write; one per daemon): each worker's futex word, bumped by a
//     client that found the worker's need-wakeup flag set.
//
// Every struct here lives in shared memory: fixed-size fields, explicit padding, sizes and
// offsets checked by static_assert. Multi-byte fields are in the host's byte order (the
// peers share a host).
//
// Trust: the daemon never trusts anything it reads from a session segment; it keeps its own
// copy of the geometry (SegmentGeometry) and validates every index, length and opcode
// (shm/request.h). A client trusts the daemon.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/status_codes.h"

namespace ringdb::shm {

inline constexpr uint32_t kSegmentMagic = 0x5244'4253;  // "RDBS"
inline constexpr uint32_t kBoardMagic = 0x5244'4242;    // "RDBB"
inline constexpr uint32_t kProtocolVersion = 2;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kPage = 4096;

// Bounds that sizes and indexes are checked against.
inline constexpr uint32_t kRingsMax = 1024;         // CPUs a board can describe
inline constexpr uint32_t kWorkersMax = 256;        // workers a board can describe
inline constexpr uint32_t kContextsMax = 65536;     // in-flight requests per session
inline constexpr uint32_t kRingSlotsMax = 65536;    // per ring; a power of two
inline constexpr uint32_t kDataAreaMax = 1u << 30;  // each data area, bytes
inline constexpr uint32_t kDataAlign = 64;          // data-area blocks start on this boundary

enum class Opcode : uint8_t {
  kPing = 1,      // no payload; answers kOk
  kGet = 2,       // key                      -> value
  kPut = 3,       // key, value
  kDel = 4,       // key                      -> kNotFound if no visible value
  kScan = 5,      // start, end, prefix; limit -> items
  kBegin = 6,     // flags: kFlagReadOnly     -> txn
  kCommit = 7,    // txn                      -> csn
  kAbort = 8,     // txn
  kBatch = 9,     // a conditional batch (shm/batch.h): conditions, puts and deletes -> csn
  kWatch = 10,    // start, end, prefix; txn: from -> watch id (count), start position (u64)
  kUnwatch = 11,  // limit: the watch id
};
inline constexpr uint8_t kOpcodeMax = 11;

// Request flags.
inline constexpr uint8_t kFlagExternal = 1u << 0;  // payload in the request area at data_offset
inline constexpr uint8_t kFlagReverse = 1u << 1;   // scan: descending
inline constexpr uint8_t kFlagReadOnly = 1u << 2;  // begin: a read-only transaction
// commit, autocommit put and del, batch: how durable before the answer (none of them: sync, the
// record on disk). Async: answered once the record is queued for the log; none: not logged.
inline constexpr uint8_t kFlagDurabilityAsync = 1u << 3;
inline constexpr uint8_t kFlagDurabilityNone = 1u << 4;
// watch: events carry keys only, no values.
inline constexpr uint8_t kFlagKeysOnly = 1u << 5;
inline constexpr uint8_t kFlagsKnown = kFlagExternal | kFlagReverse | kFlagReadOnly |
                                       kFlagDurabilityAsync | kFlagDurabilityNone | kFlagKeysOnly;
// watch: `txn` = kWatchFromNow starts at the log's current end (else `txn` is a position).
inline constexpr uint64_t kWatchFromNow = UINT64_MAX;

// Response flags.
inline constexpr uint16_t kResultExternal = 1u << 0;  // result in the response area
// scan: the range holds more keys after the last item returned (the item limit or the answer's
// byte limit stopped it); a caller goes on from just after that key.
inline constexpr uint16_t kResultTruncated = 1u << 1;

// TOO_LARGE's detail: the answer's result_count says which part was too large, result_u64 its
// limit in bytes.
enum class TooLargePart : uint32_t {
  kNone = 0,
  kKey = 1,          // a key, or a scan's start, end or prefix (--key-size-max)
  kValue = 2,        // a value (--value-size-max)
  kTransaction = 3,  // a commit's log record: everything the transaction wrote (a log segment)
  kBatch = 4,        // a batch's entries (kBatchEntriesMax)
};

// Status codes on the wire (u16): the engine's and the service's codes of the one table
// (shm/status_codes.h, which says what each means). libringdb's public Status uses the same
// numbers and adds codes that only the client produces (32 and up).
#define RINGDB_WIRE_STATUS(name, camel, number, message) k##camel = number,
enum class WireStatus : uint16_t { RINGDB_WIRE_STATUS_CODES(RINGDB_WIRE_STATUS) };
#undef RINGDB_WIRE_STATUS

// The largest code on the wire: the codes are 0..kWireStatusMax, none missing
// (tests/shm/status_codes_test.cc checks it).
#define RINGDB_WIRE_STATUS_ONE(name, camel, number, message) +1
inline constexpr uint16_t kWireStatusMax = (0 RINGDB_WIRE_STATUS_CODES(RINGDB_WIRE_STATUS_ONE)) - 1;
#undef RINGDB_WIRE_STATUS_ONE
static_assert(kWireStatusMax < 32, "codes from 32 up are the client library's");

inline const char* wire_status_name(WireStatus s) {
#define RINGDB_WIRE_STATUS_NAME(name, camel, number, message) \
  case WireStatus::k##camel:                                  \
    return #name;
  switch (s) { RINGDB_WIRE_STATUS_CODES(RINGDB_WIRE_STATUS_NAME) }
#undef RINGDB_WIRE_STATUS_NAME
  return "UNKNOWN";
}

// "ping", "get", ...; "invalid" for 0 (a request that could not be decoded).
inline const char* opcode_name(uint8_t opcode) {
  static constexpr const char* kNames[] = {"invalid", "ping",  "get",   "put",
                                           "del",     "scan",  "begin", "commit",
                                           "abort",   "batch", "watch", "unwatch"};
  return opcode <= kOpcodeMax ? kNames[opcode] : "invalid";
}

// Context states (ContextHeader::state). The client owns a context in kFree and kDone, the
// daemon in kSubmitted. kWaiting is or'ed in by a client that futex-waits on `state`.
inline constexpr uint32_t kStateFree = 0;
inline constexpr uint32_t kStateSubmitted = 1;
inline constexpr uint32_t kStateDone = 2;
inline constexpr uint32_t kStateWaiting = 1u << 31;

// The first page of a session segment. Written by the daemon before the client maps it;
// never changed afterwards except `closed`. The daemon never reads it back.
struct SegmentHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t segment_size;
  uint64_t session_id;
  uint32_t ring_count;    // one per CPU the daemon saw at start; ring = cpu % ring_count
  uint32_t ring_slots;    // per ring, a power of two
  uint64_t rings_offset;  // ring r at rings_offset + r * ring_stride
  uint64_t ring_stride;
  uint32_t context_count;  // the session's in-flight request limit
  uint32_t context_size;   // bytes per context: ContextHeader + inline data
  uint64_t contexts_offset;
  uint64_t request_area_offset;  // client-managed; payloads over the inline size
  uint64_t request_area_size;
  uint64_t response_area_offset;  // daemon-managed; results over the inline size
  uint64_t response_area_size;
  uint32_t key_size_max;
  uint32_t value_size_max;
  uint32_t scan_result_bytes_max;
  uint32_t transactions_max;  // open transactions per session
  // Set to 1 by the daemon when it detaches the session (shutdown or kill); a client checks
  // it before submitting and while waiting.
  std::atomic<uint32_t> closed;
  uint32_t event_ring_bytes;   // the event area's ring (a power of two; docs/PROTOCOL.md)
  uint64_t event_area_offset;  // EventAreaHeader, then event_ring_bytes of events
};
static_assert(sizeof(SegmentHeader) <= kPage);
static_assert(offsetof(SegmentHeader, closed) == 112);
static_assert(offsetof(SegmentHeader, event_area_offset) == 120);

// One slot of a request ring (a bounded MPSC queue after Vyukov's bounded queue): `seq`
// equals the position when the slot is free for the producer of that position and
// position + 1 once that producer published `context` in it. The consumer frees the slot by
// storing position + ring_slots.
struct RingSlot {
  std::atomic<uint64_t> seq;
  uint32_t context;
  uint32_t reserved;
};
static_assert(sizeof(RingSlot) == 16);

// A ring's header: producers (client threads) share `tail`; the consumer (the worker) keeps
// its position privately and mirrors it in `head` for diagnostics only. Separate lines so
// producers and consumer do not bounce each other's counters. `producers_waiting`, on the
// consumer's line (written by a producer only when it is about to sleep): 1 while a producer
// that found the ring full sleeps on it (futex); the consumer, having freed slots, stores 0
// and wakes them (shm/ring.h, docs/PROTOCOL.md section 3).
struct alignas(kCacheLine) RingHeader {
  alignas(kCacheLine) std::atomic<uint64_t> tail;
  alignas(kCacheLine) std::atomic<uint64_t> head;
  std::atomic<uint32_t> producers_waiting;
};
static_assert(sizeof(RingHeader) == 2 * kCacheLine);

// A request context: the header, then `inline` bytes up to context_size. The request's
// payload (key, then value or end key, then prefix) is inline unless kFlagExternal; the
// result (a value, or scan items) is inline unless kResultExternal.
struct ContextHeader {
  std::atomic<uint32_t> state;
  // Request, written by the client before it publishes the context in a ring.
  uint8_t opcode;
  uint8_t flags;
  uint16_t reserved0;
  uint32_t len[3];       // payload parts: key/start, value/end, prefix
  uint32_t limit;        // scan: item limit
  uint64_t txn;          // 0: autocommit; else a handle from kBegin
  uint32_t data_offset;  // kFlagExternal: payload offset in the request area
  uint32_t reserved1;
  // Response, written by the daemon before it stores kStateDone.
  uint16_t status;         // WireStatus
  uint16_t result_flags;   // kResult*
  uint32_t result_len;     // bytes
  uint32_t result_offset;  // kResultExternal: offset in the response area
  uint32_t result_count;   // scan: items; CONDITION_FAILED: which condition (0 = the first)
  // begin: the transaction handle; commit, batch: its commit sequence number; get: the
  // value's (its version's commit sequence number; 0 for the transaction's own write);
  // CONDITION_FAILED: the failed condition's key's (0: no value)
  uint64_t result_u64;
};
static_assert(sizeof(ContextHeader) == 64);
static_assert(offsetof(ContextHeader, len) == 8);
static_assert(offsetof(ContextHeader, txn) == 24);
static_assert(offsetof(ContextHeader, status) == 40);
static_assert(offsetof(ContextHeader, result_u64) == 56);

// Scan items in a result: repeated { u32 key_len; u32 value_len; key; value }, unpadded.
struct ItemHeader {
  uint32_t key_len;
  uint32_t value_len;
};
static_assert(sizeof(ItemHeader) == 8);

// The event area (watches, issue 16): a byte ring the daemon fills with the events of the
// session's watches and the client drains, single producer (the daemon's feed, under its
// lock), single consumer (the client). Positions count bytes from the session's start and
// never wrap; byte `pos` of the stream sits at ring offset pos % event_ring_bytes.
//   publish (daemon): write events at [write_pos, write_pos + n) (never past read_pos +
//     ring bytes), store write_pos + n (release); a full fence; if reader_waiting is 1, store
//     it 0, bump `wake` and FUTEX_WAKE it.
//   consume (client): read write_pos (acquire), read the events below it, store read_pos
//     (release). To sleep: store reader_waiting = 1, a full fence, read write_pos again, and
//     if nothing new FUTEX_WAIT on `wake` with the value read before the fence.
// The daemon keeps its own write position and checks read_pos on every publish: a read_pos
// behind the bytes it already knew consumed, or ahead of write_pos, ends the session's watches.
struct alignas(kCacheLine) EventAreaHeader {
  // The daemon's line.
  alignas(kCacheLine) std::atomic<uint64_t> write_pos;
  std::atomic<uint64_t> feed_end;  // the log position the daemon's feed has reached (for lag)
  std::atomic<uint32_t> wake;      // futex word
  // The client's line.
  alignas(kCacheLine) std::atomic<uint64_t> read_pos;
  std::atomic<uint32_t> reader_waiting;
};
static_assert(sizeof(EventAreaHeader) == 2 * kCacheLine);
static_assert(offsetof(EventAreaHeader, read_pos) == 64);

// One event in the ring: this header, the key, the value, zero padding to a multiple of 8.
// An event never wraps: a kEventPad fills the ring's end when the next event does not fit.
enum class EventType : uint8_t {
  kPad = 0,        // skip `size` bytes
  kPut = 1,        // key, value (none with kFlagKeysOnly or kEventValueOmitted)
  kDelete = 2,     // key
  kCompacted = 3,  // the watch ended: its next record left the log; sequence = the oldest kept
  kEnded = 4,      // the watch ended for another reason (its session's area was misused)
};
inline constexpr uint8_t kEventTxnFirst = 1u << 0;  // the transaction's first event for this watch
inline constexpr uint8_t kEventTxnLast = 1u << 1;   // its last: resume from `sequence` after it
inline constexpr uint8_t kEventValueOmitted = 1u << 2;  // the value was larger than ring / 4
struct EventHeader {
  uint32_t size;  // the whole event, padded: a multiple of 8
  uint8_t type;   // EventType
  uint8_t flags;  // kEvent*
  uint16_t reserved;
  uint32_t watch;  // the watch id
  uint32_t key_len;
  uint32_t value_len;
  uint32_t reserved2;
  // The log position after the commit's record: every event of one commit carries the same;
  // a watch started from it gets every later commit.
  uint64_t sequence;
};
static_assert(sizeof(EventHeader) == 32);
inline constexpr uint32_t kEventRingMin = 64u << 10;
inline constexpr uint32_t kEventRingMax = 1u << 30;

// The board: read-only for clients.
struct BoardHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t worker_count;
  uint32_t ring_count;
  std::atomic<uint32_t> shutting_down;  // 1 once the daemon stops serving
  uint32_t reserved;
  uint16_t ring_worker[kRingsMax];  // ring -> worker index
};
// Followed at board_workers_offset by one cache line per worker.
inline constexpr uint32_t kNoCore = UINT32_MAX;  // BoardWorker::core of a worker not pinned
struct alignas(kCacheLine) BoardWorker {
  std::atomic<uint32_t> need_wakeup;  // 1 while the worker sleeps or is about to
  uint32_t core;                      // the CPU it is pinned to; kNoCore: none
  uint32_t node;
  // 1 if the worker, having nothing to do, yields its CPU (sched_yield) rather than pausing:
  // its CPU is shared with clients. A client thread on that CPU then yields while it waits,
  // so that the worker runs (docs/PROTOCOL.md section 3). Set with the board, before the
  // daemon serves, for its life; 0 in daemons that predate it.
  std::atomic<uint32_t> yields_when_idle;
};
static_assert(offsetof(BoardWorker, yields_when_idle) == 12);
inline constexpr size_t kBoardWorkersOffset = 4096;
static_assert(sizeof(BoardHeader) <= kBoardWorkersOffset);
inline constexpr size_t kBoardSize = kBoardWorkersOffset + kWorkersMax * sizeof(BoardWorker);

// The doorbells: one futex word per worker, each on its own cache line.
struct alignas(kCacheLine) Doorbell {
  std::atomic<uint32_t> bell;
};
inline constexpr size_t kDoorbellsSize = kWorkersMax * sizeof(Doorbell);

// The daemon's reply to a new connection on the session socket (SOCK_SEQPACKET), sent with
// three descriptors (segment, board, doorbells) when status is kHelloOk, none otherwise.
enum class HelloStatus : uint32_t {
  kHelloOk = 0,
  kHelloPermissionDenied = 1,
  kHelloTooManySessions = 2,
  kHelloShuttingDown = 3,
  kHelloInternalError = 4,
};
struct HelloReply {
  uint32_t magic;  // kSegmentMagic
  uint32_t version;
  HelloStatus status;
  uint32_t reserved;
  uint64_t session_id;
  uint64_t segment_size;
  // NUL-terminated: the reason when status != kHelloOk; with kHelloOk, the daemon's software
  // version ("0.1.0"; empty from daemons before 0.1.0's protocol 2, which left it zero).
  char text[224];
};
static_assert(sizeof(HelloReply) == 256);

}  // namespace ringdb::shm
