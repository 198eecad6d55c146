#include "upload_connection.hpp"

#include <algorithm>

namespace socketd::bench {
namespace {

constexpr std::string_view kAck = "success";
constexpr std::string_view kEndWord = "quit";

}  // namespace

void UploadConnection::start_operation(int64_t scheduled, int64_t now) noexcept {
  scheduled_ = scheduled;
  sent_ = 0;
  ack_matched_ = 0;
  state_ = State::kIdle;
  open_socket(now);
}

void UploadConnection::send_next() noexcept {
  const uint64_t file_size = ctx_.options.file_size;
  // With --abort-after, stop once that much is sent and acked, and hold.
  const uint64_t limit = ctx_.options.abort_after.value_or(file_size);
  if (sent_ >= limit && limit < file_size) {
    state_ = State::kHolding;
    return;
  }
  if (sent_ < file_size) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(ctx_.options.chunk, limit - sent_));
    queue(ctx_.payload.message(chunk_seq_++, n));
    sent_ += n;
    state_ = State::kAwaitAck;
  } else {
    queue(kEndWord);
    state_ = State::kAwaitDurable;
  }
  flush();
}

void UploadConnection::on_bytes(std::string_view bytes, int64_t now) noexcept {
  while (!bytes.empty()) {
    if (state_ == State::kIdle || state_ == State::kAwaitEof || state_ == State::kHolding) {
      fail(ErrorKind::kWrongReply);  // an ack nobody asked for
      return;
    }
    const size_t n = std::min(kAck.size() - ack_matched_, bytes.size());
    if (bytes.substr(0, n) != kAck.substr(ack_matched_, n)) {
      fail(ErrorKind::kWrongReply);
      return;
    }
    bytes.remove_prefix(n);
    ack_matched_ += n;
    if (ack_matched_ == kAck.size()) {
      ack_matched_ = 0;
      on_ack(now);
      if (!is_open()) return;
    }
  }
}

void UploadConnection::on_ack(int64_t /*now*/) noexcept {
  if (state_ == State::kAwaitAck) {
    send_next();
    return;
  }
  // The durable ack, if nothing but the server's FIN follows it.
  state_ = State::kAwaitEof;
}

void UploadConnection::on_eof(int64_t now) noexcept {
  if (state_ != State::kAwaitEof) {
    fail(ErrorKind::kUnexpectedEof);
    return;
  }
  // The file is fsync'ed and renamed.
  ctx_.stats.add_payload(ctx_.options.file_size);
  complete(scheduled_, now);
  state_ = State::kIdle;
  close_socket();
}

void UploadConnection::release_abort(int64_t /*now*/) noexcept {
  if (state_ != State::kHolding) return;
  state_ = State::kIdle;
  reset_connection();
}

}  // namespace socketd::bench
