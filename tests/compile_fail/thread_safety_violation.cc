// Must NOT compile under clang -Wthread-safety -Werror: scripts/test.sh checks that it fails,
// which proves the annotations in sync/ are being checked. Not part of any build target.
#include "sync/mutex.h"

namespace {

struct Account {
  ringdb::sync::Mutex mu;
  long balance GUARDED_BY(mu) = 0;
};

}  // namespace

void deposit_without_lock(Account& account) {
  account.balance += 1;
}  // the violation
