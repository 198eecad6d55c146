// The limit keys: parsed into ServiceConfig, and bad values reported at their
// exact line and column; AccessList decisions.
#include <gtest/gtest.h>

#include "config/config_loader.hpp"
#include "net/access_list.hpp"

namespace socketd {
namespace {

SocketAddress peer(std::string_view text) { return *SocketAddress::parse(text); }

TEST(LimitsConfig, KeysAreParsed) {
  const auto load = parse_config(R"([daemon]
log_rate_limit = 50
[services.up]
mode = "upload"
listen = "127.0.0.1:0"
max_per_source = 3
max_connection_rate = 100
rate_pause = "250ms"
allow = ["10.0.0.0/8", "::1"]
deny = ["10.1.0.0/16"]
upload_timeout = "5m"
min_free_bytes = 1024
)",
                                 "t.toml");
  ASSERT_TRUE(load.ok()) << load.errors.front().to_string();
  const auto& s = load.config->services[0];
  EXPECT_EQ(load.config->daemon.log_rate_limit, 50u);
  EXPECT_EQ(s.max_per_source, 3u);
  EXPECT_EQ(s.max_connection_rate, 100u);
  EXPECT_EQ(s.rate_pause, std::chrono::milliseconds(250));
  ASSERT_EQ(s.allow.size(), 2u);
  EXPECT_EQ(s.allow[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(s.allow[1].to_string(), "::1/128");
  EXPECT_EQ(s.deny[0].to_string(), "10.1.0.0/16");
  EXPECT_EQ(s.upload_timeout, std::chrono::minutes(5));
  EXPECT_EQ(s.min_free_bytes, 1024u);
}

TEST(LimitsConfig, BadCidrEntriesAreReportedAtTheirOwnColumn) {
  const auto load = parse_config(R"([services.e]
mode = "echo"
listen = "127.0.0.1:0"
deny = ["10.0.0.0/8", "10.0.0.0/33", "nonsense"]
)",
                                 "t.toml");
  ASSERT_FALSE(load.ok());
  ASSERT_EQ(load.errors.size(), 2u);
  EXPECT_EQ(load.errors[0].line, 4u);
  EXPECT_EQ(load.errors[0].column, 23u);
  EXPECT_EQ(load.errors[1].column, 38u);
  EXPECT_NE(load.errors[0].message.find("deny"), std::string::npos);
}

TEST(LimitsConfig, UploadKeysDoNotApplyToOtherModes) {
  const auto load = parse_config(R"([services.e]
mode = "echo"
listen = "127.0.0.1:0"
upload_timeout = "1s"
)",
                                 "t.toml");
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.errors[0].line, 4u);
  EXPECT_EQ(load.errors[0].column, 1u);
}

TEST(LimitsConfig, RatePauseMustBePositive) {
  const auto load = parse_config(R"([services.e]
mode = "echo"
listen = "127.0.0.1:0"
rate_pause = 0
)",
                                 "t.toml");
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.errors[0].line, 4u);
}

TEST(AccessListTest, MostSpecificEntryWinsAndDenyWinsTies) {
  AccessList list({*Cidr::parse("10.0.0.0/8"), *Cidr::parse("10.1.2.3")},
                  {*Cidr::parse("10.1.0.0/16"), *Cidr::parse("10.0.0.0/8")});
  EXPECT_FALSE(list.allows(peer("10.9.9.9:1")));  // /8 in both: deny wins
  EXPECT_FALSE(list.allows(peer("10.1.9.9:1")));  // /16 deny
  EXPECT_TRUE(list.allows(peer("10.1.2.3:1")));   // /32 allow beats /16 deny
  EXPECT_FALSE(list.allows(peer("192.168.0.1:1")));  // allow list exists: no match = refused
}

TEST(AccessListTest, EmptyListAllowsAndDenyOnlyListAllowsTheRest) {
  EXPECT_TRUE(AccessList().allows(peer("1.2.3.4:5")));
  AccessList deny_only({}, {*Cidr::parse("127.0.0.0/8")});
  EXPECT_FALSE(deny_only.allows(peer("127.0.0.1:5")));
  EXPECT_TRUE(deny_only.allows(peer("10.0.0.1:5")));
}

TEST(AccessListTest, V4MappedV6PeersMatchV4EntriesAndPrefixesMaskHostBits) {
  AccessList list({*Cidr::parse("192.168.1.77/24")}, {});
  EXPECT_TRUE(list.allows(peer("[::ffff:192.168.1.5]:1")));
  EXPECT_FALSE(list.allows(peer("[::ffff:192.168.2.5]:1")));
  EXPECT_EQ(Cidr::parse("192.168.1.77/24")->to_string(), "192.168.1.0/24");
  AccessList v6({*Cidr::parse("fd00::/8")}, {});
  EXPECT_TRUE(v6.allows(peer("[fd12::1]:1")));
  EXPECT_FALSE(v6.allows(peer("[fe80::1]:1")));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/").has_value());
  EXPECT_FALSE(Cidr::parse("::1/129").has_value());
}

}  // namespace
}  // namespace socketd

namespace socketd {
namespace {

TEST(CidrRegression, NegativeZeroPrefixIsRejected) {
  EXPECT_FALSE(Cidr::parse("10.0.0.0/-0").has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0.0/+8").has_value());
}

TEST(CidrRegression, V4MappedEntryMatchesTheV4Client) {
  AccessList deny({}, {*Cidr::parse("::ffff:10.0.0.1")});
  EXPECT_FALSE(deny.allows(*SocketAddress::parse("10.0.0.1:5")));
  EXPECT_FALSE(deny.allows(*SocketAddress::parse("[::ffff:10.0.0.1]:5")));
  EXPECT_TRUE(deny.allows(*SocketAddress::parse("10.0.0.2:5")));
  EXPECT_EQ(Cidr::parse("::ffff:10.0.0.0/104")->to_string(), "10.0.0.0/8");
}

}  // namespace
}  // namespace socketd

namespace socketd {
namespace {

TEST(AddressRegression, EmbeddedNulIsRejectedNotTruncated) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(SocketAddress::parse("127.0.0.1\0x:80"sv).has_value());
  EXPECT_FALSE(Cidr::parse("10.0.0.1\0/8"sv).has_value());
}

}  // namespace
}  // namespace socketd
