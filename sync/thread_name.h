// Names the calling thread as ps, top -H and /proc/PID/task/TID/comm show it: "ringdb-worker0",
// "ringdb-wal", ... (at most 15 characters: Linux cuts the rest). ringdb-bench finds the
// workers' CPU time by these names.
#pragma once

#include <pthread.h>

#include <cstdio>

namespace ringdb::sync {

inline void name_this_thread(const char* name) {
  char cut[16];
  std::snprintf(cut, sizeof cut, "%s", name);
  pthread_setname_np(pthread_self(), cut);
}

}  // namespace ringdb::sync
