#include "service/stream_upload.hpp"

#include <algorithm>
#include <charconv>

namespace socketd {
namespace {

constexpr std::string_view kVerb = "UPLOAD ";

std::string bad_header_message() {
  return "bad header: send \"UPLOAD <size>\\n\" first, the size in decimal bytes";
}

}  // namespace

void StreamUploadSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (state_ == State::kDone) return;
  if (state_ == State::kHeader && !read_header(chunk, reply)) return;
  store(chunk, reply);
}

bool StreamUploadSession::read_header(std::span<const char>& chunk, Reply& reply) {
  const std::string_view bytes = as_view(chunk);
  const size_t newline = bytes.find('\n');
  const size_t take = newline == std::string_view::npos ? bytes.size() : newline + 1;
  if (header_.size() + take > kMaxHeader) {
    refuse(bad_header_message(), reply);
    return false;
  }
  header_.append(bytes.substr(0, take));
  chunk = chunk.subspan(take);
  if (newline == std::string_view::npos) return false;
  return start(strip_one_newline(header_), reply);
}

bool StreamUploadSession::start(std::string_view line, Reply& reply) {
  if (!line.starts_with(kVerb)) {
    refuse(bad_header_message(), reply);
    return false;
  }
  const std::string_view digits = line.substr(kVerb.size());
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  uint64_t size = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
  if (!all_digits || ec != std::errc{} || end != digits.data() + digits.size()) {
    refuse(bad_header_message(), reply);
    return false;
  }
  if (options_.max_bytes != 0 && size > options_.max_bytes) {
    refuse("size " + std::to_string(size) + " exceeds max_upload_bytes (" +
               std::to_string(options_.max_bytes) + "); send a smaller file",
           reply);
    return false;
  }
  std::error_code ec_open;
  target_ = open_(size, ec_open);
  if (!target_) {
    refuse(ec_open == std::errc::no_space_on_device
               ? "not enough free disk space for " + std::to_string(size) +
                     " bytes; try again later or send a smaller file"
               : "cannot store upload: " + ec_open.message(),
           reply);
    return false;
  }
  declared_ = size;
  state_ = State::kData;
  return true;
}

void StreamUploadSession::store(std::span<const char> bytes, Reply& reply) {
  if (bytes.size() > declared_ - received_) {
    fail("more than the declared " + std::to_string(declared_) + " bytes received", reply);
    return;
  }
  if (!bytes.empty()) {
    hash_.update(bytes);
    if (auto ec = target_->append(bytes)) {
      fail("cannot write upload: " + ec.message(), reply);
      return;
    }
    received_ += bytes.size();
  }
  if (received_ < declared_) return;
  if (auto ec = target_->commit()) {
    fail("cannot make upload durable: " + ec.message(), reply);
    return;
  }
  state_ = State::kDone;
  std::string digest = hash_.hex_digest();
  reply.send("OK " + std::to_string(received_) + " sha256=" + digest + "\n");
  reply.close();
  report(UploadResult::State::kFinished, {}, std::move(digest));
}

void StreamUploadSession::refuse(const std::string& reason, Reply& reply) {
  state_ = State::kDone;
  reply.send("ERROR " + reason + "\n");
  reply.close();
}

void StreamUploadSession::fail(const std::string& reason, Reply& reply) {
  refuse(reason, reply);
  target_->abandon();
  report(UploadResult::State::kIncomplete, reason, {});
}

void StreamUploadSession::on_eof(Reply& reply) {
  if (state_ == State::kData) {
    fail("connection ended after " + std::to_string(received_) + " of " +
             std::to_string(declared_) + " bytes",
         reply);
    return;
  }
  if (state_ == State::kHeader && !header_.empty()) {
    refuse(bad_header_message(), reply);
    return;
  }
  reply.close();
}

void StreamUploadSession::on_close() {
  if (state_ != State::kData) return;
  state_ = State::kDone;
  target_->abandon();
  report(UploadResult::State::kIncomplete,
         "connection ended after " + std::to_string(received_) + " of " +
             std::to_string(declared_) + " bytes",
         {});
}

void StreamUploadSession::report(UploadResult::State state, std::string reason,
                                 std::string sha256) {
  if (finished_) {
    finished_({state, target_->name(), received_, std::move(reason), std::move(sha256)});
  }
}

}  // namespace socketd
