// UploadSession: the classic ack protocol. Each chunk (one read) is appended
// and acknowledged with the ack word; a chunk equal to the end word makes the
// file durable (UploadTarget::commit) and is answered with one more ack. A
// connection that ends any other way leaves the file marked incomplete.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "service/session.hpp"

namespace socketd {

// Where the bytes go; the real one is a file written by I/O threads
// (storage/upload_file.hpp), tests use memory. Every call returns at once:
// what takes time (opening, writing, making the file durable) finishes later,
// and the target then calls the wake function it was opened with, never from
// inside one of these calls. A target that finishes everything immediately
// (memory) is equally valid: sessions look at status() after each call.
class UploadTarget {
 public:
  enum class Status {
    kOpening,     // the file is being created; appends are kept meanwhile
    kOpen,        // taking appends
    kCommitting,  // commit() asked for; waiting for the disk
    kCommitted,   // durable under its final name
    kFailed,      // see error(); abandon() keeps what was stored
  };
  virtual ~UploadTarget() = default;
  virtual Status status() const = 0;
  virtual std::error_code error() const = 0;
  // Room for another append now. The bytes in flight to the disk are bounded:
  // while false the session reads nothing (the client's TCP window fills) and
  // the target wakes it once a buffer is back.
  virtual bool can_take() const { return true; }
  // Where the next read may land so that append() need not copy it (at most
  // `max` bytes); empty: no such place, read elsewhere.
  virtual std::span<char> write_space(size_t /*max*/) { return {}; }
  virtual void append(std::span<const char> bytes) = 0;
  // Bytes the file system has taken (write() returned): what survives a crash
  // of the daemon, though not yet one of the machine.
  virtual uint64_t stored() const = 0;
  // Flush, fsync, atomic rename to the final name, fsync the directory.
  virtual void commit() = 0;
  // Keeps what arrived under a name that marks it incomplete; no more wakes.
  virtual void abandon() = 0;
  virtual const std::string& name() const = 0;
  // Hex SHA-256 of the bytes, once committed, if the target was asked to hash.
  virtual std::string sha256() const { return {}; }
};

// How a session asks its connection to be called back (Reply::waker()).
using Wake = std::function<void()>;

struct UploadOptions {
  std::string_view ack_word = "success";
  std::string_view end_word = "quit";
  uint64_t max_bytes = 0;  // 0: unlimited
};

// Outcome reported once per upload, for logging and counters.
struct UploadResult {
  enum class State { kFinished, kIncomplete } state = State::kIncomplete;
  std::string file;
  uint64_t bytes = 0;
  std::string reason;  // why incomplete
  std::string sha256;  // hex digest of a finished stream upload; else empty
};

class UploadSession final : public Session {
 public:
  // Never null: a target that cannot be opened says so through status().
  using Opener = std::function<std::unique_ptr<UploadTarget>(Wake)>;
  using Finished = std::function<void(const UploadResult&)>;
  // The upload could not start (no file was made); `reason` is what the
  // client was told.
  using Refused = std::function<void(std::string_view reason)>;

  // The file is opened on the first chunk, so a connection that sends nothing
  // leaves nothing behind. Each chunk is acknowledged once it is stored
  // (written to the file system, so a crash of the daemon keeps it); the next
  // chunk is read only then. The opener should write each append at once.
  UploadSession(const UploadOptions& options, Opener open, Finished finished, Refused refused = {})
      : options_(options),
        open_(std::move(open)),
        finished_(std::move(finished)),
        refused_(std::move(refused)) {}
  void on_data(std::span<const char> chunk, Reply& reply) override;
  void on_eof(Reply& reply) override;
  void on_close() override;
  void on_wake(Reply& reply) override { advance(reply); }
  bool accepts_input() const override;

 private:
  enum class State { kIdle, kOpening, kOpen, kCommitting, kDone };
  // Acts on what the target reports: owed acks, failures, the durable ack.
  void advance(Reply& reply);
  void fail(std::string reason, Reply& reply);
  void report(UploadResult::State state, std::string reason);

  const UploadOptions& options_;
  Opener open_;
  Finished finished_;
  Refused refused_;
  std::unique_ptr<UploadTarget> target_;
  uint64_t bytes_ = 0;
  State state_ = State::kIdle;
  bool ack_owed_ = false;  // the last chunk is not acknowledged until stored
  bool commit_after_open_ = false;  // the first chunk was the end word
};

}  // namespace socketd
