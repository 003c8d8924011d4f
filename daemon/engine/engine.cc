#include "daemon/engine/engine.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "sync/clock.h"
#include "sync/latch_stats.h"

namespace ringdb::daemon {

using mvcc::ReadView;
using mvcc::Version;
using mvcc::VersionChain;

Engine::Engine(EngineOptions options)
    : options_(options),
      mvcc_(trx_sys_, options.views_max),
      index_(BTreeOptions{options.index_node_keys_max, nullptr, &Engine::prefetch_newest}),
      purger_(trx_sys_, mvcc_, *this) {
  if (options_.purge_interval.count() > 0) purger_.start(options_.purge_interval);
}

Engine::~Engine() {
  purger_.stop();
  assert(mvcc_.active_view_count() == 0);
  // Chains still in the index own their versions; garbage is freed by ~Purger.
  index_.scan({}, false, std::numeric_limits<size_t>::max(), [](std::string_view, void* payload) {
    VersionChain::destroy(static_cast<VersionChain*>(payload));
    return true;
  });
}

Status Engine::check_key(std::string_view key) const {
  if (key.empty()) return Status::kInvalidArgument;
  if (key.size() > options_.key_size_max) return Status::kTooLarge;
  return Status::kOk;
}

bool Engine::charge(size_t bytes) {
  size_t used = memory_used_.load(std::memory_order_relaxed);
  do {
    if (used + bytes > options_.memory_limit_bytes) return false;
  } while (!memory_used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void Engine::uncharge(size_t bytes) {
  memory_used_.fetch_sub(bytes, std::memory_order_relaxed);
}

// ---- Transactions ---------------------------------------------------------------------

Status Engine::begin(TxnMode mode, std::unique_ptr<Transaction>* txn) {
  ReadView* view = mvcc_.open_view(mvcc::kNoTrx);
  if (view == nullptr) return Status::kTooManyViews;
  auto t = std::make_unique<Transaction>();
  t->mode_ = mode;
  t->view_ = view;
  *txn = std::move(t);
  return Status::kOk;
}

Status Engine::begin_checkpoint(std::unique_ptr<Transaction>* txn, mvcc::TrxSys::Cut* cut) {
  ReadView* view = nullptr;
  trx_sys_.cut(cut, [&] { view = mvcc_.open_view(mvcc::kNoTrx); });
  if (view == nullptr) return Status::kTooManyViews;
  auto t = std::make_unique<Transaction>();
  t->mode_ = TxnMode::kReadOnly;
  t->view_ = view;
  *txn = std::move(t);
  return Status::kOk;
}

// A scan's look-ahead (BTreeOptions::payload_prefetch): the chain is valid while the scanning
// transaction's view is active; its newest version and the start of its value are fetched.
void Engine::prefetch_newest(const void* payload) {
  const auto* chain = static_cast<const VersionChain*>(payload);
  chain->prefetch();
  const Version* v = chain->head();
  if (v == nullptr) return;
  __builtin_prefetch(v);
  __builtin_prefetch(reinterpret_cast<const char*>(v) + 64);
}

const Version* Engine::visible(const ReadView& view, std::string_view key) const {
  void* payload = nullptr;
  if (!index_.find(key, &payload)) return nullptr;
  static_cast<const VersionChain*>(payload)->prefetch();
  const Version* v = static_cast<const VersionChain*>(payload)->find_visible(view, trx_sys_);
  return v == nullptr || v->tombstone() ? nullptr : v;
}

mvcc::Csn Engine::version_csn(const ReadView& view, const Version& version) const {
  bool own = false;
  const mvcc::Csn csn = mvcc::resolve_version(version, view.creator(), trx_sys_, &own);
  return own ? mvcc::kNoCsn : csn;
}

Status Engine::get(Transaction& txn, std::string_view key, std::string* value, mvcc::Csn* csn) {
  if (const Status s = check_key(key); s != Status::kOk) return s;
  const Version* v = visible(*txn.view_, key);
  if (v == nullptr) return Status::kNotFound;
  value->assign(v->value());
  if (csn != nullptr) *csn = version_csn(*txn.view_, *v);
  return Status::kOk;
}

Status Engine::evaluate(Transaction& txn, const Condition& c, bool* holds, mvcc::Csn* csn) {
  *holds = false;
  *csn = mvcc::kNoCsn;
  if (const Status s = check_key(c.key); s != Status::kOk) return s;
  if (txn.failed_) return Status::kTransactionDone;
  const Version* v = visible(*txn.view_, c.key);
  if (v != nullptr) *csn = version_csn(*txn.view_, *v);
  switch (c.kind) {
    case ConditionKind::kAbsent:
      *holds = v == nullptr;
      break;
    case ConditionKind::kPresent:
      *holds = v != nullptr;
      break;
    case ConditionKind::kEquals:
      *holds = v != nullptr && v->value() == c.value;
      break;
    case ConditionKind::kUnchangedSince:
      // (Its own write has no CSN yet: changed.)
      *holds = v != nullptr && *csn != mvcc::kNoCsn && *csn <= c.csn;
      break;
  }
  return Status::kOk;
}

Status Engine::hold(Transaction& txn, std::string_view key) {
  return write(txn, key, {}, false, true);
}

Status Engine::put(Transaction& txn, std::string_view key, std::string_view value) {
  return write(txn, key, value, false);
}

Status Engine::del(Transaction& txn, std::string_view key) {
  if (const Status s = check_key(key); s != Status::kOk) return s;
  if (!txn.failed_ && !txn.read_only() && visible(*txn.view_, key) == nullptr)
    return Status::kNotFound;
  return write(txn, key, {}, true);
}

// Finds the key's chain or publishes a new one, with `first` (if given) as its embedded
// version. A chain found dead (purge is removing it) is looked up again until purge has taken
// it out of the index.
VersionChain* Engine::find_or_create_chain(std::string_view key,
                                           const VersionChain::FirstVersion* first, bool* created,
                                           Status* status) {
  *created = false;
  void* payload = nullptr;
  if (index_.find(key, &payload)) return static_cast<VersionChain*>(payload);
  VersionChain* fresh = VersionChain::create(key, first);
  if (fresh == nullptr || !charge(fresh->footprint_bytes())) {
    if (fresh != nullptr) VersionChain::destroy(fresh);
    *status = Status::kOutOfMemory;
    return nullptr;
  }
  void* stored = index_.insert_if_absent(key, fresh);
  if (stored != fresh) {
    uncharge(fresh->footprint_bytes());
    VersionChain::destroy(fresh);  // never published
  }
  *created = stored == fresh;
  return static_cast<VersionChain*>(stored);
}

Status Engine::write(Transaction& txn, std::string_view key, std::string_view value, bool tombstone,
                     bool lock) {
  if (txn.failed_) return Status::kTransactionDone;
  if (txn.read_only()) return Status::kInvalidArgument;
  if (const Status s = check_key(key); s != Status::kOk) return s;
  if (value.size() > options_.value_size_max) return Status::kTooLarge;

  // Memory first: a write that cannot be stored fails before it changes anything. Deletes
  // are charged but always accepted, so a full store can be emptied; they stay bounded, since
  // a delete writes only over a visible value.
  const size_t bytes = sizeof(Version) + value.size();
  if (tombstone) {
    memory_used_.fetch_add(bytes, std::memory_order_relaxed);
  } else if (!charge(bytes)) {
    return Status::kOutOfMemory;
  }
  if (txn.id_ == mvcc::kNoTrx) {
    txn.id_ = trx_sys_.begin_rw();  // ids only for read-write work, at the first write
    txn.view_->set_creator(txn.id_);
  }
  // A new key's first version is made inside its chain's allocation (find_or_create_chain);
  // otherwise apart, once, whatever chain the loop ends on.
  const VersionChain::FirstVersion first{mvcc::uncommitted_stamp(txn.id_), value, tombstone, lock};
  Version* version = nullptr;
  for (;;) {
    Status status = Status::kOk;
    bool created = false;
    VersionChain* chain =
        find_or_create_chain(key, version == nullptr ? &first : nullptr, &created, &status);
    if (chain == nullptr) {
      if (version != nullptr) Version::destroy(version);
      uncharge(bytes);
      return status;
    }
    if (version == nullptr && created) version = chain->embedded();
    if (version == nullptr) version = Version::create(first.stamp, value, tombstone, lock);
    if (version == nullptr) {
      uncharge(bytes);
      return Status::kOutOfMemory;
    }
    sync::MutexGuard guard(chain->mutex());
    if (chain->dead()) continue;  // being removed by purge: look up again
    const mvcc::Version* head = chain->head();
    const bool already_mine = head != nullptr && head->stamp() == mvcc::uncommitted_stamp(txn.id_);
    if (chain->check_write(txn.id_, txn.view_->snapshot(), trx_sys_) ==
        mvcc::WriteCheck::kConflict) {
      Version::destroy(version);
      uncharge(bytes);
      txn.failed_ = true;
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      // Turned away by another's uncommitted write (not a commit after our snapshot): note
      // the holder.
      if (head != nullptr && (head->stamp() & mvcc::kStampUncommitted) != 0) {
        txn.blocked_by_ = head->stamp() & ~mvcc::kStampUncommitted;
        note_contention(txn.blocked_by_, key);
      }
      return Status::kConflict;
    }
    if (lock && already_mine) {  // a key it wrote or holds already stays held
      Version::destroy(version);
      uncharge(bytes);
      return Status::kOk;
    }
    chain->push(version);
    txn.versions_.push_back(version);
    if (lock) ++txn.locks_;
    if (!already_mine) {
      // Counted now, while the chain is known alive: purge keeps it until this
      // transaction's history entry is trimmed, whatever becomes of the version.
      mvcc::Purger::reserve_history(chain);
      txn.write_set_.push_back(chain);
    }
    return Status::kOk;
  }
}

void Engine::note_contention(mvcc::TrxId holder, std::string_view key) {
  const int64_t now = sync::coarse_now_ns();
  sync::MutexGuard guard(contention_mu_);
  auto it = std::find_if(contention_.begin(), contention_.end(),
                         [&](const Contention& c) { return c.holder == holder; });
  if (it == contention_.end()) {
    if (contention_.size() < kContentionMax) {
      it = contention_.emplace(contention_.end());
    } else {  // the least recently contended makes room
      it = std::min_element(
          contention_.begin(), contention_.end(),
          [](const Contention& a, const Contention& b) { return a.last_ns < b.last_ns; });
    }
    *it = Contention{holder, 0, {}, now, now};
  }
  ++it->conflicts;
  it->key.assign(key.substr(0, kContentionKeyShown));
  it->last_ns = now;
}

std::vector<Contention> Engine::contention() const {
  std::vector<Contention> out;
  {
    sync::MutexGuard guard(contention_mu_);
    out = contention_;
  }
  std::sort(out.begin(), out.end(),
            [](const Contention& a, const Contention& b) { return a.last_ns > b.last_ns; });
  return out;
}

Status Engine::scan(Transaction& txn, const ScanOptions& options, std::vector<KeyValue>* out,
                    ScanProgress* progress) {
  out->clear();
  ScanProgress local;
  ScanProgress& p = progress != nullptr ? *progress : local;
  p = ScanProgress{};
  if (options.limit == 0) return Status::kInvalidArgument;
  const ReadView& view = *txn.view_;
  BTreeRange range{options.start, options.end, options.prefix};
  size_t bytes = 0;
  bool full = false;  // the limits are reached: looking for one more visible key
  index_.scan(range, options.reverse, std::numeric_limits<size_t>::max(),
              [&](std::string_view key, void* payload) {
                if (p.visited == options.visits_max ||
                    (p.visited % ScanOptions::kStepAsideEvery == 0 && p.visited != 0 &&
                     options.step_aside && options.step_aside())) {
                  p.more = p.cut = true;
                  p.next_key.assign(key);
                  return false;
                }
                ++p.visited;
                const Version* v =
                    static_cast<VersionChain*>(payload)->find_visible(view, trx_sys_);
                if (v == nullptr || v->tombstone()) return true;
                if (full) {
                  p.more = true;
                  return false;
                }
                out->push_back(KeyValue{std::string(key), std::string(v->value())});
                bytes += key.size() + v->value().size();
                full = out->size() >= options.limit || bytes >= options.bytes_max;
                return !full || progress != nullptr;
              });
  return Status::kOk;
}

void Engine::end_transaction(Transaction& txn) {
  mvcc_.close_view(txn.view_);
  txn.view_ = nullptr;
}

Status Engine::prepare_commit(const Transaction& txn, std::vector<RedoOp>* redo) const {
  redo->clear();
  if (txn.failed_) return Status::kTransactionDone;
  for (VersionChain* chain : txn.write_set_) {
    // Its own newest version heads the chain: nobody stacks a version on an uncommitted one
    // (they get kConflict), and purge never unlinks a head.
    const Version* own = chain->head();
    assert(own != nullptr && own->stamp() == mvcc::uncommitted_stamp(txn.id_));
    if (own->lock()) continue;  // held, not written: nothing to redo
    redo->push_back(RedoOp{own->tombstone(), chain->key(),
                           own->tombstone() ? std::string_view() : own->value()});
  }
  return Status::kOk;
}

Status Engine::commit(std::unique_ptr<Transaction> txn, mvcc::Csn* commit_csn) {
  if (commit_csn != nullptr) *commit_csn = mvcc::kNoCsn;
  if (txn->failed_) {
    abort(std::move(txn));
    return Status::kTransactionDone;
  }
  if (txn->id_ == mvcc::kNoTrx) {  // read-only work, or no write happened
    end_transaction(*txn);
    return Status::kOk;
  }
  const mvcc::Csn csn = trx_sys_.commit(txn->id_);
  for (Version* v : txn->versions_) {
    if (!v->lock()) v->stamp_committed(csn);
  }
  // Only now: until the release, a writer that meets a lock is turned away (check_write),
  // so whatever it writes after is ordered after this commit.
  if (txn->locks_ != 0) release_locks(*txn);
  trx_sys_.forget(txn->id_);  // only after every version is stamped (mvcc/version.cc)
  if (commit_csn != nullptr) *commit_csn = csn;
  purger_.add_reserved_history(csn, std::move(txn->write_set_));
  end_transaction(*txn);
  return Status::kOk;
}

void Engine::release_locks(Transaction& txn) {
  const uint64_t mine = mvcc::uncommitted_stamp(txn.id_);
  for (VersionChain* chain : txn.write_set_) {
    if (const Version* head = chain->head(); head == nullptr || !head->lock()) continue;
    Version* unlinked;
    {
      sync::MutexGuard guard(chain->mutex());
      unlinked = chain->unlink_own(txn.id_);  // its lock: the only version still unstamped
    }
    purger_.retire_unlinked(unlinked, mine);
  }
}

void Engine::abort(std::unique_ptr<Transaction> txn) {
  if (txn->id_ != mvcc::kNoTrx) {
    const uint64_t mine = mvcc::uncommitted_stamp(txn->id_);
    for (VersionChain* chain : txn->write_set_) {
      Version* unlinked;
      {
        sync::MutexGuard guard(chain->mutex());
        unlinked = chain->unlink_own(txn->id_);
      }
      purger_.retire_unlinked(unlinked, mine);
    }
    trx_sys_.abort(txn->id_);
    trx_sys_.forget(txn->id_);
    // Chains left empty leave the index through purge.
    purger_.add_reserved_history(trx_sys_.visible_csn(), std::move(txn->write_set_));
  }
  end_transaction(*txn);
}

// ---- Bulk load ------------------------------------------------------------------------

std::unique_ptr<BulkLoad> Engine::begin_bulk_load() {
  const mvcc::TrxId id = trx_sys_.begin_rw();
  const mvcc::Csn csn = trx_sys_.commit(id);
  trx_sys_.forget(id);  // it has no version left unstamped: each is made stamped
  return std::unique_ptr<BulkLoad>(new BulkLoad(this, csn, &index_));
}

Status BulkLoad::add(std::string_view key, std::string_view value) {
  if (const Status s = engine_->check_key(key); s != Status::kOk) return s;
  if (value.size() > engine_->options_.value_size_max) return Status::kTooLarge;
  const VersionChain::FirstVersion first{csn_, value, false};
  VersionChain* chain = VersionChain::create(key, &first);
  if (chain == nullptr) return Status::kOutOfMemory;
  // What a transaction's write of a new key charges: the chain and its version.
  const size_t bytes = chain->footprint_bytes() + chain->embedded()->footprint_bytes();
  if (!engine_->charge(bytes)) {
    VersionChain::destroy(chain);
    return Status::kOutOfMemory;
  }
  {
    sync::MutexGuard guard(chain->mutex());  // uncontended: not yet published
    chain->push(chain->embedded());
  }
  if (!appender_.append(key, chain)) {
    engine_->uncharge(bytes);
    VersionChain::destroy(chain);
    return Status::kInvalidArgument;
  }
  return Status::kOk;
}

// ---- Sessions and autocommit ----------------------------------------------------------

Status Engine::open_session(std::unique_ptr<Session>* session, uint64_t id) {
  ReadView* view = mvcc_.open_view(mvcc::kNoTrx, id);
  if (view == nullptr) return Status::kTooManyViews;
  mvcc_.release_view(view);  // inactive between requests: it does not hold purge back
  auto s = std::make_unique<Session>();
  s->view_ = view;
  s->id_ = id;
  *session = std::move(s);
  return Status::kOk;
}

void Engine::close_session(std::unique_ptr<Session> session) {
  mvcc_.close_view(session->view_);
}

Status Engine::get(Session& session, std::string_view key, std::string* value) {
  return get_with(session, key, [value](std::string_view v, mvcc::Csn) { value->assign(v); });
}

Status Engine::get(Session& session, std::string_view key, ValueSink sink, void* context) {
  if (const Status s = check_key(key); s != Status::kOk) return s;
  mvcc_.reuse_view(session.view_);
  // The version stays while the view is active: purge frees none that an active view sees.
  const Version* v = visible(*session.view_, key);
  if (v != nullptr) sink(context, v->value(), version_csn(*session.view_, *v));
  mvcc_.release_view(session.view_);
  return v != nullptr ? Status::kOk : Status::kNotFound;
}

Status Engine::put(Session&, std::string_view key, std::string_view value) {
  std::unique_ptr<Transaction> txn;
  if (const Status s = begin(TxnMode::kReadWrite, &txn); s != Status::kOk) return s;
  if (const Status s = put(*txn, key, value); s != Status::kOk) {
    abort(std::move(txn));
    return s;
  }
  return commit(std::move(txn));
}

Status Engine::del(Session&, std::string_view key) {
  std::unique_ptr<Transaction> txn;
  if (const Status s = begin(TxnMode::kReadWrite, &txn); s != Status::kOk) return s;
  if (const Status s = del(*txn, key); s != Status::kOk) {
    abort(std::move(txn));
    return s;
  }
  return commit(std::move(txn));
}

// ---- Purge and statistics -------------------------------------------------------------

void Engine::remove_dead_chain(VersionChain* chain) {
  [[maybe_unused]] const bool removed = index_.remove_if(chain->key(), chain);
  assert(removed);
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.memory_used_bytes = memory_used_.load(std::memory_order_relaxed);
  s.memory_limit_bytes = options_.memory_limit_bytes;
  s.keys = index_.size();
  s.index_bytes = index_.memory_bytes();
  s.history_length = purger_.history_length();
  const mvcc::OldestView oldest = mvcc_.clone_oldest_view();
  s.oldest_view_age_ns = oldest.opened_ns != 0 ? sync::coarse_now_ns() - oldest.opened_ns : 0;
  s.active_views = mvcc_.active_view_count();
  s.trx_started = trx_sys_.started_count();
  s.trx_committed = trx_sys_.committed_count();
  s.trx_aborted = trx_sys_.aborted_count();
  s.trx_conflicted = conflicts_.load(std::memory_order_relaxed);
  s.purge = purger_.totals();
  s.purge_idle = purger_.idle();
  return s;
}

}  // namespace ringdb::daemon
