// The process-test scaffolding's own checks.
#include "daemon_process.hpp"

#include <gtest/gtest.h>

namespace socketd::test {
namespace {

TEST(DaemonProcessHelpers, ParsesTheStartLine) {
  const auto ports = parse_started_line(
      "socketd started: hello tcp 127.0.0.1:40001, chat tcp 127.0.0.1:40002, "
      "udp udp 127.0.0.1:40003, v6 tcp [::1]:40004");
  EXPECT_EQ(ports.at("hello/tcp"), 40001);
  EXPECT_EQ(ports.at("chat/tcp"), 40002);
  EXPECT_EQ(ports.at("udp/udp"), 40003);
  EXPECT_EQ(ports.at("v6/tcp"), 40004);
  EXPECT_EQ(ports.size(), 4u);
}

TEST(DaemonProcessHelpers, NotifyLinesMatchWholeLinesOrPrefixes) {
  const std::string message = "RELOADING=1\nMONOTONIC_USEC=123";
  EXPECT_TRUE(NotifySocket::has_line(message, "RELOADING=1"));
  EXPECT_TRUE(NotifySocket::has_line(message, "MONOTONIC_USEC="));
  EXPECT_FALSE(NotifySocket::has_line(message, "READY=1"));
  EXPECT_FALSE(NotifySocket::has_line("RELOADING=10", "RELOADING=1"));
}

TEST(DaemonProcessHelpers, RunsTheBinaryAndCapturesOutput) {
  std::string out, err;
  DaemonOptions options;
  options.args = {"--version"};
  auto status = DaemonProcess::run(options, out, err);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->clean()) << describe(*status);
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace socketd::test
