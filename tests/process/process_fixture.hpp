// Shared pieces of the process tests: config snippets and a fixture that owns
// a temp dir, a NOTIFY_SOCKET and one daemon, and starts it on a config.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <string>
#include <string_view>

#include "daemon_process.hpp"
#include "support/loopback.hpp"

namespace socketd::test {

// Every chat reply ends in this number (random_min = random_max), so a reply
// to "abc" is exactly "abc777" and can be read with recv_exact.
inline constexpr std::string_view kDigits = "777";

inline std::string chat_service(std::string_view name, std::string_view listen,
                                std::string_view greeting) {
  return "[services." + std::string(name) + "]\nmode = \"chat\"\nlisten = \"" +
         std::string(listen) + "\"\ngreeting = \"" + std::string(greeting) +
         "\"\nrandom_min = 777\nrandom_max = 777\n\n";
}

inline std::string service(std::string_view name, std::string_view mode,
                           std::string_view listen) {
  return "[services." + std::string(name) + "]\nmode = \"" + std::string(mode) +
         "\"\nlisten = \"" + std::string(listen) + "\"\n\n";
}

inline std::string addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

inline Fd connect_port(uint16_t port) { return connect_tcp_blocking(loopback(port), 5s); }

// One chat round trip: send `message`, read exactly message + digits.
inline std::string chat(int fd, std::string_view message) {
  send_all(fd, message);
  return recv_exact(fd, message.size() + kDigits.size());
}

class DaemonTest : public ::testing::Test {
 protected:
  // `[daemon]` table pointing uploads into the temp dir, plus `extra` lines.
  std::string daemon_table(std::string_view extra = "") const {
    return "[daemon]\nupload_dir = \"" + dir_.file("uploads") + "\"\n" + std::string(extra) +
           "\n";
  }

  std::string write_config(std::string_view toml) { return config_ = dir_.write("socketd.toml", toml); }

  DaemonOptions options() const {
    DaemonOptions o;
    o.env.insert(notify_.env());
    o.cwd = dir_.path();
    return o;
  }

  // Writes the config, starts the daemon, waits for READY=1 and the start
  // line; returns the ports by "service/transport".
  std::map<std::string, uint16_t> start(std::string_view toml, DaemonOptions o) {
    write_config(toml);
    if (!daemon_.start_with_config(config_, std::move(o))) return {};
    if (!notify_.wait_for("READY=1")) {
      ADD_FAILURE() << "no READY=1; stderr:\n" << daemon_.stderr_text();
      return {};
    }
    return daemon_.wait_started();
  }
  std::map<std::string, uint16_t> start(std::string_view toml) { return start(toml, options()); }

  // SIGHUP and wait for the reload to finish (RELOADING=1, then READY=1).
  bool reload() {
    if (!daemon_.signal(SIGHUP)) return false;
    return notify_.wait_for("RELOADING=1").has_value() && notify_.wait_for("READY=1").has_value();
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "---- socketd stderr ----\n" << daemon_.stderr_text() << "------------------------\n";
    }
  }

  TempDir dir_;
  NotifySocket notify_;
  DaemonProcess daemon_;
  std::string config_;
};

}  // namespace socketd::test
