#include "echo_connection.hpp"

#include <algorithm>

namespace socketd::bench {

void EchoConnection::start_operation(int64_t scheduled, int64_t /*now*/) noexcept {
  queue(ctx_.payload.message(next_send_++, ctx_.options.size));
  pending_.push_back(scheduled);
}

void EchoConnection::on_bytes(std::string_view bytes, int64_t now) noexcept {
  const size_t size = ctx_.options.size;
  while (!bytes.empty()) {
    if (pending_.empty()) {
      fail(ErrorKind::kWrongReply);  // more bytes than we sent
      return;
    }
    const auto expected = ctx_.payload.message(next_reply_, size).substr(reply_offset_);
    const size_t n = std::min(expected.size(), bytes.size());
    if (bytes.substr(0, n) != expected.substr(0, n)) {
      fail(ErrorKind::kWrongReply);
      return;
    }
    bytes.remove_prefix(n);
    reply_offset_ += n;
    if (reply_offset_ == size) {
      complete(pending_.front(), now);
      pending_.pop_front();
      ++next_reply_;
      reply_offset_ = 0;
    }
  }
}

}  // namespace socketd::bench
