/* ringdb-c-load: loads COUNT keys through libringdb's C ABI, many puts in flight per call
 * (ringdb_execute), each its own commit with the durability asked; prints one JSON line.
 * Written in C99 against <ringdb/ringdb.h> only, as a C program would use the library.
 * tools/bench/load_compare.py runs it beside `redis-cli --pipe` on the same data.
 *
 *   ringdb-c-load SOCKET COUNT KEY_BYTES VALUE_BYTES [sync|async|none] [OPS_PER_CALL]
 *
 * Key i is "k" then i in decimal, zero-padded to KEY_BYTES; every value is VALUE_BYTES of 'v'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringdb/ringdb.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
  fprintf(stderr,
          "usage: ringdb-c-load SOCKET COUNT KEY_BYTES VALUE_BYTES [sync|async|none] "
          "[OPS_PER_CALL]\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) return usage();
  const char* socket = argv[1];
  const unsigned long long count = strtoull(argv[2], NULL, 10);
  const size_t key_bytes = (size_t)strtoul(argv[3], NULL, 10);
  const size_t value_bytes = (size_t)strtoul(argv[4], NULL, 10);
  ringdb_durability durability = RINGDB_SYNC;
  if (argc >= 6 && strcmp(argv[5], "async") == 0) durability = RINGDB_ASYNC;
  else if (argc >= 6 && strcmp(argv[5], "none") == 0) durability = RINGDB_NONE;
  else if (argc >= 6 && strcmp(argv[5], "sync") != 0) return usage();
  const size_t per_call = argc >= 7 ? (size_t)strtoul(argv[6], NULL, 10) : 4096;
  if (count == 0 || key_bytes < 2 || key_bytes > 64 || per_call == 0) return usage();

  char error[512];
  ringdb_client* client = NULL;
  ringdb_status s = ringdb_connect(socket, &client, error, sizeof error);
  if (s != RINGDB_OK) {
    fprintf(stderr, "connect: %s (%s)\n", ringdb_status_name(s), error);
    return 1;
  }
  char* value = malloc(value_bytes + 1);
  ringdb_op** ops = calloc(per_call, sizeof *ops);
  if (value == NULL || ops == NULL) return 1;
  memset(value, 'v', value_bytes);

  const double start = now_s();
  unsigned long long failed = 0;
  for (unsigned long long first = 0; first < count; first += per_call) {
    size_t n = 0;
    for (unsigned long long i = first; i < count && n < per_call; ++i, ++n) {
      char key[80];
      snprintf(key, sizeof key, "k%0*llu", (int)(key_bytes - 1), i);
      s = ringdb_op_put(key, key_bytes, value, value_bytes, durability, &ops[n]);
      if (s != RINGDB_OK) {
        fprintf(stderr, "op: %s\n", ringdb_status_name(s));
        return 1;
      }
    }
    s = ringdb_execute(client, ops, n);
    if (s != RINGDB_OK) {
      fprintf(stderr, "execute: %s: %s\n", ringdb_status_name(s), ringdb_status_message(s));
      return 1;
    }
    for (size_t j = 0; j < n; ++j) {
      if (ringdb_op_status(ops[j]) != RINGDB_OK) {
        if (failed++ == 0)
          fprintf(stderr, "put: %s\n", ringdb_status_message(ringdb_op_status(ops[j])));
      }
      ringdb_op_free(ops[j]);
    }
  }
  const double seconds = now_s() - start;
  printf("{\"system\":\"ringdb\",\"keys\":%llu,\"key_bytes\":%zu,\"value_bytes\":%zu,"
         "\"ops_per_call\":%zu,\"seconds\":%.3f,\"keys_per_second\":%.0f,\"failed\":%llu}\n",
         count, key_bytes, value_bytes, per_call, seconds, (double)count / seconds, failed);
  free(ops);
  free(value);
  ringdb_close(client);
  return failed == 0 ? 0 : 1;
}
