// The PROXY part of a connection's log records: for a client that came
// through a PROXY-protocol balancer, the balancer's address appended to the
// message (" via ADDR", or " (via ADDR)" after a sentence) and as the PROXY=
// field. One definition for the opened, refused, closed and exit records.
#pragma once

#include <string>
#include <utility>

#include "log/logger.hpp"
#include "net/address.hpp"

namespace socketd {

enum class ViaStyle { kPlain, kParenthesised };

inline void add_proxy_field(LogRecord& record, const SocketAddress* proxy,
                            ViaStyle style = ViaStyle::kPlain) {
  if (proxy == nullptr) return;
  std::string via = proxy->to_string();
  record.message += style == ViaStyle::kPlain ? " via " + via : " (via " + via + ")";
  record.fields.push_back({"PROXY", std::move(via)});
}

}  // namespace socketd
