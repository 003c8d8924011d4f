// test_seed: the seed of a randomized test case. RINGDB_TEST_SEED, if set, replays a failure;
// otherwise a random one. Printed (and flushed, so that a crash does not lose it) with the
// case's name and the line that replays it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <random>

namespace ringdb::test {

inline unsigned test_seed(const char* test) {
  const char* env = std::getenv("RINGDB_TEST_SEED");
  const unsigned seed = env != nullptr ? static_cast<unsigned>(std::strtoul(env, nullptr, 10))
                                       : std::random_device{}();
  std::printf("%s seed=%u (replay: RINGDB_TEST_SEED=%u)\n", test, seed, seed);
  std::fflush(stdout);
  return seed;
}

}  // namespace ringdb::test
