#include "service/banner.hpp"

namespace socketd {

void BannerSession::on_open(Reply& reply) {
  reply.send(message_);
  reply.close();
}

}  // namespace socketd
