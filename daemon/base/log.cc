#include "daemon/base/log.h"

#include <sys/stat.h>
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

// syslog priorities (RFC 5424): err, warning, info, debug; crit for fatal().
constexpr int kFatalPriority = 2;
int priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return 3;
    case LogLevel::kWarn:
      return 4;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kDebug:
      return 7;
  }
  return 6;
}

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

__attribute__((format(printf, 3, 0))) void vlog(int syslog_priority, const char* level,
                                                const char* format, va_list args) {
  static const bool journal = stderr_is_journal();
  char line[2048];
  size_t n;
  if (journal) {
    n = static_cast<size_t>(snprintf(line, sizeof line, "<%d>%s: ", syslog_priority, level));
  } else {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    tm utc;
    gmtime_r(&now.tv_sec, &utc);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
    n += static_cast<size_t>(snprintf(line + n, sizeof line - n, ".%03ldZ ringdbd[%d] %s: ",
                                      now.tv_nsec / 1000000, getpid(), level));
  }
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
  vlog(priority(level), level_name(level), format, args);
  va_end(args);
}

void fatal(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(kFatalPriority, "FATAL", format, args);
  va_end(args);
  std::abort();
}

bool stderr_is_journal() {
  const char* stream = getenv("JOURNAL_STREAM");
  unsigned long long device = 0, inode = 0;
  struct stat st;
  return stream != nullptr && sscanf(stream, "%llu:%llu", &device, &inode) == 2 &&
         fstat(STDERR_FILENO, &st) == 0 && st.st_dev == device && st.st_ino == inode;
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
