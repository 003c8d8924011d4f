#include "daemon/base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>

namespace ringdb::daemon {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
  }
  return "?";
}

__attribute__((format(printf, 2, 0))) void vlog(const char* level, const char* format,
                                                va_list args) {
  char line[2048];
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
  n += static_cast<size_t>(snprintf(line + n, sizeof line - n, ".%03ldZ ringdbd[%d] %s: ",
                                    now.tv_nsec / 1000000, getpid(), level));
  const int body = vsnprintf(line + n, sizeof line - n - 1, format, args);
  if (body > 0) n += static_cast<size_t>(body);
  if (n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  // One write per line; a short write of a log line is not worth a retry loop.
  [[maybe_unused]] const ssize_t w = write(STDERR_FILENO, line, n);
}

}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() {
  return g_level.load(std::memory_order_relaxed);
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

bool parse_log_level(const char* text, LogLevel* level) {
  for (auto l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    if (strcasecmp(text, level_name(l)) == 0) {
      *level = l;
      return true;
    }
  }
  return false;
}

void log(LogLevel level, const char* format, ...) {
  if (level > log_level()) return;
  va_list args;
  va_start(args, format);
  vlog(level_name(level), format, args);
  va_end(args);
}

void fatal(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog("FATAL", format, args);
  va_end(args);
  std::abort();
}

void install_terminate_handler() {
  std::set_terminate([] {
    const char* what = "unknown";
    try {
      if (auto e = std::current_exception()) std::rethrow_exception(e);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    fatal("terminate called (uncaught exception: %s); aborting for a restart and recovery", what);
  });
}

}  // namespace ringdb::daemon
