#include "service/chat.hpp"

#include <algorithm>
#include <charconv>

namespace socketd {

void ChatSession::on_open(Reply& reply) {
  if (!options_.greeting.empty()) reply.send(options_.greeting);
}

bool ChatSession::answer(std::string_view message, std::string_view suffix, Reply& reply) {
  if (strip_one_newline(message) == options_.exit_word) {
    done_ = true;
    reply.close();
    return false;
  }
  char digits[24];
  auto* end = std::to_chars(digits, digits + sizeof digits,
                            random_.uniform(options_.random_min, options_.random_max)).ptr;
  end = std::copy(suffix.begin(), suffix.end(), end);
  reply.send(message, std::string_view(digits, static_cast<size_t>(end - digits)));
  return true;
}

std::optional<std::string> ChatSession::save() const {
  if (done_) return std::nullopt;  // closing anyway
  return partial_;
}

bool ChatSession::restore(std::string_view state) {
  if (!state.empty() && (!options_.line_framing || state.size() > options_.max_line_bytes ||
                         state.find('\n') != std::string_view::npos)) {
    return false;
  }
  partial_.assign(state);
  return true;
}

void ChatSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (done_) return;
  if (!options_.line_framing) {
    answer(as_view(chunk), {}, reply);
    return;
  }
  on_lines(as_view(chunk), reply);
}

void ChatSession::on_lines(std::string_view data, Reply& reply) {
  while (!data.empty()) {
    const auto newline = data.find('\n');
    const size_t line_bytes = partial_.size() + std::min(newline, data.size());
    if (line_bytes > options_.max_line_bytes) {
      reply.send("error: line longer than max_line_bytes\n");
      reply.close();
      done_ = true;
      return;
    }
    if (newline == std::string_view::npos) {
      partial_.append(data);
      return;
    }
    const auto piece = data.substr(0, newline + 1);  // message including "\n"
    data.remove_prefix(newline + 1);
    bool go_on;
    if (partial_.empty()) {
      go_on = answer(piece, "\n", reply);
    } else {
      partial_.append(piece);
      go_on = answer(partial_, "\n", reply);
      std::string().swap(partial_);  // give the memory back: idle sessions hold none
    }
    if (!go_on) return;
  }
}

}  // namespace socketd
