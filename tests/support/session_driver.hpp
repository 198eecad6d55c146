// Drives a pure protocol Session in unit and fuzz tests: a Reply that records what the
// session sent and when it closed (and forwards wakes to the session, as the
// connection does from its event loop), and every way to split an input.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/session.hpp"

namespace socketd::test {

class RecordingReply final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    if (close_calls > 0) sent_after_close = true;
    sends.push_back(std::string(first) + std::string(second));
    parts.push_back({std::string(first), std::string(second)});
    bytes.append(first).append(second);
    ++send_calls;
  }
  bool closed() const { return close_calls > 0; }
  void close() override {
    if (close_calls++ == 0) bytes_at_close = bytes.size();
  }
  // Runs wake_session->on_wake(*this), if set; the test owns both lifetimes.
  std::function<void()> waker() override {
    return [this] {
      ++wakes;
      if (wake_session != nullptr) wake_session->on_wake(*this);
    };
  }

  std::string bytes;
  std::vector<std::string> sends;  // one entry per send() call
  struct Parts {
    std::string first;
    std::string second;
  };
  std::vector<Parts> parts;  // the same, as the two halves the session passed
  int send_calls = 0;
  int close_calls = 0;
  size_t bytes_at_close = 0;
  bool sent_after_close = false;
  Session* wake_session = nullptr;
  int wakes = 0;
};

// One read's worth of bytes.
inline void feed(Session& session, RecordingReply& reply, std::string_view piece) {
  session.on_data(std::span<const char>(piece.data(), piece.size()), reply);
}

// Every way to cut `s` into one, two or three non-empty pieces, plus one byte
// at a time: "split and coalesced at every offset (and every pair of offsets)".
inline std::vector<std::vector<std::string>> all_splits(std::string_view s) {
  std::vector<std::vector<std::string>> out;
  out.push_back({std::string(s)});
  for (size_t i = 1; i < s.size(); ++i) {
    out.push_back({std::string(s.substr(0, i)), std::string(s.substr(i))});
    for (size_t j = i + 1; j < s.size(); ++j) {
      out.push_back(
          {std::string(s.substr(0, i)), std::string(s.substr(i, j - i)), std::string(s.substr(j))});
    }
  }
  std::vector<std::string> bytes;
  for (char c : s) bytes.emplace_back(1, c);
  out.push_back(std::move(bytes));
  return out;
}

// "[ab][c]": a split, for failure messages.
inline std::string describe(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += "[" + p + "]";
  return out;
}

}  // namespace socketd::test
