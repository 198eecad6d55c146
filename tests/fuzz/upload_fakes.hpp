// Fakes shared by the upload fuzz targets (fuzz_upload, fuzz_stream_upload):
// a Reply that records what was sent and checks nothing is sent after
// close(), and an in-memory UploadTarget that checks the target protocol
// (nothing after commit or abandon, each at most once) and can fail on demand.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"
#include "service/upload.hpp"

namespace socketd::fuzz {

class RecordingReply final : public Reply {
 public:
  void send(std::string_view first, std::string_view second) override {
    fuzz_check(!closed, "send after close(): \"" + printable(first) + "\"");
    sent.push_back(std::string(first) + std::string(second));
  }
  void close() override { closed = true; }

  std::vector<std::string> sent;
  bool closed = false;
};

// What the target saw; outlives it.
struct Storage {
  bool commit_fails = false;
  int fail_append_number = 0;  // 1-based; 0: never
  int opens = 0;
  int appends = 0;
  int commits = 0;
  int abandons = 0;
  bool committed = false;
  std::string data;
  std::vector<UploadResult> reports;
};

class MemoryTarget final : public UploadTarget {
 public:
  explicit MemoryTarget(Storage& s) : s_(s) {}
  std::error_code append(std::span<const char> bytes) override {
    fuzz_check(!s_.committed && s_.abandons == 0, "append after commit/abandon");
    if (++s_.appends == s_.fail_append_number) {
      return std::make_error_code(std::errc::no_space_on_device);
    }
    s_.data.append(bytes.data(), bytes.size());
    return {};
  }
  std::error_code commit() override {
    fuzz_check(!s_.committed && s_.abandons == 0, "commit after commit/abandon");
    ++s_.commits;
    if (s_.commit_fails) return std::make_error_code(std::errc::io_error);
    s_.committed = true;
    name_ = "upload-1";
    return {};
  }
  void abandon() override {
    fuzz_check(!s_.committed, "abandon after a successful commit");
    fuzz_check(s_.abandons == 0, "abandoned twice");
    ++s_.abandons;
    name_ = "upload-1.incomplete";
  }
  const std::string& name() const override { return name_; }

 private:
  Storage& s_;
  std::string name_ = ".upload-1.part";
};

}  // namespace socketd::fuzz
