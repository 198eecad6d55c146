// ServiceSettings: one service's config plus the per-mode options derived from
// it. Immutable and shared: every connection keeps the snapshot it was
// accepted under, so a reload changes new connections only.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "service/chat.hpp"
#include "service/metrics_session.hpp"
#include "service/upload.hpp"

namespace socketd {

struct ServiceSettings {
  explicit ServiceSettings(ServiceConfig c)
      : config(std::move(c)),
        access(config.allow, config.deny),
        proxy_sources(config.proxy_sources, {}) {
    chat.greeting = config.greeting;
    chat.exit_word = config.exit_word;
    chat.random_min = config.random_min;
    chat.random_max = config.random_max;
    chat.line_framing = config.framing == Framing::kLine;
    chat.max_line_bytes = config.max_line_bytes;
    upload.ack_word = config.ack_word;
    upload.end_word = config.end_word;
    upload.max_bytes = config.max_upload_bytes;
    metrics.max_request_bytes = config.max_request_bytes;
  }
  ServiceSettings(const ServiceSettings&) = delete;
  ServiceSettings& operator=(const ServiceSettings&) = delete;

  const ServiceConfig config;
  const AccessList access;
  const AccessList proxy_sources;  // empty: any peer may send a PROXY header
  ChatOptions chat;      // views into config
  UploadOptions upload;  // views into config
  MetricsOptions metrics;
};

}  // namespace socketd
