// StreamUploadSession: the streaming upload protocol. The client sends one
// header line "UPLOAD <size>\n", then exactly <size> bytes, without acks. The
// server answers once: "OK <size> sha256=<hex>\n" after the file is durable
// (UploadTarget::commit), or "ERROR <what to fix>\n"; then it closes. Refusals
// that depend only on the size (max_upload_bytes, free space) come before any
// data is stored: no data is taken until the target is open. A connection that
// ends early leaves the file incomplete. The target hashes the bytes (off the
// event loop) and reports the digest with the commit.
//
// No fallocate of the declared size: it would let a client that declares a
// size and then sends nothing pin that much disk (RAM on tmpfs) until
// upload_timeout. Free space is checked instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "service/upload.hpp"

namespace socketd {

class StreamUploadSession final : public Session {
 public:
  // Opens the file for an upload of `size` bytes, hashing it; never null. An
  // ENOSPC failure means the file system lacks room for it on top of
  // min_free_bytes.
  using Opener = std::function<std::unique_ptr<UploadTarget>(uint64_t size, Wake)>;
  using Finished = UploadSession::Finished;
  using Refused = UploadSession::Refused;
  // "UPLOAD " + 20 digits + "\r\n" fits; anything longer is not a header.
  static constexpr size_t kMaxHeader = 32;

  StreamUploadSession(const UploadOptions& options, Opener open, Finished finished,
                      Refused refused = {})
      : options_(options),
        open_(std::move(open)),
        finished_(std::move(finished)),
        refused_(std::move(refused)) {}
  void on_data(std::span<const char> chunk, Reply& reply) override;
  void on_eof(Reply& reply) override;
  void on_close() override;
  void on_wake(Reply& reply) override { advance(reply); }
  bool accepts_input() const override;
  std::span<char> input_space() override;
  // The declared bytes still to come, at most kInputBatch.
  size_t input_batch() const override;
  // Woken per 256 KiB of body instead of per segment: a quarter of an upload
  // buffer, so that a buffer still fills in a few reads, and far fewer
  // wake-ups (and window updates, whose loopback work lands in our recv).
  static constexpr size_t kInputBatch = 256 << 10;

 private:
  enum class State { kHeader, kOpening, kData, kCommitting, kDone };

  // Consumes header bytes from the front of `chunk`; true once it is complete
  // and the file is being opened.
  bool read_header(std::span<const char>& chunk, Reply& reply);
  bool start(std::string_view line, Reply& reply);
  void store(std::span<const char> bytes, Reply& reply);
  // Acts on what the target reports: open refused, write failed, commit done.
  void advance(Reply& reply);
  // No upload started (bad header, too big, the file could not be made).
  void refuse(const std::string& reason, Reply& reply);
  void reply_error(const std::string& reason, Reply& reply);
  void fail(const std::string& reason, Reply& reply);
  void report(UploadResult::State state, std::string reason, std::string sha256);
  std::string cut_short_reason() const;

  const UploadOptions& options_;
  Opener open_;
  Finished finished_;
  Refused refused_;
  State state_ = State::kHeader;
  std::string header_;
  std::unique_ptr<UploadTarget> target_;
  uint64_t declared_ = 0;
  uint64_t received_ = 0;
};

}  // namespace socketd
