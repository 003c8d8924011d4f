// The write-ahead log format (daemon/wal/format.h) and CRC32C (daemon/base/crc32c.h): known
// checksums, the hardware and table versions agreeing; records round-tripping; segment
// headers; and the scanner on damaged logs: the last record cut at every byte offset, every
// bit of it flipped, wrong LSNs, over-long lengths, leftovers past the end. In each case it
// keeps every record before the damage and nothing from it on.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "daemon/base/crc32c.h"
#include "daemon/wal/format.h"
#include "tests/support/seed.h"

namespace ringdb::daemon::wal {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

struct Txn {
  uint64_t txn;
  std::vector<std::string> keys, values;  // value "" with delete
  std::vector<OpKind> kinds;
  std::vector<Op> ops() const {
    std::vector<Op> v;
    for (size_t i = 0; i < keys.size(); ++i)
      v.push_back(Op{kinds[i], keys[i], values[i]});
    return v;
  }
};

std::vector<Txn> random_txns(std::mt19937_64& rng, int n) {
  std::vector<Txn> txns;
  for (int t = 0; t < n; ++t) {
    Txn txn;
    txn.txn = 100 + static_cast<uint64_t>(t);
    const int ops = 1 + static_cast<int>(rng() % 4);
    for (int o = 0; o < ops; ++o) {
      txn.keys.push_back("key" + std::to_string(rng() % 1000));
      const bool del = rng() % 4 == 0;
      txn.kinds.push_back(del ? OpKind::kDelete : OpKind::kPut);
      txn.values.push_back(del ? "" : std::string(rng() % 40, static_cast<char>('a' + t % 26)));
    }
    txns.push_back(std::move(txn));
  }
  return txns;
}

// The log of `txns` starting at `start_lsn`, and each record's offset in it.
std::string log_of(const std::vector<Txn>& txns, uint64_t start_lsn,
                   std::vector<size_t>* offsets = nullptr) {
  std::string log;
  for (const Txn& t : txns) {
    if (offsets != nullptr) offsets->push_back(log.size());
    const auto ops = t.ops();
    append_record(start_lsn + log.size(), t.txn, ops, &log);
  }
  return log;
}

// Scans and checks that the accepted records are exactly txns[0, expect).
ScanResult scan_expect(const std::string& log, uint64_t start_lsn, const std::vector<Txn>& txns,
                       size_t expect) {
  size_t i = 0;
  bool match = true;
  const ScanResult r = scan(bytes_of(log), start_lsn, [&](const Record& rec) {
    if (i >= txns.size()) {
      match = false;
      return true;
    }
    const auto want = txns[i].ops();
    match = match && rec.txn == txns[i].txn && rec.ops.size() == want.size();
    for (size_t o = 0; match && o < want.size(); ++o) {
      match = rec.ops[o].kind == want[o].kind && rec.ops[o].key == want[o].key &&
              rec.ops[o].value == want[o].value;
    }
    ++i;
    return true;
  });
  CHECK(match);
  CHECK(i == expect);
  CHECK(r.records == expect);
  return r;
}

TEST_CASE("crc32c: known values; the SSE4.2 and table versions agree; it continues") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);  // the standard check value
  CHECK(crc32c("", 0) == 0u);
  const std::string zeros(32, '\0');
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720, B.4
  std::mt19937_64 rng(ringdb::test::test_seed("crc32c"));
  for (int i = 0; i < 200; ++i) {
    std::string data(rng() % 300, '\0');
    for (char& c : data)
      c = static_cast<char>(rng());
    const uint32_t whole = crc32c(data.data(), data.size());
    CHECK(whole == crc32c_portable(data.data(), data.size()));
    const size_t cut = data.empty() ? 0 : rng() % data.size();
    CHECK(crc32c(data.data() + cut, data.size() - cut, crc32c(data.data(), cut)) == whole);
  }
}

TEST_CASE("wal: a segment header round-trips; a damaged one is refused") {
  std::vector<std::byte> page(kSegmentHeaderSize);
  encode_segment_header(SegmentHeader{123456, 7, 42}, page.data());
  SegmentHeader h;
  const char* why = "";
  REQUIRE(decode_segment_header(page, &h, &why));
  CHECK(h.start_lsn == 123456);
  CHECK(h.segment_id == 7);
  CHECK(h.created_ns == 42);
  for (size_t byte = 0; byte < 64; ++byte) {
    CAPTURE(byte);
    auto bad = page;
    bad[byte] ^= std::byte{0x10};
    CHECK_FALSE(decode_segment_header(bad, &h, &why));
  }
  CHECK_FALSE(decode_segment_header(std::span(page).first(100), &h, &why));
}

TEST_CASE("wal: records round-trip, and a zeroed tail is a clean end of log") {
  std::mt19937_64 rng(ringdb::test::test_seed("wal round trip"));
  const auto txns = random_txns(rng, 50);
  const uint64_t start = 1 << 20;
  std::string log = log_of(txns, start);
  CHECK(log.size() % 8 == 0);
  ScanResult r = scan_expect(log, start, txns, txns.size());
  CHECK(r.end == ScanEnd::kEndOfLog);
  CHECK(r.valid_bytes == log.size());
  CHECK(r.next_lsn == start + log.size());
  log.append(4096, '\0');  // the preallocated rest of a segment
  r = scan_expect(log, start, txns, txns.size());
  CHECK(r.end == ScanEnd::kEndOfLog);
  CHECK(r.valid_bytes == log.size() - 4096);
}

