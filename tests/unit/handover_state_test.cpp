// The hand-over state format: round trips, and a decoder that survives every
// truncation, bit flip, wrong version and hostile length without crashing.
#include "handover/state.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace socketd::handover {
namespace {

SocketAddress addr(const char* text) {
  return *SocketAddress::parse(text);
}

State sample() {
  State s;
  s.listeners.push_back({"hello", 3, true});
  s.listeners.push_back({"udp", 4, false});
  ConnectionRecord chat;
  chat.service = "hello";
  chat.fd = 7;
  chat.kind = SessionKind::kChat;
  chat.peer = addr("127.0.0.1:40000");
  chat.bytes_in = 12;
  chat.bytes_out = 30;
  chat.age_ms = 1500;
  chat.idle_ms = 20;
  chat.pending_output = "hi there777";
  chat.session_state = "half a li";
  s.connections.push_back(chat);
  ConnectionRecord proxied;
  proxied.service = "echo";
  proxied.fd = 8;
  proxied.kind = SessionKind::kProxyPending;
  proxied.peer = addr("[2001:db8::1]:443");
  proxied.proxy = addr("10.0.0.1:5000");
  proxied.session_state = "PROXY TCP4 1.2.3.4";
  s.connections.push_back(proxied);
  ConnectionRecord up;
  up.service = "upload";
  up.fd = 9;
  up.kind = SessionKind::kStreamUpload;
  up.peer = addr("127.0.0.1:40001");
  up.upload = UploadRecord{10, "upload-20261203-1.part", 4096, 1 << 20};
  s.connections.push_back(up);
  s.counters.push_back({"hello", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}});
  return s;
}

void expect_same(const ConnectionRecord& a, const ConnectionRecord& b) {
  EXPECT_EQ(a.service, b.service);
  EXPECT_EQ(a.fd, b.fd);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.peer, b.peer);
  EXPECT_EQ(a.proxy.has_value(), b.proxy.has_value());
  if (a.proxy && b.proxy) {
    EXPECT_EQ(*a.proxy, *b.proxy);
  }
  EXPECT_EQ(a.bytes_in, b.bytes_in);
  EXPECT_EQ(a.bytes_out, b.bytes_out);
  EXPECT_EQ(a.age_ms, b.age_ms);
  EXPECT_EQ(a.idle_ms, b.idle_ms);
  EXPECT_EQ(a.pending_output, b.pending_output);
  EXPECT_EQ(a.session_state, b.session_state);
  EXPECT_EQ(a.session_done, b.session_done);
  ASSERT_EQ(a.upload.has_value(), b.upload.has_value());
  if (a.upload) {
    EXPECT_EQ(a.upload->file_fd, b.upload->file_fd);
    EXPECT_EQ(a.upload->part_name, b.upload->part_name);
    EXPECT_EQ(a.upload->bytes, b.upload->bytes);
    EXPECT_EQ(a.upload->declared_size, b.upload->declared_size);
  }
}

constexpr size_t kHeader = 24;

TEST(HandoverState, RoundTrip) {
  const State in = sample();
  const std::string bytes = encode(in);
  auto out = decode(bytes);
  ASSERT_TRUE(std::holds_alternative<State>(out)) << std::get<DecodeError>(out).message;
  const State& s = std::get<State>(out);
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[1].service, "udp");
  EXPECT_EQ(s.listeners[1].fd, 4);
  EXPECT_FALSE(s.listeners[1].tcp);
  ASSERT_EQ(s.connections.size(), in.connections.size());
  for (size_t i = 0; i < s.connections.size(); ++i)
    expect_same(s.connections[i], in.connections[i]);
  ASSERT_EQ(s.counters.size(), 1u);
  EXPECT_EQ(s.counters[0].values, in.counters[0].values);
}

TEST(HandoverState, EmptyStateRoundTrips) {
  auto out = decode(encode(State{}));
  ASSERT_TRUE(std::holds_alternative<State>(out));
  EXPECT_TRUE(std::get<State>(out).connections.empty());
}

TEST(HandoverState, EveryTruncationIsRefused) {
  const std::string bytes = encode(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto out = decode(std::span<const char>(bytes.data(), n));
    EXPECT_TRUE(std::holds_alternative<DecodeError>(out)) << "accepted the first " << n << " bytes";
  }
}

