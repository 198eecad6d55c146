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

// Where the bytes go; the real one is a file (upload_store.hpp), tests use memory.
class UploadTarget {
 public:
  virtual ~UploadTarget() = default;
  virtual std::error_code append(std::span<const char> bytes) = 0;
  // Flush, fsync, atomic rename to the final name, fsync the directory.
  virtual std::error_code commit() = 0;
  // Keeps what arrived under a name that marks it incomplete.
  virtual void abandon() = 0;
  virtual const std::string& name() const = 0;
};

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
  using Opener = std::function<std::unique_ptr<UploadTarget>(std::error_code&)>;
  using Finished = std::function<void(const UploadResult&)>;

  // The file is opened on the first chunk, so a connection that sends nothing
  // leaves nothing behind.
  UploadSession(const UploadOptions& options, Opener open, Finished finished)
      : options_(options), open_(std::move(open)), finished_(std::move(finished)) {}
  void on_data(std::span<const char> chunk, Reply& reply) override;
  void on_eof(Reply& reply) override;
  void on_close() override;

 private:
  void fail(std::string reason, Reply& reply);
  void report(UploadResult::State state, std::string reason);

  const UploadOptions& options_;
  Opener open_;
  Finished finished_;
  std::unique_ptr<UploadTarget> target_;
  uint64_t bytes_ = 0;
  bool done_ = false;
};

}  // namespace socketd
