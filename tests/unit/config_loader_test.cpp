#include "config/config_loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

namespace socketd {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string source_path(const char* relative) {
#ifdef SOCKETD_SOURCE_DIR
  return std::string(SOCKETD_SOURCE_DIR) + "/" + relative;
#else
  // This file is tests/unit/config_loader_test.cpp.
  return (std::filesystem::path(__FILE__).parent_path() / "../.." / relative).string();
#endif
}

std::string default_config_path() {
  return source_path("config/socketd.toml");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

ConfigLoad parse(std::string_view text) {
  return parse_config(text, "test.toml");
}

// The only error of `text`; fails the test when there is not exactly one.
ConfigError only_error(std::string_view text) {
  const auto load = parse(text);
  EXPECT_FALSE(load.ok());
  if (load.errors.size() != 1) {
    ADD_FAILURE() << "expected exactly one error for:\n" << text;
    for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  }
  return load.errors.empty() ? ConfigError{} : load.errors.front();
}

// Whether `error` is at line:column and its message contains `text`.
::testing::AssertionResult is_error_at(const ConfigError& error, uint32_t line, uint32_t column,
                                       std::string_view text) {
  if (error.line == line && error.column == column &&
      error.message.find(text) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got \"" << error.to_string() << "\", expected " << line << ":" << column
         << " and a message containing \"" << text << "\"";
}

TEST(ConfigToString, ModesAndFramingsUseTheFileSpelling) {
  EXPECT_STREQ(to_string(Mode::kBanner), "banner");
  EXPECT_STREQ(to_string(Mode::kChat), "chat");
  EXPECT_STREQ(to_string(Mode::kEcho), "echo");
  EXPECT_STREQ(to_string(Mode::kUdpLog), "udp-log");
  EXPECT_STREQ(to_string(Mode::kUpload), "upload");
  EXPECT_STREQ(to_string(Mode::kStreamUpload), "stream-upload");
  EXPECT_STREQ(to_string(Mode::kMetrics), "metrics");
  EXPECT_STREQ(to_string(Framing::kChunk), "chunk");
  EXPECT_STREQ(to_string(Framing::kLine), "line");
}

TEST(ConfigToString, EveryModeNameIsAcceptedByTheLoader) {
  for (const Mode mode : {Mode::kBanner, Mode::kChat, Mode::kEcho, Mode::kUdpLog, Mode::kUpload,
                          Mode::kStreamUpload}) {
    const auto load = parse(std::string("[services.s]\nmode = \"") + to_string(mode) +
                            "\"\nlisten = \"127.0.0.1:0\"\n");
    ASSERT_TRUE(load.ok()) << to_string(mode);
    EXPECT_EQ(load.config->services.at(0).mode, mode);
  }
}

TEST(ConfigErrorFormat, IsFileLineColumnErrorMessage) {
  EXPECT_EQ((ConfigError{"a.toml", 3, 7, "bad"}).to_string(), "a.toml:3:7: error: bad");
  EXPECT_EQ((ConfigError{"a.toml", 0, 0, "unreadable"}).to_string(), "a.toml: error: unreadable");
}

TEST(ConfigLoader, RepositoryDefaultConfigLoads) {
  const auto load = load_config_file(default_config_path());
  for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(load.ok());
  const Config& config = *load.config;
  EXPECT_EQ(config.source, default_config_path());
  EXPECT_EQ(config.daemon.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.daemon.max_connections, 16384u);
  EXPECT_EQ(config.daemon.upload_dir, "");
  EXPECT_EQ(config.daemon.drain_timeout, milliseconds(10'000));

  ASSERT_THAT(config.services, SizeIs(4));
  const auto& hello = config.services[0];
  EXPECT_EQ(hello.name, "hello");  // in file order
  EXPECT_EQ(hello.mode, Mode::kChat);
  EXPECT_EQ(hello.listen.at(0).to_string(), "127.0.0.1:8888");
  EXPECT_EQ(hello.greeting, "hello");
  EXPECT_EQ(hello.backlog, 5);
  const auto& chat = config.services[1];
  EXPECT_EQ(chat.name, "chat");
  EXPECT_EQ(chat.mode, Mode::kChat);
  EXPECT_EQ(chat.listen.at(0).to_string(), "127.0.0.1:8889");
  EXPECT_EQ(chat.greeting, "success!");
  EXPECT_EQ(chat.framing, Framing::kChunk);
  const auto& udp = config.services[2];
  EXPECT_EQ(udp.name, "udp");
  EXPECT_EQ(udp.mode, Mode::kUdpLog);
  EXPECT_EQ(udp.transport(), Transport::kUdp);
  EXPECT_EQ(udp.listen.at(0).to_string(), "127.0.0.1:8889");
  const auto& upload = config.services[3];
  EXPECT_EQ(upload.name, "upload");
  EXPECT_EQ(upload.mode, Mode::kUpload);
  EXPECT_EQ(upload.listen.at(0).to_string(), "127.0.0.1:9999");
  EXPECT_EQ(upload.ack_word, "success");
  EXPECT_EQ(upload.end_word, "quit");
}

TEST(ConfigLoader, DefaultConfigAndDocsDescribeEveryKey) {
  const std::string config = read_text(default_config_path());
  const std::string docs = read_text(source_path("docs/configuration.md"));
  ASSERT_FALSE(config.empty());
  ASSERT_FALSE(docs.empty());
  for (const char* key : {"log_level",        "max_connections", "max_output_bytes",
                          "upload_dir",       "drain_timeout",   "mode",
                          "listen",           "backlog",         "idle_timeout",
                          "message",          "greeting",        "exit_word",
                          "random_min",       "random_max",      "framing",
                          "max_line_bytes",   "ack_word",        "end_word",
                          "max_upload_bytes", "receive_buffer",  "request_timeout",
                          "max_request_bytes"}) {
    EXPECT_THAT(config, HasSubstr(std::string(key) + " ")) << key;
    EXPECT_THAT(docs, HasSubstr("| `" + std::string(key) + "` |")) << key;
  }
}

TEST(ConfigLoader, MetricsServiceKeys) {
  const std::string metrics = "[services.m]\nmode = \"metrics\"\nlisten = \"127.0.0.1:0\"\n";
  auto load = parse(metrics);
  ASSERT_TRUE(load.ok());
  const auto& defaults = load.config->services[0];
  EXPECT_EQ(defaults.mode, Mode::kMetrics);
  EXPECT_EQ(defaults.transport(), Transport::kTcp);
  EXPECT_EQ(defaults.request_timeout, milliseconds(10'000));
  EXPECT_EQ(defaults.max_request_bytes, 8192u);
  load = parse(metrics +
               "request_timeout = \"2s\"\nmax_request_bytes = 1024\nallow = "
               "[\"127.0.0.1\"]\n");
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.config->services[0].request_timeout, milliseconds(2000));
  EXPECT_EQ(load.config->services[0].max_request_bytes, 1024u);
  EXPECT_TRUE(is_error_at(only_error(metrics + "max_request_bytes = 100\n"), 4u, 21u,
                          "'max_request_bytes'"));
  EXPECT_TRUE(
      is_error_at(only_error(metrics + "request_timeout = 0\n"), 4u, 19u, "'request_timeout'"));
  EXPECT_TRUE(is_error_at(
      only_error("[services.c]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n"
                 "request_timeout = \"1s\"\n"),
      4u, 1u,
      "key 'request_timeout' does not apply to mode 'chat'; it is only for mode 'metrics'"));
}

TEST(ConfigLoader, DefaultsAreAppliedToAMinimalService) {
  const auto load = parse("[services.s]\nmode = \"chat\"\nlisten = \"[::1]:0\"\n");
  ASSERT_TRUE(load.ok());
  const Config& config = *load.config;
  EXPECT_EQ(config.source, "test.toml");
  EXPECT_EQ(config.daemon.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.daemon.max_connections, 16384u);
  EXPECT_EQ(config.daemon.drain_timeout, milliseconds(10'000));
  const ServiceConfig& s = config.services.at(0);
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.listen.at(0).to_string(), "[::1]:0");
  EXPECT_EQ(s.backlog, 5);
  EXPECT_EQ(s.max_connections, 0u);
  EXPECT_EQ(s.idle_timeout, milliseconds(300'000));
  EXPECT_EQ(s.greeting, "");
  EXPECT_EQ(s.exit_word, "exit");
  EXPECT_EQ(s.random_min, 1);
  EXPECT_EQ(s.random_max, 1000);
  EXPECT_EQ(s.framing, Framing::kChunk);
  EXPECT_EQ(s.max_line_bytes, 65536u);
}

TEST(ConfigLoader, EveryKeyIsRead) {
  const auto load = parse(R"([daemon]
log_level = "debug"
max_connections = 100
max_output_bytes = 1048576
upload_dir = "/var/lib/socketd"
drain_timeout = 3

[services.c]
mode = "chat"
listen = "0.0.0.0:7000"
backlog = 128
max_connections = 10
idle_timeout = "5m"
greeting = "hi"
exit_word = "bye"
random_min = 7
random_max = 7
framing = "line"
max_line_bytes = 512

[services.b]
mode = "banner"
listen = "127.0.0.1:7001"
message = "go away"

[services.u]
mode = "upload"
listen = "127.0.0.1:7002"
ack_word = "ok"
end_word = "done"
max_upload_bytes = 0
)");
  for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(load.ok());
  const Config& config = *load.config;
  EXPECT_EQ(config.daemon.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.daemon.max_connections, 100u);
  EXPECT_EQ(config.daemon.max_output_bytes, 1048576u);
  EXPECT_EQ(config.daemon.upload_dir, "/var/lib/socketd");
  EXPECT_EQ(config.daemon.drain_timeout, milliseconds(3000));
  ASSERT_THAT(config.services, SizeIs(3));
  const auto& c = config.services[0];
  EXPECT_EQ(c.backlog, 128);
  EXPECT_EQ(c.max_connections, 10u);
  EXPECT_EQ(c.idle_timeout, milliseconds(300'000));
  EXPECT_EQ(c.greeting, "hi");
  EXPECT_EQ(c.exit_word, "bye");
  EXPECT_EQ(c.random_min, 7);
  EXPECT_EQ(c.random_max, 7);
  EXPECT_EQ(c.framing, Framing::kLine);
  EXPECT_EQ(c.max_line_bytes, 512u);
  EXPECT_EQ(config.services[1].message, "go away");
  EXPECT_EQ(config.services[2].ack_word, "ok");
  EXPECT_EQ(config.services[2].end_word, "done");
  EXPECT_EQ(config.services[2].max_upload_bytes, 0u);
}

TEST(ConfigLoader, DottedKeysAndInlineTablesWorkToo) {
  const auto load = parse(
      "services.a.mode = \"echo\"\nservices.a.listen = \"127.0.0.1:1\"\n"
      "services.b = { mode = \"echo\", listen = \"127.0.0.1:2\" }\n");
  for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(load.ok());
  EXPECT_THAT(load.config->services, SizeIs(2));
}

TEST(ConfigLoader, DurationsAcceptSecondsAndUnits) {
  const std::pair<const char*, milliseconds> cases[] = {
      {"0", milliseconds(0)},
      {"45", milliseconds(45'000)},
      {"\"250ms\"", milliseconds(250)},
      {"\"10s\"", milliseconds(10'000)},
      {"\"5m\"", milliseconds(300'000)},
      {"\"1h\"", milliseconds(3'600'000)},
      {"\"0s\"", milliseconds(0)},
      {"\"576h\"", milliseconds(576LL * 3'600'000)},
  };
  for (const auto& [text, expected] : cases) {
    const auto load = parse(std::string("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                                        "idle_timeout = ") +
                            text + "\n");
    ASSERT_TRUE(load.ok()) << text;
    EXPECT_EQ(load.config->services[0].idle_timeout, expected) << text;
  }
}

TEST(ConfigLoader, BadDurationsPointAtTheValue) {
  const char* cases[] = {"\"10\"", "\"10 s\"", "\"1d\"",   "\"s\"",
                         "-1",     "1.5",      "\"577h\"", "\"99999999999999999999h\"",
                         "true"};
  for (const char* text : cases) {
    const auto error =
        only_error(std::string("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n"
                               "idle_timeout = ") +
                   text + "\n");
    EXPECT_TRUE(is_error_at(error, 4u, 16u, "'idle_timeout'"));
  }
}

TEST(ConfigLoader, ReceiveBufferIsAUdpKeyWithADefault) {
  const std::string udp = "[services.u]\nmode = \"udp-log\"\nlisten = \"127.0.0.1:0\"\n";
  auto load = parse(udp);
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.config->services[0].receive_buffer, 4u << 20);
  for (const auto& [text, expected] : {std::pair{"0", 0u}, std::pair{"4096", 4096u},
                                       std::pair{"536870912", 512u << 20}}) {
    load = parse(udp + "receive_buffer = " + text + "\n");
    ASSERT_TRUE(load.ok()) << text;
    EXPECT_EQ(load.config->services[0].receive_buffer, expected) << text;
  }
  for (const char* text : {"1", "4095", "536870913", "-1"}) {
    EXPECT_TRUE(is_error_at(only_error(udp + "receive_buffer = " + text + "\n"), 4u, 18u,
                            "'receive_buffer' must be 0 (the kernel's default) or between 4096 "
                            "and 536870912 bytes"))
        << text;
  }
  EXPECT_TRUE(is_error_at(only_error(udp + "receive_buffer = \"4M\"\n"), 4u, 18u,
                          "'receive_buffer' must be an integer (bytes), not a string"));
  EXPECT_TRUE(is_error_at(
      only_error("[services.c]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n"
                 "receive_buffer = 65536\n"),
      4u, 1u, "key 'receive_buffer' does not apply to mode 'chat'; it is only for mode 'udp-log'"));
}

TEST(ConfigLoader, MaxOutputBytesHasAFloor) {
  const auto error = only_error(
      "[daemon]\nmax_output_bytes = 4096\n[services.s]\nmode = \"echo\"\nlisten = "
      "\"127.0.0.1:0\"\n");
  EXPECT_TRUE(is_error_at(error, 2u, 20u, "'max_output_bytes' must be between 65536"));
}

TEST(ConfigLoader, DrainTimeoutMustNotBeZero) {
  const auto error = only_error(
      "[daemon]\ndrain_timeout = \"0ms\"\n[services.s]\nmode = \"echo\"\nlisten = "
      "\"127.0.0.1:0\"\n");
  EXPECT_TRUE(is_error_at(error, 2u, 17u, "'drain_timeout' must be greater than 0"));
}

TEST(ConfigLoader, SyntaxErrorIsOneErrorWithTheParserPosition) {
  const auto load = parse("[services.s]\nmode = \"echo\"\nlisten = \n");
  ASSERT_THAT(load.errors, SizeIs(1));
  EXPECT_TRUE(is_error_at(load.errors[0], 3u, 10u, "expected value"));
  EXPECT_EQ(load.errors[0].to_string().rfind("test.toml:3:10: error: ", 0), 0u);
}

TEST(ConfigLoader, UnterminatedStringIsASyntaxError) {
  const auto error = only_error("[daemon]\nlog_level = \"info\n");
  EXPECT_EQ(error.line, 2u);
}

TEST(ConfigLoader, BrokenTableHeadersAreSyntaxErrorsNotCrashes) {
  // toml++ 3.3 asserts on these in debug builds (marzer/tomlplusplus#301).
  EXPECT_TRUE(is_error_at(only_error("[services.s]\n[#\n"), 2u, 2u, "expected bare key"));
  EXPECT_TRUE(is_error_at(only_error("[[[1]]]\n"), 1u, 3u, ""));
  EXPECT_TRUE(is_error_at(only_error("[[=\n"), 1u, 3u, ""));
}

TEST(ConfigLoader, NonAsciiStringsAreKeptAsWritten) {
  // The continued line starting with a non-ASCII character is
  // marzer/tomlplusplus#190: undefined behaviour in toml++ 3.3 unless masked.
  const auto load = parse(
      "# Grüße, привет\n"
      "[services.hello]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\n"
      "greeting = \"\"\"\\\n  §привет, café ☃ \\u00e9 \\U0001F600 \U000F0000\"\"\"\n"
      "exit_word = 'выход'\n"
      "[services.b]\nmode = \"banner\"\nlisten = \"127.0.0.1:0\"\nmessage = \"\\U000F0001é\"\n");
  for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.config->services[0].greeting, "§привет, café ☃ é \U0001F600 \U000F0000");
  EXPECT_EQ(load.config->services[0].exit_word, "выход");
  EXPECT_EQ(load.config->services[1].message, "\U000F0001é");
}

TEST(ConfigLoader, NonAsciiOutsideAStringIsASyntaxErrorAtItsColumn) {
  // Columns count characters, not bytes.
  const auto error = only_error("[services.s]\nmode = \"echo\"\nlisten = \"ü:1\" é\n");
  EXPECT_TRUE(is_error_at(error, 3u, 16u, "saw 'é'"));
  EXPECT_TRUE(is_error_at(only_error("[services.s]\nmode = чат\n"), 2u, 8u, ""));
  const auto key =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n\"bäcklog\" = 5\n");
  EXPECT_TRUE(is_error_at(key, 4u, 1u, "unknown key 'bäcklog' in service 's'"));
}

TEST(ConfigLoader, ParserMessagesShowTheFilesOwnCharacters) {
  const auto error = only_error("[services.s]\r\xC3\xA9\n");
  EXPECT_TRUE(is_error_at(error, 1u, 14u, "expected '\\n' after '\\r', saw '\\u00E9'"));
}

TEST(ConfigLoader, InvalidUtf8IsASyntaxError) {
  const auto error = only_error("[services.s]\nmode = \"echo\"\nlisten = \"\xC3(\"\n");
  EXPECT_EQ(error.line, 3u);
  EXPECT_THAT(error.message, HasSubstr("utf-8"));
}

TEST(ConfigLoader, ByteOrderMarkIsAccepted) {
  const auto load = parse("\xEF\xBB\xBF[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(load.ok());
}

TEST(ConfigLoader, UnknownServiceKeyPointsAtTheKeyAndSuggests) {
  const auto error =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n  backlg = 5\n");
  EXPECT_TRUE(
      is_error_at(error, 4u, 3u, "unknown key 'backlg' in service 's'; did you mean 'backlog'?"));
}

TEST(ConfigLoader, UnknownKeyWithoutLikelyTypoListsTheValidKeys) {
  const auto error =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\nzzz = 1\n");
  EXPECT_TRUE(is_error_at(error, 4u, 1u,
                          "valid keys for mode 'echo': mode, listen, backlog, max_connections, "
                          "idle_timeout"));
}

TEST(ConfigLoader, UnknownTableAndDaemonKeyAreErrors) {
  const auto load = parse(
      "[deamon]\nlog_level = \"info\"\n[daemon]\nloglevel = \"info\"\n"
      "[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_THAT(load.errors, SizeIs(2));
  EXPECT_TRUE(
      is_error_at(load.errors[0], 1u, 2u, "unknown table 'deamon'; did you mean 'daemon'?"));
  EXPECT_TRUE(is_error_at(load.errors[1], 4u, 1u,
                          "unknown key 'loglevel' in [daemon]; did you mean 'log_level'?"));
}

TEST(ConfigLoader, SubTableInsideAServiceIsAnUnknownKey) {
  const auto error = only_error(
      "[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n[services.s.extra]\nx = 1\n");
  EXPECT_TRUE(is_error_at(error, 4u, 13u, "unknown key 'extra' in service 's'"));
}

TEST(ConfigLoader, WrongTypePointsAtTheValue) {
  const auto error =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\nbacklog = \"5\"\n");
  EXPECT_TRUE(is_error_at(error, 4u, 11u, "'backlog' must be an integer, not a string"));
}

TEST(ConfigLoader, FloatIsNotAnInteger) {
  const auto error =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\nbacklog = 5.0\n");
  EXPECT_TRUE(is_error_at(error, 4u, 11u, "'backlog' must be an integer, not a float"));
}

TEST(ConfigLoader, RangesAreChecked) {
  const std::pair<const char*, const char*> cases[] = {
      {"backlog = 0", "'backlog' must be between 1 and 65535, not 0"},
      {"backlog = 65536", "'backlog' must be between 1 and 65535, not 65536"},
      {"max_connections = -1", "'max_connections' must be between 0 and 4294967295"},
      {"max_line_bytes = 0", "'max_line_bytes' must be between 1 and"},
      {"random_min = -5", "'random_min' must be between 0 and"},
      {"exit_word = \"\"", "'exit_word' must not be empty"},
      {"exit_word = \"bye\\n\"", "'exit_word' must not contain a line break"},
  };
  for (const auto& [line, message] : cases) {
    const auto error = only_error(std::string("[services.s]\nmode = \"chat\"\nlisten = "
                                              "\"127.0.0.1:0\"\nframing = \"line\"\n") +
                                  line + "\n");
    EXPECT_EQ(error.line, 5u) << line;
    EXPECT_THAT(error.message, HasSubstr(message)) << line;
  }
}

TEST(ConfigLoader, FramingTypoIsSuggested) {
  const auto error =
      only_error("[services.s]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\nframing = \"lines\"\n");
  EXPECT_TRUE(is_error_at(error, 4u, 11u,
                          "'framing' must be one of \"chunk\", \"line\", not \"lines\"; did you "
                          "mean \"line\"?"));
}

TEST(ConfigLoader, UploadWordsMustNotBeEmpty) {
  const auto load = parse(
      "[services.u]\nmode = \"upload\"\nlisten = \"127.0.0.1:0\"\nack_word = \"\"\nend_word = "
      "\"\"\n");
  ASSERT_THAT(load.errors, SizeIs(2));
  EXPECT_TRUE(is_error_at(load.errors[0], 4u, 12u, "'ack_word' must not be empty"));
  EXPECT_TRUE(is_error_at(load.errors[1], 5u, 12u, "'end_word' must not be empty"));
}

TEST(ConfigLoader, RandomMinAboveMaxPointsAtMax) {
  const auto error = only_error(
      "[services.s]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\nrandom_min = 10\nrandom_max = 9\n");
  EXPECT_TRUE(
      is_error_at(error, 5u, 14u, "'random_min' (10) must not be greater than 'random_max' (9)"));
}

TEST(ConfigLoader, RandomMinAboveDefaultMax) {
  const auto error =
      only_error("[services.s]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\nrandom_min = 5000\n");
  EXPECT_TRUE(is_error_at(error, 4u, 14u, "must not be greater than 'random_max' (1000)"));
}

TEST(ConfigLoader, MaxLineBytesNeedsLineFraming) {
  const auto error =
      only_error("[services.s]\nmode = \"chat\"\nlisten = \"127.0.0.1:0\"\nmax_line_bytes = 100\n");
  EXPECT_TRUE(is_error_at(error, 4u, 1u, "only applies with framing = \"line\""));
}

TEST(ConfigLoader, LogLevelTypoIsSuggested) {
  const auto error = only_error(
      "[daemon]\nlog_level = \"inof\"\n[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(is_error_at(error, 2u, 13u, "did you mean \"info\"?"));
}

TEST(ConfigLoader, BadListenPointsAtTheValueAndSaysWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"\"localhost:80\"", "is not a numeric address"},
      {"\"127.0.0.1\"", "has no port"},
      {"\"127.0.0.1:http\"", "has an invalid port \"http\""},
      {"\"127.0.0.1:65536\"", "has port 65536, out of range 0..65535"},
      {"\"::1:80\"", "needs brackets around an IPv6 host"},
      {"\"[::1]\"", "has no port"},
      {"8888",
       "'listen' must be an address such as \"127.0.0.1:7\", or an array of them such as "
       "[\"127.0.0.1:7\", \"[::1]:7\"], not an integer"},
  };
  for (const auto& [value, message] : cases) {
    const auto error =
        only_error(std::string("[services.s]\nmode = \"echo\"\n listen = ") + value + "\n");
    EXPECT_TRUE(is_error_at(error, 3u, 11u, message));
  }
}

TEST(ConfigLoader, HighestPortIsAccepted) {
  const auto load = parse("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:65535\"\n");
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.config->services[0].listen.at(0).port(), 65535);
}

TEST(ConfigLoader, DuplicateListenPointsAtTheLaterService) {
  const auto error = only_error(R"([services.a]
mode = "echo"
listen = "127.0.0.1:7000"

[services.b]
mode = "chat"
listen = "127.0.0.1:7000"
)");
  EXPECT_TRUE(
      is_error_at(error, 7u, 10u,
                  "TCP address 127.0.0.1:7000 is already used by service 'a' (127.0.0.1:7000, "
                  "line 3)"));
}

TEST(ConfigLoader, DuplicateIsFoundInFileOrderNotKeyOrder) {
  // toml++ sorts keys: "z" is read before "a" but comes first in the file.
  const auto error = only_error(
      "[services.z]\nmode = \"echo\"\nlisten = \"127.0.0.1:7000\"\n"
      "[services.a]\nmode = \"echo\"\nlisten = \"127.0.0.1:7000\"\n");
  EXPECT_TRUE(is_error_at(error, 6u, 10u, "service 'z'"));
}

TEST(ConfigLoader, TcpAndUdpMayShareAPortAndPortZeroNeverConflicts) {
  const auto load = parse(R"([services.chat]
mode = "chat"
listen = "127.0.0.1:8889"
[services.udp]
mode = "udp-log"
listen = "127.0.0.1:8889"
[services.x]
mode = "echo"
listen = "127.0.0.1:0"
[services.y]
mode = "echo"
listen = "127.0.0.1:0"
[services.v6]
mode = "echo"
listen = "[::1]:8889"
)");
  for (const auto& error : load.errors) ADD_FAILURE() << error.to_string();
  EXPECT_TRUE(load.ok());
}

TEST(ConfigLoader, WildcardOverlapsSpecificAddressOfTheSameFamily) {
  const auto load = parse(R"([services.a]
mode = "echo"
listen = "127.0.0.1:7000"
[services.b]
mode = "echo"
listen = "0.0.0.0:7000"
[services.c]
mode = "echo"
listen = "[::]:7001"
[services.d]
mode = "echo"
listen = "[::1]:7001"
[services.e]
mode = "udp-log"
listen = "0.0.0.0:7000"
)");
  ASSERT_THAT(load.errors, SizeIs(2));
  EXPECT_TRUE(
      is_error_at(load.errors[0], 6u, 10u, "TCP address 0.0.0.0:7000 overlaps service 'a'"));
  EXPECT_TRUE(is_error_at(load.errors[1], 12u, 10u, "TCP address [::1]:7001 overlaps service 'c'"));
}

TEST(ConfigLoader, ModeSpecificKeyOnAnotherModePointsAtTheKey) {
  const auto error =
      only_error("[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\ngreeting = \"hello\"\n");
  EXPECT_TRUE(is_error_at(error, 4u, 1u, "key 'greeting' does not apply to mode 'echo'"));
  EXPECT_THAT(error.message, HasSubstr("only for mode 'chat'"));
}

TEST(ConfigLoader, StreamUploadTakesTheUploadLimitsButNotTheAckWords) {
  const auto load = parse(
      "[services.s]\nmode = \"stream-upload\"\nlisten = \"127.0.0.1:0\"\n"
      "max_upload_bytes = 4096\nupload_timeout = \"30s\"\nmin_free_bytes = 0\n");
  ASSERT_TRUE(load.ok());
  const auto& s = load.config->services.at(0);
  EXPECT_EQ(s.transport(), Transport::kTcp);
  EXPECT_EQ(s.max_upload_bytes, 4096u);
  EXPECT_EQ(s.upload_timeout, milliseconds(30'000));
  EXPECT_EQ(s.min_free_bytes, 0u);

  const auto error = only_error(
      "[services.s]\nmode = \"stream-upload\"\nlisten = \"127.0.0.1:0\"\nack_word = \"ok\"\n");
  EXPECT_TRUE(is_error_at(error, 4u, 1u, "key 'ack_word' does not apply to mode 'stream-upload'"));
  EXPECT_THAT(error.message, HasSubstr("only for mode 'upload'"));
}

TEST(ConfigLoader, TcpKeysDoNotApplyToUdp) {
  const auto error =
      only_error("[services.s]\nmode = \"udp-log\"\nlisten = \"127.0.0.1:0\"\nbacklog = 5\n");
  EXPECT_TRUE(is_error_at(error, 4u, 1u, "key 'backlog' does not apply to mode 'udp-log'"));
}

TEST(ConfigLoader, MissingModePointsAtTheServiceTable) {
  const auto error = only_error("\n[services.s]\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(is_error_at(error, 2u, 1u, "service 's' has no 'mode'"));
}

TEST(ConfigLoader, MissingListenPointsAtTheServiceTable) {
  const auto error = only_error("[services.s]\nmode = \"echo\"\n");
  EXPECT_TRUE(is_error_at(error, 1u, 1u, "service 's' has no 'listen'"));
}

TEST(ConfigLoader, UnknownModeIsSuggestedAndOtherKeysStillChecked) {
  const auto load =
      parse("[services.s]\nmode = \"udp_log\"\nlisten = \"127.0.0.1:0\"\nbacklogg = 1\n");
  ASSERT_THAT(load.errors, SizeIs(2));
  EXPECT_TRUE(is_error_at(load.errors[0], 2u, 8u, "did you mean \"udp-log\"?"));
  EXPECT_TRUE(is_error_at(load.errors[1], 4u, 1u, "did you mean 'backlog'?"));
}

TEST(ConfigLoader, ServiceNameMustBeSimple) {
  const auto error =
      only_error("[services.\"my service\"]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(is_error_at(error, 1u, 11u, "may only contain letters, digits, '_' and '-'"));
}

TEST(ConfigLoader, ServiceMustBeATable) {
  const auto error = only_error("[services]\ns = 5\n");
  EXPECT_TRUE(is_error_at(error, 2u, 5u, "service 's' must be a table"));
}

TEST(ConfigLoader, AtLeastOneServiceIsRequired) {
  EXPECT_TRUE(is_error_at(only_error(""), 1u, 1u, "no services configured"));
  EXPECT_TRUE(
      is_error_at(only_error("[daemon]\n\n[services]\n"), 3u, 1u, "no services configured"));
}

TEST(ConfigLoader, ReportsEveryErrorInFileOrder) {
  const auto load = parse(R"([services.b]
mode = "echo"
listen = "127.0.0.1:7000"
greeting = "x"

[services.a]
mode = "chat"
listen = "127.0.0.1:99999"
backlog = "5"
)");
  ASSERT_THAT(load.errors, SizeIs(3));
  EXPECT_EQ(load.errors[0].to_string(),
            "test.toml:4:1: error: key 'greeting' does not apply to mode 'echo'; it is only for "
            "mode 'chat': remove it or change the mode");
  EXPECT_TRUE(is_error_at(load.errors[1], 8u, 10u, "out of range 0..65535"));
  EXPECT_TRUE(is_error_at(load.errors[2], 9u, 11u, "'backlog' must be an integer"));
}

TEST(ConfigLoader, UnreadableFileIsOneErrorWithoutPosition) {
  const auto load = load_config_file("/nonexistent/socketd.toml");
  ASSERT_THAT(load.errors, SizeIs(1));
  EXPECT_EQ(load.errors[0].to_string(),
            "/nonexistent/socketd.toml: error: cannot read config: No such file or directory");
}

TEST(ConfigLoader, DirectoryIsNotAConfig) {
  const auto load = load_config_file("/");
  ASSERT_THAT(load.errors, SizeIs(1));
  EXPECT_EQ(load.errors[0].to_string(), "/: error: cannot read config: Is a directory");
}

TEST(ConfigLoader, LoadsAFileAndNamesItInErrors) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("socketd_config_test_" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << "[services.s]\nmode = \"echo\"\nlisten = \"127.0.0.1:0\"\nbacklog = 0\n";
  }
  const auto load = load_config_file(path.string());
  std::filesystem::remove(path);
  ASSERT_THAT(load.errors, SizeIs(1));
  EXPECT_EQ(load.errors[0].to_string(),
            path.string() + ":4:11: error: 'backlog' must be between 1 and 65535, not 0");
}

}  // namespace
}  // namespace socketd
