// Notifier: how the daemon tells its supervisor what it is doing (systemd's
// sd_notify in production; a recorder in tests; nothing when unsupervised).
#pragma once

#include <string_view>

namespace socketd {

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void ready() {}
  virtual void reloading() {}  // RELOADING=1 with MONOTONIC_USEC
  virtual void stopping() {}
  virtual void status(std::string_view) {}
  virtual void watchdog() {}
};

}  // namespace socketd
