#include "chat_connection.hpp"

#include <algorithm>

namespace socketd::bench {
namespace {

constexpr size_t kMaxDigits = 13;  // --random-max is at most 10^12

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string_view ChatConnection::expected_message() const noexcept {
  return ctx_.payload.message(next_reply_, ctx_.options.size);
}

void ChatConnection::start_operation(int64_t scheduled, int64_t /*now*/) noexcept {
  queue(ctx_.payload.message(next_send_++, ctx_.options.size));
  if (ctx_.options.framing == Framing::kLine) queue("\n");
  pending_.push_back(scheduled);
}

void ChatConnection::on_connected(int64_t /*now*/) noexcept {
  if (!ctx_.options.greeting) {
    greeted_ = true;
    mark_established();
  }
}

void ChatConnection::on_bytes(std::string_view bytes, int64_t now) noexcept {
  if (!greeted_) {
    bytes = consume_greeting(bytes);
    if (!is_open() || bytes.empty()) return;
  }
  if (pending_.empty()) {
    fail(ErrorKind::kWrongReply);  // nothing asked, something answered
    return;
  }
  received_.append(bytes);
  if (ctx_.options.framing == Framing::kLine) {
    parse_line_replies(now);
  } else {
    parse_chunk_reply(/*drained=*/false, now);
  }
}

void ChatConnection::on_read_drained(int64_t now) noexcept {
  if (ctx_.options.framing == Framing::kChunk && !pending_.empty() && !received_.empty()) {
    parse_chunk_reply(/*drained=*/true, now);
  }
}

// Matches the greeting as it arrives, possibly in pieces; returns what follows it.
std::string_view ChatConnection::consume_greeting(std::string_view bytes) noexcept {
  const std::string_view rest = std::string_view(*ctx_.options.greeting).substr(greeting_offset_);
  const size_t n = std::min(rest.size(), bytes.size());
  if (bytes.substr(0, n) != rest.substr(0, n)) {
    fail(ErrorKind::kWrongReply);
    return {};
  }
  greeting_offset_ += n;
  if (n == rest.size()) {
    greeted_ = true;
    mark_established();
  }
  return bytes.substr(n);
}

ChatConnection::NumberCheck ChatConnection::check_number(std::string_view digits) const noexcept {
  NumberCheck check;
  if (digits.empty()) return check;
  if (digits.size() > kMaxDigits || !std::all_of(digits.begin(), digits.end(), is_digit) ||
      (digits.size() > 1 && digits.front() == '0')) {
    check.bad = true;
    return check;
  }
  uint64_t value = 0;
  for (const char c : digits) value = value * 10 + static_cast<uint64_t>(c - '0');
  const uint64_t min = ctx_.options.random_min;
  const uint64_t max = ctx_.options.random_max;
  check.final = digits == "0" || value > max / 10;  // one more digit would exceed max
  check.valid = value >= min && value <= max;
  check.bad = value > max || (check.final && !check.valid);
  return check;
}

void ChatConnection::parse_chunk_reply(bool drained, int64_t now) noexcept {
  const std::string_view message = expected_message();
  const std::string_view got = received_;
  const size_t n = std::min(message.size(), got.size());
  if (got.substr(0, n) != message.substr(0, n)) {
    fail(ErrorKind::kWrongReply);
    return;
  }
  if (got.size() <= message.size()) return;
  const NumberCheck number = check_number(got.substr(message.size()));
  if (number.bad) {
    fail(ErrorKind::kWrongReply);
  } else if (number.valid && (number.final || drained)) {
    received_.clear();
    finish_reply(now);
  }
}

void ChatConnection::parse_line_replies(int64_t now) noexcept {
  size_t start = 0;
  for (size_t end; (end = received_.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string_view line(received_.data() + start, end - start);
    if (pending_.empty()) {
      fail(ErrorKind::kWrongReply);
      return;
    }
    if (!echo_line_seen_) {
      if (line != expected_message()) {
        fail(ErrorKind::kWrongReply);
        return;
      }
      echo_line_seen_ = true;
      continue;
    }
    if (!check_number(line).valid) {
      fail(ErrorKind::kWrongReply);
      return;
    }
    echo_line_seen_ = false;
    finish_reply(now);
  }
  received_.erase(0, start);
  // An unterminated line longer than either kind of reply line is garbage.
  if (received_.size() > std::max(ctx_.options.size, kMaxDigits)) fail(ErrorKind::kWrongReply);
}

void ChatConnection::finish_reply(int64_t now) noexcept {
  complete(pending_.front(), now);
  pending_.pop_front();
  ++next_reply_;
}

}  // namespace socketd::bench
