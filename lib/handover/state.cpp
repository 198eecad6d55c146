#include "handover/state.hpp"

#include <netinet/in.h>

#include <cstring>

namespace socketd::handover {
namespace {

constexpr char kMagic[4] = {'S', 'D', 'H', 'O'};
constexpr size_t kHeaderSize = 4 + 2 + 2 + 8 + 8;

enum Tag : uint8_t { kListener = 1, kConnection = 2, kCounters = 3 };

uint64_t fnv1a(std::span<const char> bytes) {
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void bytes(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void address(const SocketAddress& a) {
    if (a.family() == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.get());
      u8(6);
      out_.append(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
      u32(in6->sin6_scope_id);
    } else {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a.get());
      u8(4);
      out_.append(reinterpret_cast<const char*>(&in->sin_addr), 4);
    }
    u16(a.port());
  }
  // A record: tag, length, then what `body` writes.
  template <typename F>
  void record(uint8_t tag, F&& body) {
    u8(tag);
    const size_t at = out_.size();
    u32(0);
    body();
    const auto len = static_cast<uint32_t>(out_.size() - at - 4);
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>(len >> (8 * i));
  }
  std::string& out() { return out_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string out_;
};

// Reads within [pos, end) of the input; the first failure sticks and every
// later read returns zeros, so callers check ok() once per record.
class Reader {
 public:
  Reader(std::span<const char> in, size_t base) : in_(in), base_(base) {}
  bool ok() const { return error_.empty(); }
  size_t left() const { return in_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }
  const std::string& error() const { return error_; }
  size_t error_offset() const { return error_offset_; }
  void fail(std::string message) {
    if (!ok()) return;
    error_ = std::move(message);
    error_offset_ = offset();
  }

  uint8_t u8() { return static_cast<uint8_t>(le(1, "u8")); }
  uint16_t u16() { return static_cast<uint16_t>(le(2, "u16")); }
  uint32_t u32() { return static_cast<uint32_t>(le(4, "u32")); }
  uint64_t u64() { return le(8, "u64"); }
  int32_t fd() {
    const uint32_t v = u32();
    if (v > 0x7fffffffu) fail("descriptor number out of range");
    return static_cast<int32_t>(v & 0x7fffffffu);
  }
  std::string bytes(size_t max, const char* what) {
    const uint32_t n = u32();
    if (!ok()) return {};
    if (n > max) {
      fail(std::string(what) + " longer than " + std::to_string(max) + " bytes");
      return {};
    }
    if (n > left()) {
      fail(std::string(what) + " truncated");
      return {};
    }
    std::string s(in_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const char> take(size_t n) {
    if (!ok() || n > left()) {
      fail("truncated");
      return {};
    }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  SocketAddress address() {
    const uint8_t family = u8();
    SocketAddress a;
    if (family == 4) {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      auto raw = take(4);
      if (ok()) std::memcpy(&in.sin_addr, raw.data(), 4);
      in.sin_port = htons(u16());
      a = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    } else if (family == 6) {
      sockaddr_in6 in6{};
      in6.sin6_family = AF_INET6;
      auto raw = take(16);
      if (ok()) std::memcpy(&in6.sin6_addr, raw.data(), 16);
      in6.sin6_scope_id = u32();
      in6.sin6_port = htons(u16());
      a = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    } else {
      fail("address family " + std::to_string(family) + " is neither 4 nor 6");
    }
    return a;
  }

 private:
  uint64_t le(size_t n, const char* what) {
    if (!ok()) return 0;
    if (n > left()) {
      fail(std::string(what) + " truncated");
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    return v;
  }

  std::span<const char> in_;
  size_t base_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_offset_ = 0;
};

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/') return false;
  }
  return true;
}

}  // namespace

std::string encode(const State& state) {
  Writer body;
  for (const auto& l : state.listeners) {
    body.record(kListener, [&] {
      body.bytes(l.service);
      body.i32(l.fd);
      body.u8(static_cast<uint8_t>((l.tcp ? 1 : 0) | (l.activated ? 2 : 0)));
    });
  }
  for (const auto& c : state.connections) {
    body.record(kConnection, [&] {
      body.bytes(c.service);
      body.i32(c.fd);
      body.u8(static_cast<uint8_t>(c.kind));
      body.address(c.peer);
      body.u8(c.proxy ? 1 : 0);
      if (c.proxy) body.address(*c.proxy);
      body.u64(c.bytes_in);
      body.u64(c.bytes_out);
      body.u64(c.age_ms);
      body.u64(c.idle_ms);
      body.bytes(c.pending_output);
      body.bytes(c.session_state);
      body.u8(c.session_done ? 1 : 0);
      body.u8(c.upload ? 1 : 0);
      if (c.upload) {
        body.i32(c.upload->file_fd);
        body.bytes(c.upload->part_name);
        body.u64(c.upload->bytes);
        body.u64(c.upload->declared_size);
      }
    });
  }
  for (const auto& k : state.counters) {
    body.record(kCounters, [&] {
      body.bytes(k.service);
      body.u32(static_cast<uint32_t>(k.values.size()));
      for (uint64_t v : k.values) body.u64(v);
    });
  }
  return seal(body.out());
}

std::string seal(std::span<const char> body) {
  Writer all;
  for (char c : kMagic) all.u8(static_cast<uint8_t>(c));
  all.u16(kVersion);
  all.u16(0);
  all.u64(body.size());
  all.u64(fnv1a(body));
  all.out().append(body.data(), body.size());
  return std::move(all.out());
}

std::variant<State, DecodeError> decode(std::span<const char> bytes) {
  Reader head(bytes.first(std::min(bytes.size(), kHeaderSize)), 0);
  auto magic = head.take(4);
  if (!head.ok() || std::memcmp(magic.data(), kMagic, 4) != 0) {
    return DecodeError{"not socketd hand-over state (bad magic or too short)", 0};
  }
  const uint16_t version = head.u16();
  const uint16_t reserved = head.u16();
  const uint64_t length = head.u64();
  const uint64_t sum = head.u64();
  if (!head.ok()) return DecodeError{"header truncated", head.error_offset()};
  if (version != kVersion) {
    return DecodeError{"state format version " + std::to_string(version) + ", this socketd reads " +
                           std::to_string(kVersion),
                       4};
  }
  if (reserved != 0) return DecodeError{"reserved header field is not 0", 6};
  if (length != bytes.size() - kHeaderSize) {
    return DecodeError{"body is " + std::to_string(bytes.size() - kHeaderSize) +
                           " bytes, the header says " + std::to_string(length),
                       8};
  }
  const auto body = bytes.subspan(kHeaderSize);
  if (fnv1a(body) != sum) return DecodeError{"checksum mismatch (corrupt state)", 16};

  State state;
  Reader r(body, kHeaderSize);
  size_t records = 0;
  while (r.ok() && r.left() > 0) {
    if (++records > kMaxRecords) {
      r.fail("more than " + std::to_string(kMaxRecords) + " records");
      break;
    }
    const uint8_t tag = r.u8();
    const uint32_t len = r.u32();
    const size_t at = r.offset();
    auto span = r.take(len);
    if (!r.ok()) break;
    Reader f(span, at);
    auto check_name = [&](const std::string& name, const char* what) {
      if (f.ok() && !valid_name(name)) f.fail(std::string("invalid ") + what);
    };
    switch (tag) {
      case kListener: {
        ListenerRecord l;
        l.service = f.bytes(kMaxName, "service name");
        check_name(l.service, "service name");
        l.fd = f.fd();
        const uint8_t flags = f.u8();
        if (flags > 3) f.fail("unknown listener flags " + std::to_string(flags));
        l.tcp = (flags & 1) != 0;
        l.activated = (flags & 2) != 0;
        if (f.ok()) state.listeners.push_back(std::move(l));
        break;
      }
      case kConnection: {
        ConnectionRecord c;
        c.service = f.bytes(kMaxName, "service name");
        check_name(c.service, "service name");
        c.fd = f.fd();
        const uint8_t kind = f.u8();
        if (f.ok() && (kind < 1 || kind > 5))
          f.fail("unknown session kind " + std::to_string(kind));
        c.kind = static_cast<SessionKind>(kind);
        c.peer = f.address();
        const uint8_t has_proxy = f.u8();
        if (has_proxy > 1) f.fail("proxy flag is neither 0 nor 1");
        if (has_proxy == 1) c.proxy = f.address();
        c.bytes_in = f.u64();
        c.bytes_out = f.u64();
        c.age_ms = f.u64();
        c.idle_ms = f.u64();
        c.pending_output = f.bytes(kMaxPendingOutput, "pending output");
        c.session_state = f.bytes(kMaxSessionState, "session state");
        const uint8_t done = f.u8();
        if (done > 1) f.fail("session-done flag is neither 0 nor 1");
        c.session_done = done == 1;
        const uint8_t has_upload = f.u8();
        if (has_upload > 1) f.fail("upload flag is neither 0 nor 1");
        const bool upload_kind =
            c.kind == SessionKind::kUpload || c.kind == SessionKind::kStreamUpload;
        if (f.ok() && (has_upload == 1) != upload_kind) {
          f.fail("upload part present exactly for upload sessions");
        }
        if (f.ok() && has_upload == 1) {
          UploadRecord u;
          u.file_fd = f.fd();
          u.part_name = f.bytes(kMaxName, "upload file name");
          check_name(u.part_name, "upload file name");
          u.bytes = f.u64();
          u.declared_size = f.u64();
          if (f.ok() && c.kind == SessionKind::kStreamUpload && u.bytes > u.declared_size) {
            f.fail("stream upload holds more than it declared");
          }
          c.upload = std::move(u);
        }
        if (f.ok()) state.connections.push_back(std::move(c));
        break;
      }
      case kCounters: {
        CounterRecord k;
        k.service = f.bytes(kMaxName, "service name");
        check_name(k.service, "service name");
        const uint32_t n = f.u32();
        if (f.ok() && n > f.left() / 8) f.fail("counter values truncated");
        for (uint32_t i = 0; f.ok() && i < n; ++i) k.values.push_back(f.u64());
        if (f.ok()) state.counters.push_back(std::move(k));
        break;
      }
      default:
        break;  // a record this version does not know: skipped
    }
    if (!f.ok()) return DecodeError{f.error(), f.error_offset()};
  }
  if (!r.ok()) return DecodeError{r.error(), r.error_offset()};
  return state;
}

}  // namespace socketd::handover
