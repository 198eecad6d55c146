// MemoryUploadTarget: the one in-memory UploadTarget of the unit tests, the
// fuzzers and the micro benchmarks. It keeps the bytes in a MemoryUploadLog
// that outlives it, checks that sessions follow the target protocol, fails on
// demand, and either completes every operation at once (synchronous, like a
// memory target) or keeps them pending until the test calls complete_next()
// (asynchronous, like the file target on the I/O threads), which then calls
// the Wake the opener received. Header-only and without gtest, so the
// fuzzers can use it; violations are recorded (and optionally reported
// through on_violation) instead of asserted.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "service/sha256.hpp"
#include "service/stream_upload.hpp"
#include "service/upload.hpp"

namespace socketd::test {

class MemoryUploadTarget;

// How the targets behave, and what they saw. One upload at a time: `target`
// is the live one, which complete_next() drives.
struct MemoryUploadLog {
  // Behaviour.
  bool async = false;                // operations stay pending until complete_next()
  size_t max_pending_appends = 0;    // async: can_take() false at this many; 0: no limit
  std::error_code open_error;        // opening fails with this (status kFailed)
  uint64_t fail_append_number = 0;   // the n-th append (1-based) fails; 0: never
  std::error_code append_error = std::make_error_code(std::errc::no_space_on_device);
  std::error_code commit_error;      // commit fails with this
  size_t write_space_bytes = 0;      // write_space() offers this much; 0: none
  bool keep_data = true;             // false: count bytes only (benchmarks)
  bool hash = true;                  // sha256() of the stored bytes once committed
  std::function<void(const std::string&)> on_violation;  // besides `violations`

  // What happened.
  int opens = 0;
  std::vector<uint64_t> opened_for;  // the size each open was given (0: classic)
  uint64_t appends = 0;              // append() calls on a target still taking
  int commits = 0;
  int abandons = 0;
  int completions = 0;               // operations completed by complete_next()
  int wakes = 0;                     // Wake calls made by the targets
  int zero_copy_appends = 0;         // appends of bytes inside write_space()
  bool committed = false;
  uint64_t stored_bytes = 0;         // bytes that reached `data` (kept or not)
  uint64_t taken_bytes = 0;          // bytes of appends the target did not refuse at once
  std::string data;
  std::vector<UploadResult> results;  // filled by record_results()
  std::vector<std::string> violations;
  MemoryUploadTarget* target = nullptr;

  inline bool complete_next();
  void complete_all() {
    while (complete_next()) {
    }
  }
  inline size_t pending() const;

  void violation(const std::string& what) {
    violations.push_back(what);
    if (on_violation) on_violation(what);
  }
};

class MemoryUploadTarget final : public UploadTarget {
 public:
  MemoryUploadTarget(MemoryUploadLog& log, uint64_t declared, Wake wake)
      : log_(log), wake_(std::move(wake)) {
    if (log_.hash) hash_.emplace();
    ++log_.opens;
    if (log_.keep_data) log_.opened_for.push_back(declared);
    if (log_.target != nullptr) log_.violation("two targets open at once");
    log_.target = this;
    if (log_.async) {
      status_ = Status::kOpening;
      pending_.push_back({Op::kOpen, {}, false});
    } else if (log_.open_error) {
      fail(log_.open_error);
    } else {
      status_ = Status::kOpen;
    }
  }
  ~MemoryUploadTarget() override {
    if (log_.target == this) log_.target = nullptr;
  }
  MemoryUploadTarget(const MemoryUploadTarget&) = delete;
  MemoryUploadTarget& operator=(const MemoryUploadTarget&) = delete;

  Status status() const override { return status_; }
  std::error_code error() const override { return error_; }

  bool can_take() const override {
    if (abandoned_ || (status_ != Status::kOpening && status_ != Status::kOpen)) return false;
    return log_.max_pending_appends == 0 || pending_appends() < log_.max_pending_appends;
  }

  std::span<char> write_space(size_t max) override {
    if (log_.write_space_bytes == 0 || !can_take()) return {};
    space_.resize(log_.write_space_bytes);
    return {space_.data(), std::min(max, space_.size())};
  }

  void append(std::span<const char> bytes) override {
    if (commit_called_ || abandoned_) log_.violation("append after commit or abandon");
    if (!can_take() && status_ != Status::kFailed) {
      log_.violation("append while can_take() is false");
    }
    if (!space_.empty() && bytes.data() >= space_.data() &&
        bytes.data() + bytes.size() <= space_.data() + space_.size()) {
      ++log_.zero_copy_appends;
    }
    if (status_ == Status::kFailed || commit_called_ || abandoned_) return;  // as a file would
    const bool fails = ++log_.appends == log_.fail_append_number;
    if (log_.async) {
      pending_.push_back({Op::kAppend, std::string(bytes.data(), bytes.size()), fails});
      log_.taken_bytes += bytes.size();
      return;
    }
    if (fails) {
      fail(log_.append_error);
      return;
    }
    log_.taken_bytes += bytes.size();
    store(bytes);
  }

