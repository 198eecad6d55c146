// BannerSession: sends the configured message on accept, then closes cleanly.
#pragma once

#include <string>

#include "service/session.hpp"

namespace socketd {

class BannerSession final : public Session {
 public:
  explicit BannerSession(std::string_view message) : message_(message) {}
  void on_open(Reply& reply) override;
  void on_data(std::span<const char>, Reply&) override {}

 private:
  std::string_view message_;  // owned by the service's config snapshot
};

}  // namespace socketd
