#include "banner_connection.hpp"

namespace socketd::bench {

void BannerConnection::start_operation(int64_t scheduled, int64_t now) noexcept {
  scheduled_ = scheduled;
  received_ = 0;
  open_socket(now);
}

void BannerConnection::on_bytes(std::string_view bytes, int64_t /*now*/) noexcept {
  if (const auto& expect = ctx_.options.expect) {
    if (std::string_view(*expect).substr(received_, bytes.size()) != bytes) {
      fail(ErrorKind::kWrongReply);  // different, or longer than expected
      return;
    }
  }
  received_ += bytes.size();
}

void BannerConnection::on_eof(int64_t now) noexcept {
  if (ctx_.options.expect && received_ != ctx_.options.expect->size()) {
    fail(ErrorKind::kWrongReply);  // banner cut short
    return;
  }
  complete(scheduled_, now);
  close_socket();
}

}  // namespace socketd::bench