// The body cut anywhere and sealed again (valid header and checksum): the
// record decoder itself must refuse the cut, or accept exactly a prefix of
// the records when the cut falls between two.
TEST(HandoverState, EveryTruncationOfTheBodyIsRefusedOrAWholeRecordPrefix) {
  const State in = sample();
  const std::string bytes = encode(in);
  const std::string_view body = std::string_view(bytes).substr(kHeader);
  size_t accepted = 0;
  for (size_t n = 0; n <= body.size(); ++n) {
    const std::string sealed = seal(body.substr(0, n));
    auto out = decode(sealed);
    if (std::holds_alternative<DecodeError>(out)) {
      const auto& e = std::get<DecodeError>(out);
      EXPECT_FALSE(e.message.empty());
      EXPECT_LE(e.offset, sealed.size());
      continue;
    }
    ++accepted;
    const State& s = std::get<State>(out);
    const size_t records = s.listeners.size() + s.connections.size() + s.counters.size();
    EXPECT_LE(records, 6u);
    for (size_t i = 0; i < s.connections.size(); ++i)
      expect_same(s.connections[i], in.connections[i]);
  }
  EXPECT_EQ(accepted, 7u) << "one per record boundary, including the empty body";
}

TEST(HandoverState, AnyFlippedByteIsRefused) {
  const std::string bytes = encode(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto out = decode(bad);
    EXPECT_TRUE(std::holds_alternative<DecodeError>(out)) << "byte " << i;
  }
}

TEST(HandoverState, AnotherVersionIsRefusedAsAWhole) {
  std::string bytes = encode(sample());
  bytes[4] = 2;
  auto out = decode(bytes);
  ASSERT_TRUE(std::holds_alternative<DecodeError>(out));
  EXPECT_NE(std::get<DecodeError>(out).message.find("version 2"), std::string::npos);
}

TEST(HandoverState, UnknownRecordsAreSkipped) {
  const std::string bytes = encode(sample());
  std::string body(bytes.substr(kHeader));
  body += std::string("\x63\x03\x00\x00\x00xyz", 8);  // tag 99, 3 bytes
  auto out = decode(seal(body));
  ASSERT_TRUE(std::holds_alternative<State>(out)) << std::get<DecodeError>(out).message;
  EXPECT_EQ(std::get<State>(out).connections.size(), 3u);
}

TEST(HandoverState, HostileLengthsAreRefused) {
  // A listener whose name claims 4 GiB.
  std::string body("\x01\x08\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00", 13);
  auto out = decode(seal(body));
  ASSERT_TRUE(std::holds_alternative<DecodeError>(out));
  EXPECT_NE(std::get<DecodeError>(out).message.find("service name"), std::string::npos);
  // A record longer than what follows.
  out = decode(seal(std::string("\x02\xff\xff\x00\x00", 5)));
  ASSERT_TRUE(std::holds_alternative<DecodeError>(out));
  // Counters claiming more values than bytes.
  std::string counters("\x03\x09\x00\x00\x00\x01\x00\x00\x00x\xff\xff\xff\x7f", 14);
  out = decode(seal(counters));
  ASSERT_TRUE(std::holds_alternative<DecodeError>(out));
  EXPECT_NE(std::get<DecodeError>(out).message.find("counter"), std::string::npos);
}

TEST(HandoverState, BadFieldsAreRefused) {
  State s;
  ConnectionRecord c;
  c.service = "chat";
  c.fd = 5;
  c.kind = SessionKind::kChat;
  c.peer = addr("127.0.0.1:1");
  s.connections.push_back(c);
  const std::string good = encode(s);
  ASSERT_TRUE(std::holds_alternative<State>(decode(good)));
  std::string body(good.substr(kHeader));
  // Layout: tag(1) len(4) name(4+4) fd(4) kind(1) family(1)...
  auto with = [&](size_t at, char value) {
    std::string b = body;
    b[at] = value;
    return decode(seal(b));
  };
  EXPECT_TRUE(std::holds_alternative<DecodeError>(with(5 + 8 + 4, 9)));       // kind 9
  EXPECT_TRUE(std::holds_alternative<DecodeError>(with(5 + 8 + 4 + 1, 5)));   // family 5
  EXPECT_TRUE(std::holds_alternative<DecodeError>(with(5 + 8 + 3, '\x80')));  // fd < 0
  EXPECT_TRUE(std::holds_alternative<DecodeError>(with(5 + 4, '\n')));        // name with a control
  EXPECT_TRUE(
      std::holds_alternative<DecodeError>(with(5 + 8 + 4, 4)));  // upload kind, no upload part
}

}  // namespace
}  // namespace socketd::handover
