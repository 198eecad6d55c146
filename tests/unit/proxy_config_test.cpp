// The PROXY protocol keys: parsed with their defaults, refused on UDP
// services and without proxy_protocol = true, bad values reported at their
// exact line and column.
#include <gtest/gtest.h>

#include "config/config_loader.hpp"

namespace socketd {
namespace {

ConfigLoad parse(std::string_view text) { return parse_config(text, "t.toml"); }

void expect_one_error(const ConfigLoad& load, uint32_t line, uint32_t column,
                      std::string_view text) {
  ASSERT_FALSE(load.ok());
  ASSERT_EQ(load.errors.size(), 1u) << load.errors[1].to_string();
  EXPECT_EQ(load.errors[0].line, line) << load.errors[0].to_string();
  EXPECT_EQ(load.errors[0].column, column) << load.errors[0].to_string();
  EXPECT_NE(load.errors[0].message.find(text), std::string::npos) << load.errors[0].to_string();
}

TEST(ProxyConfig, OffByDefault) {
  const auto load = parse("[services.c]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(load.ok());
  const auto& s = load.config->services[0];
  EXPECT_FALSE(s.proxy_protocol);
  EXPECT_EQ(s.proxy_header_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(s.proxy_sources.empty());
}

TEST(ProxyConfig, KeysAreParsed) {
  const auto load = parse(R"([services.up]
mode = "upload"
listen = "127.0.0.1:0"
proxy_protocol = true
proxy_header_timeout = "750ms"
proxy_sources = ["127.0.0.1", "fd00::/8"]
)");
  ASSERT_TRUE(load.ok()) << load.errors.front().to_string();
  const auto& s = load.config->services[0];
  EXPECT_TRUE(s.proxy_protocol);
  EXPECT_EQ(s.proxy_header_timeout, std::chrono::milliseconds(750));
  ASSERT_EQ(s.proxy_sources.size(), 2u);
  EXPECT_EQ(s.proxy_sources[0].to_string(), "127.0.0.1/32");
  EXPECT_EQ(s.proxy_sources[1].to_string(), "fd00::/8");
}

TEST(ProxyConfig, UdpServiceCannotHaveIt) {
  expect_one_error(parse("[services.u]\nmode = \"udp-log\"\nlisten = \"127.0.0.1:0\"\n"
                         "  proxy_protocol = true\n"),
                   4, 3, "key 'proxy_protocol' does not apply to mode 'udp-log'");
}

TEST(ProxyConfig, MustBeABoolean) {
  expect_one_error(parse("[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                         "proxy_protocol = \"v2\"\n"),
                   4, 18, "'proxy_protocol' must be true or false, not a string");
}

TEST(ProxyConfig, TimeoutMustBePositiveAndADuration) {
  expect_one_error(parse("[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                         "proxy_protocol = true\nproxy_header_timeout = 0\n"),
                   5, 24, "'proxy_header_timeout' must be greater than 0");
  expect_one_error(parse("[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                         "proxy_protocol = true\nproxy_header_timeout = \"5 s\"\n"),
                   5, 24, "invalid duration");
}

TEST(ProxyConfig, BadSourceIsReportedAtItsEntry) {
  expect_one_error(parse("[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                         "proxy_protocol = true\nproxy_sources = [\"127.0.0.1\", \"haproxy\"]\n"),
                   5, 31, "'proxy_sources' entries must be strings");
}

TEST(ProxyConfig, TimeoutAndSourcesNeedProxyProtocolOn) {
  const auto load = parse(R"([services.e]
mode = "echo"
listen = "127.0.0.1:0"
proxy_header_timeout = "1s"
  proxy_sources = ["127.0.0.1"]
)");
  ASSERT_EQ(load.errors.size(), 2u);
  EXPECT_EQ(load.errors[0].line, 4u);
  EXPECT_EQ(load.errors[0].column, 1u);
  EXPECT_NE(load.errors[0].message.find(
                "key 'proxy_header_timeout' only applies with proxy_protocol = true"),
            std::string::npos)
      << load.errors[0].to_string();
  EXPECT_EQ(load.errors[1].line, 5u);
  EXPECT_EQ(load.errors[1].column, 3u);
  expect_one_error(parse("[services.e]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                         "proxy_protocol = false\nproxy_sources = []\n"),
                   5, 1, "only applies with proxy_protocol = true");
}

}  // namespace
}  // namespace socketd
