// Notifier: how the daemon tells its supervisor what it is doing and hands it
// the listeners to keep (systemd's sd_notify and fd store in production; a
// recorder in tests; nothing when unsupervised).
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
  // systemd's file descriptor store: keep `fd` under `name` across restarts
  // and crashes (FDSTORE=1, FDNAME=); forget every fd stored under `name`
  // (FDSTOREREMOVE=1). Both no-ops without a supervisor that keeps fds.
  virtual void store_fd(std::string_view /*name*/, int /*fd*/) {}
  virtual void remove_stored_fds(std::string_view /*name*/) {}
};

}  // namespace socketd