TEST_CASE("wal: the last record cut at every byte offset: all before it kept, it never is") {
  std::mt19937_64 rng(ringdb::test::test_seed("wal torn"));
  const auto txns = random_txns(rng, 6);
  std::vector<size_t> offsets;
  const std::string log = log_of(txns, 0, &offsets);
  const size_t last = offsets.back();
  size_t body_end = last + kRecordHeaderSize;  // the last record without its padding
  for (const Op& op : txns.back().ops())
    body_end += kOpHeaderSize + op.key.size() + op.value.size();
  for (size_t cut = last; cut < log.size(); ++cut) {
    CAPTURE(cut);
    if (cut >= body_end) {
      // Only padding is missing: whole if the file has zeros there, torn if it ends.
      std::string padded = log.substr(0, cut) + std::string(64, '\0');
      CHECK(scan_expect(padded, 0, txns, txns.size()).valid_bytes == log.size());
      CHECK(scan_expect(log.substr(0, cut), 0, txns, txns.size() - 1).end == ScanEnd::kTorn);
      continue;
    }
    // As written (cut short) and as on a preallocated file (zeros after the cut).
    for (const bool zero_filled : {false, true}) {
      std::string torn = log.substr(0, cut);
      if (zero_filled) torn.append(log.size() - cut + 64, '\0');
      const ScanResult r = scan_expect(torn, 0, txns, txns.size() - 1);
      CHECK(r.valid_bytes == last);
      CHECK(r.next_lsn == last);
      // A cut inside the header of the last record with only zeros after may read as the end.
      if (cut == last) CHECK(r.end == ScanEnd::kEndOfLog);
      if (cut > last) CHECK(r.end != ScanEnd::kEndOfLog);
    }
  }
}

TEST_CASE("wal: every bit of the last record flipped: all before it kept, it never is") {
  std::mt19937_64 rng(ringdb::test::test_seed("wal bit flips"));
  const auto txns = random_txns(rng, 5);
  std::vector<size_t> offsets;
  const std::string log = log_of(txns, 4096, &offsets);
  const size_t last = offsets.back();
  for (size_t byte = last; byte < log.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      CAPTURE(byte);
      CAPTURE(bit);
      std::string bad = log;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      const ScanResult r = scan_expect(bad, 4096, txns, txns.size() - 1);
      CHECK(r.valid_bytes == last);
      CHECK(r.end != ScanEnd::kEndOfLog);
    }
  }
}

TEST_CASE("wal: a record from elsewhere (wrong LSN), huge lengths, and leftovers stop the scan") {
  std::mt19937_64 rng(ringdb::test::test_seed("wal lsn"));
  const auto txns = random_txns(rng, 4);
  std::vector<size_t> offsets;
  const std::string log = log_of(txns, 0, &offsets);
  // Scanned from another start LSN, not even the first record is accepted.
  ScanResult r = scan_expect(log, 8, txns, 0);
  CHECK(r.end == ScanEnd::kCorrupt);
  // Bytes of an older log (written at other LSNs) after the end of a new, shorter one: the
  // stale records have the wrong LSNs, even where a record boundary happens to line up. (A
  // stale record at the very LSN expected would pass: so the writer never reuses a file, and
  // recovery zeroes the tail it cuts off.)
  const std::string older = log_of(txns, uint64_t{1} << 40);
  const auto fresh = random_txns(rng, 2);
  std::string recycled = log_of(fresh, 0);
  const size_t fresh_size = recycled.size();
  recycled += older.substr(fresh_size < older.size() ? fresh_size : older.size());
  r = scan_expect(recycled, 0, fresh, fresh.size());
  CHECK(r.valid_bytes == fresh_size);
  // A body length far over the limit, with a valid checksum over what is there, is refused
  // before anything is read past the record header.
  std::string huge = log.substr(0, offsets[1]);
  std::string header(kRecordHeaderSize, '\0');
  const uint32_t len = kRecordBodyMax + 8;
  const uint64_t lsn = offsets[1];
  std::memcpy(header.data() + 4, &len, 4);
  std::memcpy(header.data() + 8, &lsn, 8);
  huge += header;
  r = scan_expect(huge, 0, txns, 1);
  CHECK(r.end == ScanEnd::kCorrupt);
}

TEST_CASE("wal: the callback can stop the scan early") {
  std::mt19937_64 rng(ringdb::test::test_seed("wal early stop"));
  const auto txns = random_txns(rng, 10);
  std::vector<size_t> offsets;
  const std::string log = log_of(txns, 0, &offsets);
  size_t seen = 0;
  const ScanResult r = scan(bytes_of(log), 0, [&](const Record&) { return ++seen < 3; });
  CHECK(seen == 3);
  CHECK(r.records == 3);
  CHECK(r.valid_bytes == offsets[3]);
}

}  // namespace
}  // namespace ringdb::daemon::wal
