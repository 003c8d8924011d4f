// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of write-ahead log
// records. Uses the SSE4.2 crc32 instruction when the CPU has it (checked once), else a
// table, byte at a time; both give the same values (tests/daemon/wal/format_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringdb::daemon {

// The CRC32C of `size` bytes at `data`, continuing from `crc` (0 to start): crc32c(a + b) ==
// crc32c(b, crc32c(a)).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The table version, whatever the CPU (for tests).
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace ringdb::daemon