  uint64_t stored() const override { return stored_; }

  void commit() override {
    if (commit_called_ || abandoned_) log_.violation("commit after commit or abandon");
    if (commit_called_ || abandoned_) return;
    commit_called_ = true;
    ++log_.commits;
    if (status_ == Status::kFailed) return;  // a failed file is never made durable
    if (log_.async) {
      status_ = Status::kCommitting;
      pending_.push_back({Op::kCommit, {}, false});
      return;
    }
    finish_commit();
  }

  void abandon() override {
    if (abandoned_) log_.violation("abandoned twice");
    if (status_ == Status::kCommitted) log_.violation("abandon after a successful commit");
    if (abandoned_) return;
    abandoned_ = true;
    ++log_.abandons;
    wake_ = nullptr;
    // Like the file: every byte that arrived is kept (unless the file never
    // came to be), a commit not yet done never happens.
    bool exists = status_ != Status::kFailed;
    for (auto& op : pending_) {
      if (op.kind == Op::kOpen && log_.open_error) exists = false;
      if (op.kind == Op::kAppend && exists && !op.fails) store(as_span(op.bytes));
      if (op.kind == Op::kAppend && op.fails) break;
    }
    pending_.clear();
    name_ = "upload-1.incomplete";
  }

  const std::string& name() const override { return name_; }
  std::string sha256() const override { return digest_; }

  // The oldest pending operation finishes, then the wake runs.
  bool complete_next() {
    if (pending_.empty()) return false;
    Pending op = std::move(pending_.front());
    pending_.pop_front();
    switch (op.kind) {
      case Op::kOpen:
        if (log_.open_error) {
          fail(log_.open_error);
        } else if (status_ == Status::kOpening) {
          status_ = Status::kOpen;
        }
        break;
      case Op::kAppend:
        if (op.fails) {
          fail(log_.append_error);
        } else {
          store(as_span(op.bytes));
        }
        break;
      case Op::kCommit:
        finish_commit();
        break;
    }
    ++log_.completions;
    if (wake_) {
      ++log_.wakes;
      const Wake wake = wake_;  // the session may abandon (and drop wake_) from here
      wake();
    }
    return true;
  }

  size_t pending() const { return pending_.size(); }

 private:
  enum class Op { kOpen, kAppend, kCommit };
  struct Pending {
    Op kind;
    std::string bytes;
    bool fails;
  };

  static std::span<const char> as_span(const std::string& s) { return {s.data(), s.size()}; }

  size_t pending_appends() const {
    size_t n = 0;
    for (const auto& op : pending_) n += op.kind == Op::kAppend;
    return n;
  }

  void store(std::span<const char> bytes) {
    stored_ += bytes.size();
    log_.stored_bytes += bytes.size();
    if (log_.keep_data) log_.data.append(bytes.data(), bytes.size());
    if (hash_) hash_->update(bytes);
  }

  // After a failure only abandon() still means something.
  void fail(std::error_code ec) {
    status_ = Status::kFailed;
    error_ = ec;
    pending_.clear();
  }

  void finish_commit() {
    if (log_.commit_error) {
      fail(log_.commit_error);
      return;
    }
    status_ = Status::kCommitted;
    log_.committed = true;
    name_ = "upload-1";
    if (hash_) digest_ = hash_->hex_digest();
  }

  MemoryUploadLog& log_;
  Wake wake_;
  Status status_ = Status::kOpening;
  std::error_code error_;
  std::deque<Pending> pending_;
  bool commit_called_ = false;
  bool abandoned_ = false;
  std::string name_ = ".upload-1.part";
  std::string digest_;
  uint64_t stored_ = 0;
  std::optional<Sha256> hash_;  // only if asked: a context costs an allocation
  std::vector<char> space_;
};

bool MemoryUploadLog::complete_next() { return target != nullptr && target->complete_next(); }
size_t MemoryUploadLog::pending() const { return target == nullptr ? 0 : target->pending(); }

inline UploadSession::Opener memory_opener(MemoryUploadLog& log) {
  return [&log](Wake wake) -> std::unique_ptr<UploadTarget> {
    return std::make_unique<MemoryUploadTarget>(log, 0, std::move(wake));
  };
}

inline StreamUploadSession::Opener memory_stream_opener(MemoryUploadLog& log) {
  return [&log](uint64_t size, Wake wake) -> std::unique_ptr<UploadTarget> {
    return std::make_unique<MemoryUploadTarget>(log, size, std::move(wake));
  };
}

inline UploadSession::Finished record_results(MemoryUploadLog& log) {
  return [&log](const UploadResult& result) { log.results.push_back(result); };
}

}  // namespace socketd::test
