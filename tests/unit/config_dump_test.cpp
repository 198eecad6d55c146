// --dump-config's text: every schema key is known to the dump, and a dump
// read back and dumped again gives the same text (the shipped config, a
// config with every option away from its default, and includes merged).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config_dump.hpp"
#include "config/config_loader.hpp"
#include "config/schema.hpp"

namespace socketd {
namespace {

std::string source_path(const char* relative) {
  return std::string(SOCKETD_SOURCE_DIR) + "/" + relative;
}

std::string errors_of(const ConfigLoad& load) {
  std::string out;
  for (const auto& e : load.errors) out += e.to_string() + "\n";
  return out;
}

// dump -> load -> dump is the identity, and the reloaded config matches.
void expect_round_trip(const Config& config) {
  const std::string first = dump_config(config);
  const auto again = parse_config(first, "dump.toml");
  ASSERT_TRUE(again.ok()) << errors_of(again) << "\n" << first;
  EXPECT_EQ(dump_config(*again.config), first);
  ASSERT_EQ(again.config->services.size(), config.services.size());
}

TEST(ConfigDump, EverySchemaKeyIsDumped) {
  ServiceConfig service;
  for (const auto& key : config_internal::service_keys()) {
    EXPECT_TRUE(dump_service_value(service, key.name).has_value()) << key.name;
  }
  DaemonConfig daemon;
  for (const auto& key : config_internal::daemon_keys()) {
    EXPECT_TRUE(dump_daemon_value(daemon, key.name).has_value()) << key.name;
  }
}

TEST(ConfigDump, TheShippedConfigRoundTripsWithEveryDefault) {
  const auto load = load_config_file(source_path("config/socketd.toml"));
  ASSERT_TRUE(load.ok()) << errors_of(load);
  expect_round_trip(*load.config);
  const std::string text = dump_config(*load.config);
  EXPECT_NE(text.find("\n[services.hello]\nmode = \"chat\"\nlisten = \"127.0.0.1:8888\"\n"
                      "backlog = 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("drain_timeout = \"10s\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("idle_timeout = \"5m\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("upload_timeout = \"1h\"\n"), std::string::npos) << text;
}

TEST(ConfigDump, EveryOptionAwayFromItsDefaultRoundTrips) {
  const auto load = parse_config(R"(
[daemon]
log_level = "debug"
max_connections = 77
max_output_bytes = 123456
upload_dir = "/srv/up \"quoted\" é"
drain_timeout = "1500ms"
log_rate_limit = 0

[services.chat]
mode = "chat"
listen = ["127.0.0.1:0", "[::1]:0"]
backlog = 64
max_connections = 10
idle_timeout = 0
reuse_port = true
max_per_source = 3
max_connection_rate = 50
rate_pause = "500ms"
allow = ["10.0.0.0/8", "::1"]
deny = ["10.1.0.0/16"]
greeting = "hi\tthere\n\u0001"
exit_word = "bye"
random_min = 5
random_max = 6
framing = "line"
max_line_bytes = 100

[services.proxied]
mode = "stream-upload"
listen = "127.0.0.1:0"
proxy_protocol = true
proxy_header_timeout = "2s"
proxy_sources = ["192.0.2.0/24"]
max_upload_bytes = 0
upload_timeout = "90m"
min_free_bytes = 1

[services.up]
mode = "upload"
listen = "[::1]:0"
ack_word = "ok"
end_word = "done"

[services.udp]
mode = "udp-log"
listen = "0.0.0.0:0"
receive_buffer = 0

[services.banner]
mode = "banner"
listen = "127.0.0.1:0"
message = ""

[services.metrics]
mode = "metrics"
listen = "127.0.0.1:0"
request_timeout = "3s"
max_request_bytes = 1024
)",
                                 "all.toml");
  ASSERT_TRUE(load.ok()) << errors_of(load);
  expect_round_trip(*load.config);
  const std::string text = dump_config(*load.config);
  EXPECT_NE(text.find("listen = [\"127.0.0.1:0\", \"[::1]:0\"]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("greeting = \"hi\\tthere\\n\\u0001\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max_line_bytes = 100\n"), std::string::npos) << text;
  EXPECT_NE(text.find("proxy_sources = [\"192.0.2.0/24\"]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drain_timeout = \"1500ms\"\n"), std::string::npos) << text;
  // Keys that do not apply are not written (they would not load).
  const auto udp = text.substr(text.find("[services.udp]"));
  EXPECT_EQ(udp.substr(0, udp.find("[services.banner]")).find("backlog"), std::string::npos);
}

TEST(ConfigDump, IncludedServicesAreInline) {
  namespace fs = std::filesystem;
  std::string templ = (fs::temp_directory_path() / "socketd-dump-XXXXXX").string();
  const fs::path dir = ::mkdtemp(templ.data());
  fs::create_directories(dir / "conf.d");
  std::ofstream(dir / "socketd.toml")
      << "include = \"conf.d/*.toml\"\n[services.a]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n";
  std::ofstream(dir / "conf.d/b.toml")
      << "[services.b]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n";
  const auto load = load_config_file((dir / "socketd.toml").string());
  fs::remove_all(dir);
  ASSERT_TRUE(load.ok()) << errors_of(load);
  const std::string text = dump_config(*load.config);
  EXPECT_EQ(text.find("include ="), std::string::npos) << text;
  EXPECT_NE(text.find("[services.b]"), std::string::npos) << text;
  expect_round_trip(*load.config);
}

}  // namespace
}  // namespace socketd
