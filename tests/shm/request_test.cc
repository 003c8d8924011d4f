// Request decoding (shm/request.h), the daemon's trust boundary: a table of valid requests of
// every opcode decodes to the right fields (inline and external payloads, empty scan bounds,
// reverse scans, read-only begin); each malformed request is refused with its status and a
// reason; the decoded views are copies, unaffected by later writes to the segment. Also the
// scan item encoding: encode_item/decode_items round trip, and decode_items refuses
// truncated input, lengths past the end and trailing bytes.
#include <doctest/doctest.h>
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shm/layout.h"
#include "shm/request.h"
#include "shm/wire.h"

namespace ringdb::shm {
namespace {

constexpr RequestLimits kLimits{.key_size_max = 100, .value_size_max = 3000, .scan_limit_max = 50};

// A segment image with small sizes: 4 contexts of 128 bytes (64 inline bytes), a 4 KiB
// request area. Everything else (header, ring, padding, response area) is poisoned for
// AddressSanitizer: the decoder has no business there.
class Image {
 public:
  Image() {
    SegmentSizes s;
    s.ring_count = 1;
    s.ring_slots = 2;
    s.context_count = 4;
    s.context_size = 128;
    s.request_area_size = 4096;
    s.response_area_size = 64;
    std::string error;
    REQUIRE(SegmentGeometry::compute(s, &geometry_, &error));
    bytes_.resize(geometry_.segment_size);
    poison(true);
  }
  ~Image() { poison(false); }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  const SegmentGeometry& geometry() const { return geometry_; }
  std::byte* base() { return bytes_.data(); }
  std::byte* context(uint32_t index) {
    return base() + geometry_.contexts_offset + uint64_t{index} * geometry_.sizes.context_size;
  }
  std::byte* request_area() { return base() + geometry_.request_area_offset; }

  template <typename T>
  void set(uint32_t index, size_t offset, T value) {
    std::memcpy(context(index) + offset, &value, sizeof value);
  }

 private:
  void poison(bool on) {
    std::byte* const end = base() + bytes_.size();
    const std::pair<std::byte*, std::byte*> outside[] = {
        {base(), context(0)},
        {context(geometry_.sizes.context_count), request_area()},
        {request_area() + geometry_.sizes.request_area_size, end}};
    for (const auto& range : outside) {
      const auto n = static_cast<size_t>(range.second - range.first);
      if (on) {
        ASAN_POISON_MEMORY_REGION(range.first, n);
      } else {
        ASAN_UNPOISON_MEMORY_REGION(range.first, n);
      }
    }
  }

  SegmentGeometry geometry_;
  std::vector<std::byte> bytes_;
};

// A request as a client writes it, built by chained setters. with_external() puts the
// payload in the request area at `data_offset`; otherwise it goes inline and `data_offset`
// is written as given (normally 0).
struct Spec {
  explicit Spec(uint8_t op) : opcode(op) {}
  Spec& with_flags(uint8_t f) { return flags = f, *this; }
  Spec& with_key(std::string k) { return key = std::move(k), *this; }
  Spec& with_value(std::string v) { return value = std::move(v), *this; }
  Spec& with_prefix(std::string p) { return prefix = std::move(p), *this; }
  Spec& with_limit(uint32_t l) { return limit = l, *this; }
  Spec& with_txn(uint64_t t) { return txn = t, *this; }
  Spec& with_external(bool e = true) { return external = e, *this; }
  Spec& with_data_offset(uint32_t o) { return data_offset = o, *this; }
  // A value length in the header other than the payload's.
  Spec& with_value_len(uint32_t n) { return value_len = n, *this; }

