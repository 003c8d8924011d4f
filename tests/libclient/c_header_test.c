/* ringdb/ringdb.h compiles as C (C99 and later) on its own, and the C ABI links from C:
 * a connect to a socket that does not exist fails with CONNECT_FAILED and a reason. */
#include "ringdb/ringdb.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  char error[256];
  ringdb_client* client = NULL;
  ringdb_status status =
      ringdb_connect("/nonexistent-ringdb-dir/ringdb.sock", &client, error, sizeof error);
  if (status != RINGDB_CONNECT_FAILED || client != NULL || strlen(error) == 0) {
    fprintf(stderr, "unexpected: %s (%s)\n", ringdb_status_name(status), error);
    return 1;
  }
  if (strcmp(ringdb_status_name(RINGDB_NOT_FOUND), "NOT_FOUND") != 0) return 1;
  if (strlen(ringdb_status_message(RINGDB_CONFLICT)) == 0) return 1;
  if (strcmp(ringdb_version(NULL, NULL, NULL), RINGDB_VERSION_STRING) != 0) return 1;
  if (strcmp(ringdb_daemon_version(NULL), "") != 0) return 1;
  ringdb_close(NULL);
  printf("ok: %s\n", error);
  return 0;
}
