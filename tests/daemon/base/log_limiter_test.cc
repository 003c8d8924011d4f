// LogLimiter (daemon/base/log_limiter.h): one line per interval, and the next line says how
// many were held back. The clock is the caller's: this test drives it.
#include <doctest/doctest.h>

#include "daemon/base/log_limiter.h"

namespace ringdb::daemon {
namespace {

TEST_CASE("LogLimiter: one line per interval; the next one counts those held back") {
  LogLimiter limiter(1000);
  uint64_t suppressed = 99;
  CHECK(limiter.allow(5, &suppressed));  // the first always goes
  CHECK(suppressed == 0);
  for (int64_t t = 6; t < 1005; t += 10)
    CHECK_FALSE(limiter.allow(t, &suppressed));
  CHECK(limiter.allow(1005, &suppressed));
  CHECK(suppressed == 100);
  CHECK_FALSE(limiter.allow(1006, &suppressed));
  CHECK(limiter.allow(5000, &suppressed));
  CHECK(suppressed == 1);
}

}  // namespace
}  // namespace ringdb::daemon
