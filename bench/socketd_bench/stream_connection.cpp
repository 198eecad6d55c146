#include "stream_connection.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

namespace socketd::bench {
namespace {

// Byte i of every file is the payload pattern's byte i: window k starts at
// letter (offset % 26), so consecutive windows continue the pattern.
std::string_view file_window(const Payload& payload, uint64_t offset, uint64_t size) {
  const auto n = static_cast<size_t>(std::min<uint64_t>(StreamConnection::kWindow, size - offset));
  return payload.message(offset, n);
}

}  // namespace

std::string StreamConnection::expected_reply(const Payload& payload, uint64_t size) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  for (uint64_t offset = 0; offset < size;) {
    const auto window = file_window(payload, offset, size);
    EVP_DigestUpdate(ctx.get(), window.data(), window.size());
    offset += window.size();
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string reply = "OK " + std::to_string(size) + " sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    reply.push_back(kHex[digest[i] >> 4]);
    reply.push_back(kHex[digest[i] & 0xf]);
  }
  reply.push_back('\n');
  return reply;
}

void StreamConnection::start_operation(int64_t scheduled, int64_t now) noexcept {
  scheduled_ = scheduled;
  sent_ = 0;
  reply_.clear();
  state_ = State::kSending;
  open_socket(now);
}

void StreamConnection::on_connected(int64_t /*now*/) noexcept {
  // Sent by the next flush(); the file bytes follow from on_writable().
  queue("UPLOAD " + std::to_string(ctx_.options.file_size) + "\n");
}

void StreamConnection::on_writable(int64_t now) noexcept {
  const uint64_t size = ctx_.options.file_size;
  // With --abort-after, send only that much of the file, then hold.
  const uint64_t limit = ctx_.options.abort_after.value_or(size);
  while (state_ == State::kSending && sent_ < limit) {
    const auto window = file_window(ctx_.payload, sent_, limit);
    const size_t n = send_direct(window, now);
    sent_ += n;
    if (n < window.size()) return;  // full (on_writable() follows) or failed
  }
  if (state_ == State::kSending && limit < size) {
    state_ = State::kHolding;
    return;
  }
  if (state_ == State::kSending) {
    // All sent: say so, as a client without a length-aware reader would.
    shutdown_write();
    state_ = State::kAwaitReply;
  }
}

void StreamConnection::on_bytes(std::string_view bytes, int64_t now) noexcept {
  const std::string& expected = ctx_.stream_reply;
  reply_.append(bytes);
  // Anything but a prefix of the expected line (an ERROR, a reply before the
  // whole file was sent) is wrong.
  if (state_ != State::kAwaitReply || reply_.size() > expected.size() ||
      expected.compare(0, reply_.size(), reply_) != 0) {
    fail(ErrorKind::kWrongReply);
    return;
  }
  if (reply_.size() < expected.size()) return;
  ctx_.stats.add_payload(ctx_.options.file_size);
  complete(scheduled_, now);
  state_ = State::kIdle;
  close_socket();  // the reply is the last byte the server sends
}

void StreamConnection::release_abort(int64_t /*now*/) noexcept {
  if (state_ != State::kHolding) return;
  state_ = State::kIdle;
  reset_connection();
}

}  // namespace socketd::bench
