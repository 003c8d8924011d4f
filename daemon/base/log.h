// Logging for ringdbd: one line per event on standard error, with a UTC timestamp and a
// level ("2026-11-22T18:30:00.123Z ringdbd[1234] INFO: ..."). When standard error is the
// journal (systemd sets JOURNAL_STREAM to its device and inode), each line starts with its
// syslog priority instead ("<6>INFO: ..."; journald adds time and pid itself), so that
// `journalctl -p err` finds the errors.
// fatal() logs and aborts at once (a core dump, a non-zero exit): an internal error never
// leaves the daemon hanging; a supervisor restarts it.
//
// Thread safety: all functions may be called from any thread; a line is written with one
// write(2), so lines from different threads do not interleave.
#pragma once

#include <cstdint>

namespace ringdb::daemon {

enum class LogLevel : uint8_t { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Parses "error", "warn", "info", "debug".
bool parse_log_level(const char* text, LogLevel* level);
// "error", "warn", "info", "debug".
const char* log_level_name(LogLevel level);

void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Whether standard error is the stream JOURNAL_STREAM names ("DEVICE:INODE"). Read once, at
// the first log line, for the daemon's life.
bool stderr_is_journal();

// Routes std::terminate (an escaped exception, e.g. std::bad_alloc in a worker) to fatal().
void install_terminate_handler();

}  // namespace ringdb::daemon
