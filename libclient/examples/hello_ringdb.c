/* hello_ringdb: a first libringdb program, built the way a user builds one (Makefile here:
 * pkg-config ringdb). Connects to ringdbd (RINGDB_SOCKET, or the argument, or the default
 * socket), writes and reads a key, moves a value between two keys in a transaction, and
 * prints what it saw. Exit code 0 if all went well. */
#include <ringdb/ringdb.h>
#include <stdio.h>
#include <string.h>

static int check(ringdb_status s, const char* what) {
  if (s != RINGDB_OK) fprintf(stderr, "hello_ringdb: %s: %s\n", what, ringdb_status_name(s));
  return s == RINGDB_OK;
}

int main(int argc, char** argv) {
  char error[256];
  ringdb_client* client = NULL;
  if (!check(ringdb_connect(argc > 1 ? argv[1] : NULL, &client, error, sizeof error),
             "connect")) {
    fprintf(stderr, "hello_ringdb: %s\n", error);
    return 1;
  }
  int ok = check(ringdb_put(client, "greeting", 8, "hello, ringdb", 13), "put");
  char* value = NULL;
  size_t len = 0;
  ok = ok && check(ringdb_get(client, "greeting", 8, &value, &len), "get");
  if (ok) printf("greeting = %.*s\n", (int)len, value);
  ringdb_free(value);

  /* A transaction: both writes or neither. A conflict is retried, as run_transaction does. */
  ok = ok && check(ringdb_put(client, "from", 4, "100", 3), "put from");
  for (unsigned attempt = 0; ok; ++attempt) {
    ringdb_txn* txn = NULL;
    if (!check(ringdb_begin(client, 0, &txn), "begin")) {
      ok = 0;
      break;
    }
    ringdb_status s = ringdb_txn_put(txn, "from", 4, "0", 1);
    if (s == RINGDB_OK) s = ringdb_txn_put(txn, "to", 2, "100", 3);
    if (s == RINGDB_OK) s = ringdb_commit(txn); /* commit ends the transaction either way */
    else ringdb_abort(txn);
    if (s == RINGDB_OK) break;
    if (s != RINGDB_CONFLICT || attempt >= 10) {
      ok = check(s, "transaction");
      break;
    }
    ringdb_conflict_backoff(attempt);
  }
  ok = ok && check(ringdb_get(client, "to", 2, &value, &len), "get to");
  if (ok) printf("to = %.*s\n", (int)len, value);
  ringdb_free(value);
  ringdb_close(client);
  if (ok) printf("hello_ringdb: ok\n");
  return ok ? 0 : 1;
}
