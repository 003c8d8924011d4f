// Cursor (ringdb/client.h): a range read page by page through scans in one transaction, each
// page starting just past the previous page's last key.
#include <string>
#include <utility>

#include "ringdb/client.h"

namespace ringdb {

Cursor::Cursor(Transaction* txn, std::unique_ptr<Transaction> own, const CursorOptions& options)
    : txn_(txn), own_(std::move(own)) {
  next_page_.start = options.start;
  next_page_.end = options.end;
  next_page_.prefix = options.prefix;
  next_page_.limit = options.page_items;
  next_page_.reverse = options.reverse;
}

Cursor::~Cursor() = default;  // an autocommit cursor's transaction aborts with own_

Status Cursor::next() {
  if (failed_ != Status::kOk) return failed_;
  while (at_ == page_.size()) {
    if (!more_) return Status::kNotFound;
    if (const Status s = fetch(); s != Status::kOk) {
      failed_ = s;
      page_.clear();
      at_ = 0;
      return s;
    }
  }
  ++at_;
  return Status::kOk;
}

Status Cursor::fetch() {
  page_.clear();
  at_ = 0;
  bool truncated = false;
  if (const Status s = txn_->scan(next_page_, &page_, &truncated); s != Status::kOk) return s;
  more_ = truncated;
  if (page_.empty()) {
    // More keys but none returned: an item larger than the answer can hold. Going on from
    // the same place would ask for it again, for ever.
    return more_ ? Status::kResponseAreaFull : Status::kOk;
  }
  // The scan answers from its snapshot, so the next page begins just past this one's end.
  const std::string& last = page_.back().key;
  if (next_page_.reverse) {
    next_page_.end = last;
  } else {
    next_page_.start = last + '\0';
  }
  return Status::kOk;
}

Status Client::open_cursor(const CursorOptions& options, std::unique_ptr<Cursor>* out) {
  out->reset();
  if (options.page_items == 0) return Status::kInvalidArgument;
  std::unique_ptr<Transaction> own;
  if (const Status s = begin(&own, /*read_only=*/true); s != Status::kOk) return s;
  Transaction* txn = own.get();
  out->reset(new Cursor(txn, std::move(own), options));
  return Status::kOk;
}

Status Transaction::open_cursor(const CursorOptions& options, std::unique_ptr<Cursor>* out) {
  out->reset();
  if (options.page_items == 0) return Status::kInvalidArgument;
  if (!open()) return Status::kUnknownTransaction;
  out->reset(new Cursor(this, nullptr, options));
  return Status::kOk;
}

}  // namespace ringdb