  uint8_t opcode;
  uint8_t flags = 0;
  std::string key;
  std::string value;
  std::string prefix;
  uint32_t limit = 0;
  uint64_t txn = 0;
  bool external = false;
  uint32_t data_offset = 0;
  std::optional<uint32_t> value_len;
};

void write(Image& image, uint32_t index, const Spec& spec) {
  std::memset(image.context(index), 0, image.geometry().sizes.context_size);
  const uint8_t flags = spec.external ? spec.flags | kFlagExternal : spec.flags;
  image.set(index, offsetof(ContextHeader, opcode), spec.opcode);
  image.set(index, offsetof(ContextHeader, flags), flags);
  const uint32_t len[3] = {static_cast<uint32_t>(spec.key.size()),
                           spec.value_len.value_or(static_cast<uint32_t>(spec.value.size())),
                           static_cast<uint32_t>(spec.prefix.size())};
  for (size_t i = 0; i < 3; ++i)
    image.set(index, offsetof(ContextHeader, len) + i * sizeof(uint32_t), len[i]);
  image.set(index, offsetof(ContextHeader, limit), spec.limit);
  image.set(index, offsetof(ContextHeader, txn), spec.txn);
  image.set(index, offsetof(ContextHeader, data_offset), spec.data_offset);
  const std::string payload = spec.key + spec.value + spec.prefix;
  const uint32_t area = image.geometry().sizes.request_area_size;
  if (spec.external) {
    // Write what fits: a request pointing past the area has nothing there to write.
    if (spec.data_offset < area) {
      const size_t n = std::min<size_t>(payload.size(), area - spec.data_offset);
      std::memcpy(image.request_area() + spec.data_offset, payload.data(), n);
    }
  } else {
    const size_t n = std::min<size_t>(payload.size(), image.geometry().inline_capacity());
    std::memcpy(image.context(index) + sizeof(ContextHeader), payload.data(), n);
  }
}

struct Decoded {
  WireStatus status;
  Request request;
  const char* why;
};

Decoded decode(Image& image, uint32_t index, std::vector<char>* scratch) {
  Decoded d{WireStatus::kOk, Request{}, "unset"};
  d.status =
      decode_request(image.geometry(), image.base(), index, kLimits, scratch, &d.request, &d.why);
  return d;
}

bool inside(std::string_view view, const std::vector<char>& scratch) {
  if (view.empty()) return true;
  const char* begin = scratch.data();
  return view.data() >= begin && view.data() + view.size() <= begin + scratch.size();
}

std::string text(size_t n, char first) {
  std::string s(n, first);
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(first + static_cast<char>(i % 23));
  return s;
}

uint8_t op(Opcode o) {
  return static_cast<uint8_t>(o);
}

struct ValidCase {
  const char* name;
  Spec spec;
};

std::vector<ValidCase> valid_cases() {
  const uint8_t ping = op(Opcode::kPing), get = op(Opcode::kGet), put = op(Opcode::kPut),
                del = op(Opcode::kDel), scan = op(Opcode::kScan), begin = op(Opcode::kBegin),
                commit = op(Opcode::kCommit), abort = op(Opcode::kAbort),
                batch = op(Opcode::kBatch);
  return {
      {"ping", Spec(ping)},
      {"ping external, no payload", Spec(ping).with_external().with_data_offset(128)},
      {"get inline", Spec(get).with_key("alpha")},
      {"get in a transaction", Spec(get).with_key("alpha").with_txn(42)},
      {"get external", Spec(get).with_key(text(90, 'a')).with_external().with_data_offset(64)},
      {"get key at the limit", Spec(get).with_key(text(100, 'k')).with_external()},
      {"get inline key filling the inline bytes", Spec(get).with_key(text(64, 'i'))},
      {"put inline", Spec(put).with_key("k").with_value("v")},
      {"put external", Spec(put)
                           .with_key("key")
                           .with_value(text(2000, 'v'))
                           .with_external()
                           .with_data_offset(1024)},
      {"put value at the limit",
       Spec(put).with_key(text(100, 'k')).with_value(text(3000, 'v')).with_external()},
      {"put ending exactly at the request area's end", Spec(put)
                                                           .with_key("kk")
                                                           .with_value(text(62, 'v'))
                                                           .with_external()
                                                           .with_data_offset(4096 - 64)},
      {"put in a transaction", Spec(put).with_key("k").with_value("v").with_txn(3)},
      {"del inline", Spec(del).with_key("gone")},
      {"del external", Spec(del).with_key("gone").with_external().with_data_offset(4000)},
      {"scan, empty bounds", Spec(scan).with_limit(1)},
      {"scan with bounds and prefix",
       Spec(scan).with_key("a").with_value("m").with_prefix("ab").with_limit(10)},
      {"scan reverse", Spec(scan).with_flags(kFlagReverse).with_key("z").with_limit(50)},
      {"scan external, each part at the key limit", Spec(scan)
                                                        .with_key(text(100, 'a'))
                                                        .with_value(text(100, 'b'))
                                                        .with_prefix(text(100, 'c'))
                                                        .with_limit(5)
                                                        .with_external()
                                                        .with_data_offset(640)},
      {"scan reverse external, only a prefix",
       Spec(scan).with_flags(kFlagReverse).with_prefix("p").with_limit(2).with_external()},
      {"scan in a transaction", Spec(scan).with_limit(3).with_txn(9)},
      {"begin", Spec(begin)},
      {"begin read-only", Spec(begin).with_flags(kFlagReadOnly)},
      {"commit", Spec(commit).with_txn(1)},
      {"commit, handle with high bits", Spec(commit).with_txn(UINT64_MAX)},
      {"commit async", Spec(commit).with_txn(1).with_flags(kFlagDurabilityAsync)},
      {"commit not logged", Spec(commit).with_txn(1).with_flags(kFlagDurabilityNone)},
      {"autocommit put async",
       Spec(put).with_key("k").with_value("v").with_flags(kFlagDurabilityAsync)},
      {"autocommit del not logged", Spec(del).with_key("k").with_flags(kFlagDurabilityNone)},
      {"abort", Spec(abort).with_txn(77)},
      {"batch (its payload: decode_batch's)", Spec(batch).with_key("anything")},
      {"batch, external", Spec(batch).with_key(std::string(3000, 'b')).with_external()},
      {"batch async", Spec(batch).with_key("b").with_flags(kFlagDurabilityAsync)},
      {"batch not logged", Spec(batch).with_flags(kFlagDurabilityNone)},
  };
}

TEST_CASE("a request encode_request writes decodes to the same request, inline and external") {
  Image image;
  const std::string key(10, 'k'), value(2000, 'v'), prefix = "pre";
  RequestSpec specs[3];
  specs[0].opcode = Opcode::kGet;
  specs[0].parts[0] = key;
  specs[1].opcode = Opcode::kPut;  // 2010 bytes: external
  specs[1].flags = kFlagDurabilityAsync;
  specs[1].parts[0] = key;
  specs[1].parts[1] = value;
  specs[2].opcode = Opcode::kScan;
  specs[2].flags = kFlagReverse;
  specs[2].parts[0] = "a";
  specs[2].parts[1] = "z";
  specs[2].parts[2] = prefix;
  specs[2].limit = 7;
  specs[2].txn = 42;
  for (uint32_t i = 0; i < 3; ++i) {
    const RequestSpec& spec = specs[i];
    const bool external = spec.parts[1].size() > image.geometry().inline_capacity();
    constexpr uint32_t kOffset = 512;
    auto* ctx = reinterpret_cast<ContextHeader*>(image.context(i));
    encode_request(
        ctx, spec, external, kOffset,
        external ? image.request_area() + kOffset : image.context(i) + sizeof(ContextHeader));
    std::vector<char> scratch;
    Request rq;
    const char* why = nullptr;
    REQUIRE(decode_request(image.geometry(), image.base(), i, kLimits, &scratch, &rq, &why) ==
            WireStatus::kOk);
    CHECK(rq.opcode == spec.opcode);
    CHECK(rq.flags == (spec.flags | (external ? kFlagExternal : 0)));
    CHECK(rq.key == spec.parts[0]);
    CHECK(rq.value == spec.parts[1]);
    CHECK(rq.prefix == spec.parts[2]);
    CHECK(rq.limit == spec.limit);
    CHECK(rq.txn == spec.txn);
  }
}

TEST_CASE("decode_request: valid requests of every opcode decode to their fields") {
  Image image;
  std::vector<char> scratch;
  for (const ValidCase& c : valid_cases()) {
    CAPTURE(c.name);
    for (uint32_t index : {0u, 3u}) {
      CAPTURE(index);
      write(image, index, c.spec);
      const Decoded d = decode(image, index, &scratch);
      REQUIRE(d.status == WireStatus::kOk);
      CHECK(d.why == nullptr);
      CHECK(op(d.request.opcode) == c.spec.opcode);
      CHECK(d.request.flags == (c.spec.external ? c.spec.flags | kFlagExternal : c.spec.flags));
      CHECK(d.request.limit == c.spec.limit);
      CHECK(d.request.txn == c.spec.txn);
      CHECK(d.request.key == c.spec.key);
      CHECK(d.request.value == c.spec.value);
      CHECK(d.request.prefix == c.spec.prefix);
      CHECK(inside(d.request.key, scratch));
      CHECK(inside(d.request.value, scratch));
      CHECK(inside(d.request.prefix, scratch));
    }
  }
}

TEST_CASE("decode_request: a reused scratch buffer holds only the latest payload") {
  Image image;
  std::vector<char> scratch;
  write(image, 1,
        Spec(op(Opcode::kPut)).with_key(text(50, 'k')).with_value(text(2500, 'v')).with_external());
  REQUIRE(decode(image, 1, &scratch).status == WireStatus::kOk);
  write(image, 1, Spec(op(Opcode::kGet)).with_key("short"));
  const Decoded d = decode(image, 1, &scratch);
  REQUIRE(d.status == WireStatus::kOk);
  CHECK(d.request.key == "short");
  CHECK(d.request.value.empty());
  CHECK(scratch.size() == 5);
}

struct InvalidCase {
  const char* name;
  Spec spec;
  WireStatus status;
};

std::vector<InvalidCase> invalid_cases() {
  constexpr WireStatus kInvalid = WireStatus::kInvalidRequest;
  constexpr WireStatus kTooLarge = WireStatus::kTooLarge;
  const uint8_t ping = op(Opcode::kPing), get = op(Opcode::kGet), put = op(Opcode::kPut),
                del = op(Opcode::kDel), scan = op(Opcode::kScan), begin = op(Opcode::kBegin),
                commit = op(Opcode::kCommit), abort = op(Opcode::kAbort),
                batch = op(Opcode::kBatch);
  return {
      {"opcode 0", Spec(0), kInvalid},
      {"opcode 12", Spec(12), kInvalid},
      {"opcode 255", Spec(255).with_key("k"), kInvalid},
      {"unknown flag bit 6", Spec(get).with_flags(1u << 6).with_key("k"), kInvalid},
      {"keys-only flag outside watch", Spec(get).with_flags(1u << 5).with_key("k"), kInvalid},
      {"unwatch without a watch id", Spec(11), kInvalid},
      {"unwatch with a transaction handle", Spec(11).with_limit(1).with_txn(7), kInvalid},
      {"watch with a limit", Spec(10).with_key("a").with_limit(3), kInvalid},
      {"watch with a key over the key limit", Spec(10).with_key(text(1025, 'k')), kTooLarge},
      {"durability on get", Spec(get).with_flags(kFlagDurabilityAsync).with_key("k"), kInvalid},
      {"durability on begin", Spec(begin).with_flags(kFlagDurabilityNone), kInvalid},
      {"durability on a put in a transaction",
       Spec(put).with_key("k").with_value("v").with_txn(3).with_flags(kFlagDurabilityAsync),
       kInvalid},
      {"two durability levels",
       Spec(commit).with_txn(1).with_flags(kFlagDurabilityAsync | kFlagDurabilityNone), kInvalid},
      {"unknown flag bit 7", Spec(ping).with_flags(1u << 7), kInvalid},
      {"reverse on get", Spec(get).with_flags(kFlagReverse).with_key("k"), kInvalid},
      {"reverse on begin", Spec(begin).with_flags(kFlagReverse), kInvalid},
      {"read-only on scan", Spec(scan).with_flags(kFlagReadOnly).with_limit(1), kInvalid},
      {"read-only on put", Spec(put).with_flags(kFlagReadOnly).with_key("k").with_value("v"),
       kInvalid},
      {"ping with a key", Spec(ping).with_key("k"), kInvalid},
      {"ping with a prefix", Spec(ping).with_prefix("p"), kInvalid},
      {"begin with a key", Spec(begin).with_key("k"), kInvalid},
      {"commit with a value", Spec(commit).with_value("v").with_txn(1), kInvalid},
      {"abort with a prefix", Spec(abort).with_prefix("p").with_txn(1), kInvalid},
      {"get with a value", Spec(get).with_key("k").with_value("v"), kInvalid},
      {"get with a prefix", Spec(get).with_key("k").with_prefix("p"), kInvalid},
      {"del with a value", Spec(del).with_key("k").with_value("v"), kInvalid},
      {"put with a prefix", Spec(put).with_key("k").with_value("v").with_prefix("p"), kInvalid},
      {"get key over the limit", Spec(get).with_key(text(101, 'k')).with_external(), kTooLarge},
      {"del key over the limit", Spec(del).with_key(text(101, 'k')).with_external(), kTooLarge},
      {"put key over the limit", Spec(put).with_key(text(101, 'k')).with_value("v").with_external(),
       kTooLarge},
      {"put value over the limit",
       Spec(put).with_key("k").with_value(text(3001, 'v')).with_external(), kTooLarge},
      {"put value length UINT32_MAX",
       Spec(put).with_key("k").with_value("v").with_external().with_value_len(UINT32_MAX),
       kTooLarge},
      {"scan start over the key limit",
       Spec(scan).with_key(text(101, 'a')).with_limit(1).with_external(), kTooLarge},
      {"scan end over the key limit",
       Spec(scan).with_value(text(101, 'b')).with_limit(1).with_external(), kTooLarge},
      {"scan prefix over the key limit",
       Spec(scan).with_prefix(text(101, 'c')).with_limit(1).with_external(), kTooLarge},
      {"scan limit 0", Spec(scan).with_limit(0), kInvalid},
      {"scan limit over the max", Spec(scan).with_limit(51), kInvalid},
      {"scan limit UINT32_MAX", Spec(scan).with_limit(UINT32_MAX), kInvalid},
      {"limit on get", Spec(get).with_key("k").with_limit(1), kInvalid},
      {"limit on begin", Spec(begin).with_limit(5), kInvalid},
      {"commit without a transaction", Spec(commit), kInvalid},
      {"abort without a transaction", Spec(abort), kInvalid},
      {"ping with a transaction", Spec(ping).with_txn(1), kInvalid},
      {"begin with a transaction", Spec(begin).with_txn(5), kInvalid},
      {"batch in a transaction", Spec(batch).with_key("b").with_txn(5), kInvalid},
      {"batch with a second part", Spec(batch).with_key("b").with_value("v"), kInvalid},
      {"batch with a limit", Spec(batch).with_key("b").with_limit(1), kInvalid},
      {"batch reverse", Spec(batch).with_key("b").with_flags(kFlagReverse), kInvalid},
      {"read-only begin with a transaction", Spec(begin).with_flags(kFlagReadOnly).with_txn(5),
       kInvalid},
      {"inline payload one byte over the inline bytes",
       Spec(put).with_key(text(30, 'k')).with_value(text(35, 'v')), kInvalid},
      {"inline scan over the inline bytes",
       Spec(scan)
           .with_key(text(30, 'a'))
           .with_value(text(30, 'b'))
           .with_prefix("abcde")
           .with_limit(1),
       kInvalid},
      {"data offset on an inline payload", Spec(get).with_key("k").with_data_offset(64), kInvalid},
      {"data offset on an inline ping", Spec(ping).with_data_offset(1), kInvalid},
      {"external payload one byte past the area's end",
       Spec(put)
           .with_key("kk")
           .with_value(text(63, 'v'))
           .with_external()
           .with_data_offset(4096 - 64),
       kInvalid},
      {"external payload starting at the area's end",
       Spec(get).with_key("k").with_external().with_data_offset(4096), kInvalid},
      {"external empty payload offset past the area's end",
       Spec(ping).with_external().with_data_offset(4096 + 64), kInvalid},
      {"external offset UINT32_MAX",
       Spec(get).with_key("k").with_external().with_data_offset(UINT32_MAX), kInvalid},
      {"external offset that wraps 32 bits with its length",
       Spec(put)
           .with_key(text(100, 'k'))
           .with_value(text(100, 'v'))
           .with_external()
           .with_data_offset(UINT32_MAX - 99),
       kInvalid},
      {"external offset UINT32_MAX - 63, scan",
       Spec(scan)
           .with_key(text(64, 'a'))
           .with_limit(1)
           .with_external()
           .with_data_offset(UINT32_MAX - 63),
       kInvalid},
  };
}

TEST_CASE("decode_request: each malformed request is refused with its status and a reason") {
  Image image;
  std::vector<char> scratch;
  for (const InvalidCase& c : invalid_cases()) {
    CAPTURE(c.name);
    write(image, 2, c.spec);
    const Decoded d = decode(image, 2, &scratch);
    CHECK(d.status == c.status);
    REQUIRE(d.why != nullptr);
    CHECK(std::string_view(d.why).size() > 0);
  }
}

// request.h documents the empty key as kInvalidArgument, the engine's own answer (docs/
// PROTOCOL.md, engine limits): well-formed on the wire, but not a key.
TEST_CASE("decode_request: an empty key for get, put or del is kInvalidArgument with a reason") {
  Image image;
  std::vector<char> scratch;
  const Spec specs[] = {
      Spec(op(Opcode::kGet)),
      Spec(op(Opcode::kPut)).with_value("v"),
      Spec(op(Opcode::kDel)),
      Spec(op(Opcode::kDel)).with_external().with_data_offset(64),
  };
  for (const Spec& spec : specs) {
    CAPTURE(int{spec.opcode});
    write(image, 0, spec);
    const Decoded d = decode(image, 0, &scratch);
    CHECK(d.status == WireStatus::kInvalidArgument);
    REQUIRE(d.why != nullptr);
    CHECK(std::string_view(d.why).size() > 0);
  }
}

TEST_CASE("decode_request copies: writes to the segment after decoding change nothing decoded") {
  Image image;
  for (const bool external : {false, true}) {
    CAPTURE(external);
    std::vector<char> scratch;
    const Spec spec = Spec(op(Opcode::kScan))
                          .with_flags(kFlagReverse)
                          .with_key("start")
                          .with_value("end")
                          .with_prefix("st")
                          .with_limit(7)
                          .with_txn(5)
                          .with_external(external)
                          .with_data_offset(external ? 256u : 0u);
    write(image, 1, spec);
    const Decoded d = decode(image, 1, &scratch);
    REQUIRE(d.status == WireStatus::kOk);
    // The client rewrites everything: header, inline bytes, the whole request area.
    std::memset(image.context(1), 0xAB, image.geometry().sizes.context_size);
    std::memset(image.request_area(), 0xCD, image.geometry().sizes.request_area_size);
    CHECK(d.request.opcode == Opcode::kScan);
    CHECK(d.request.flags == (external ? kFlagReverse | kFlagExternal : kFlagReverse));
    CHECK(d.request.limit == 7);
    CHECK(d.request.txn == 5);
    CHECK(d.request.key == "start");
    CHECK(d.request.value == "end");
    CHECK(d.request.prefix == "st");
  }
}

// ---- scan items

std::vector<std::byte> encode_all(const std::vector<std::pair<std::string, std::string>>& items) {
  size_t size = 0;
  for (const auto& [k, v] : items)
    size += encoded_item_size(k.size(), v.size());
  std::vector<std::byte> out(size);
  size_t at = 0;
  for (const auto& [k, v] : items)
    at += encode_item(out.data() + at, k, v);
  REQUIRE(at == size);
  return out;
}

const std::vector<std::pair<std::string, std::string>> kItems = {
    {"apple", "red"},
    {"", "empty key"},
    {"empty value", ""},
    {"", ""},
    {text(300, 'k'), text(5000, 'v')},
    {std::string("nul\0byte", 8), std::string("\0\0", 2)},
};

TEST_CASE("encode_item/decode_items round trip") {
  const std::vector<std::byte> bytes = encode_all(kItems);
  CHECK(bytes.size() == 8 * kItems.size() + 5 + 3 + 9 + 11 + 300 + 5000 + 8 + 2);
  std::vector<std::pair<std::string, std::string>> got;
  CHECK(decode_items(bytes.data(), bytes.size(), static_cast<uint32_t>(kItems.size()),
                     [&](std::string_view k, std::string_view v) { got.emplace_back(k, v); }));
  CHECK(got == kItems);
}

TEST_CASE("decode_items: no items in no bytes") {
  int calls = 0;
  CHECK(decode_items(nullptr, 0, 0, [&](std::string_view, std::string_view) { ++calls; }));
  CHECK(calls == 0);
}

TEST_CASE("decode_items refuses every truncation of a valid encoding") {
  const std::vector<std::byte> bytes = encode_all(kItems);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    CAPTURE(cut);
    // An exact copy of the prefix, so that AddressSanitizer sees any read past it.
    const std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    REQUIRE_FALSE(decode_items(prefix.data(), prefix.size(), static_cast<uint32_t>(kItems.size()),
                               [](std::string_view, std::string_view) {}));
  }
}

TEST_CASE("decode_items refuses lengths past the end") {
  const ItemHeader headers[] = {{4, 0},          {0, 4},          {2, 2},
                                {UINT32_MAX, 0}, {0, UINT32_MAX}, {UINT32_MAX, UINT32_MAX},
                                {UINT32_MAX, 1}};
  for (const ItemHeader& h : headers) {
    CAPTURE(h.key_len);
    CAPTURE(h.value_len);
    std::vector<std::byte> bytes(sizeof(ItemHeader) + 3);  // room for 3 bytes of key and value
    std::memcpy(bytes.data(), &h, sizeof h);
    CHECK_FALSE(
        decode_items(bytes.data(), bytes.size(), 1, [](std::string_view, std::string_view) {}));
  }
}

TEST_CASE("decode_items refuses trailing bytes and a count that does not match") {
  std::vector<std::byte> bytes = encode_all(kItems);
  const auto count = static_cast<uint32_t>(kItems.size());
  auto ignore = [](std::string_view, std::string_view) {};
  CHECK_FALSE(decode_items(bytes.data(), bytes.size(), count - 1, ignore));  // items left over
  CHECK_FALSE(decode_items(bytes.data(), bytes.size(), count + 1, ignore));  // one missing
  CHECK_FALSE(decode_items(bytes.data(), bytes.size(), 0, ignore));
  bytes.push_back(std::byte{0});
  CHECK_FALSE(decode_items(bytes.data(), bytes.size(), count, ignore));  // one trailing byte
}

}  // namespace
}  // namespace ringdb::shm
