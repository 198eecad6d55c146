#include "service/stream_upload.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace socketd {
namespace {

constexpr std::string_view kVerb = "UPLOAD ";

std::string bad_header_message() {
  return "bad header: send \"UPLOAD <size>\\n\" first, the size in decimal bytes";
}

}  // namespace

void StreamUploadSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (state_ == State::kDone || state_ == State::kCommitting) return;
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
  declared_ = size;
  target_ = open_(size, reply.waker());
  state_ = State::kOpening;
  return true;
}

void StreamUploadSession::store(std::span<const char> bytes, Reply& reply) {
  if (state_ == State::kOpening && target_->status() == UploadTarget::Status::kFailed) {
    advance(reply);  // the open failed at once: a refusal, whatever follows the header
    return;
  }
  if (bytes.size() > declared_ - received_) {
    fail("more than the declared " + std::to_string(declared_) + " bytes received", reply);
    return;
  }
  if (state_ == State::kOpening) {
    // A target may be open (or have failed) at once: an append that fails
    // must not pass for a failed open (no abandon, no report). No commit can
    // start here: received_ < declared_ unless `bytes` is empty.
    advance(reply);
    if (state_ == State::kDone) return;
  }
  if (!bytes.empty()) {
    target_->append(bytes);
    // A write refused at once stored nothing: the report counts what did.
    if (target_->status() != UploadTarget::Status::kFailed) received_ += bytes.size();
  }
  advance(reply);
}

void StreamUploadSession::advance(Reply& reply) {
  using Status = UploadTarget::Status;
  if (!target_) return;
  Status status = target_->status();
  if (state_ == State::kOpening) {
    if (status == Status::kOpening) return;
    if (status == Status::kFailed) {
      const std::error_code ec = target_->error();
      state_ = State::kDone;  // nothing was stored: a refusal, not an upload
      refuse(ec == std::errc::no_space_on_device
                 ? "not enough free disk space for " + std::to_string(declared_) +
                       " bytes; try again later or send a smaller file"
                 : "cannot store upload: " + ec.message(),
             reply);
      return;
    }
    state_ = State::kData;
  }
  if (state_ == State::kData) {
    if (status == Status::kFailed) {
      fail("cannot write upload: " + target_->error().message(), reply);
      return;
    }
    if (received_ < declared_) return;
    state_ = State::kCommitting;
    target_->commit();
    status = target_->status();
  }
  if (state_ != State::kCommitting) return;
  if (status == Status::kFailed) {
    fail("cannot make upload durable: " + target_->error().message(), reply);
  } else if (status == Status::kCommitted) {
    state_ = State::kDone;
    std::string digest = target_->sha256();
    reply.send("OK " + std::to_string(received_) + " sha256=" + digest + "\n");
    reply.close();
    report(UploadResult::State::kFinished, {}, std::move(digest));
  }
}

bool StreamUploadSession::accepts_input() const {
  switch (state_) {
    case State::kOpening:
    case State::kCommitting:
      return false;
    case State::kData:
      return target_->can_take();
    case State::kHeader:
    case State::kDone:
      break;
  }
  return true;
}

std::span<char> StreamUploadSession::input_space() {
  if (state_ != State::kData) return {};
  return target_->write_space(std::numeric_limits<size_t>::max());
}

size_t StreamUploadSession::input_batch() const {
  if (state_ != State::kData) return 0;
  return static_cast<size_t>(std::min<uint64_t>(kInputBatch, declared_ - received_));
}

void StreamUploadSession::refuse(const std::string& reason, Reply& reply) {
  reply_error(reason, reply);
  if (refused_) refused_(reason);
}

void StreamUploadSession::reply_error(const std::string& reason, Reply& reply) {
  state_ = State::kDone;
  reply.send("ERROR " + reason + "\n");
  reply.close();
}

void StreamUploadSession::fail(const std::string& reason, Reply& reply) {
  reply_error(reason, reply);
  target_->abandon();
  report(UploadResult::State::kIncomplete, reason, {});
}

std::string StreamUploadSession::cut_short_reason() const {
  return "connection ended after " + std::to_string(received_) + " of " +
         std::to_string(declared_) + " bytes";
}

void StreamUploadSession::on_eof(Reply& reply) {
  switch (state_) {
    case State::kOpening:
    case State::kData:
      // Everything arrived while the file was still being created: commit follows.
      if (received_ == declared_) return;
      fail(cut_short_reason(), reply);
      return;
    case State::kCommitting:
      return;  // every byte is in; the reply follows once the file is durable
    case State::kHeader:
      if (!header_.empty()) {
        refuse(bad_header_message(), reply);
        return;
      }
      break;
    case State::kDone:
      break;
  }
  reply.close();
}

void StreamUploadSession::on_close() {
  if (state_ != State::kOpening && state_ != State::kData && state_ != State::kCommitting) return;
  state_ = State::kDone;
  target_->abandon();
  report(UploadResult::State::kIncomplete, cut_short_reason(), {});
}

void StreamUploadSession::report(UploadResult::State state, std::string reason,
                                 std::string sha256) {
  if (finished_) {
    finished_({state, target_->name(), received_, std::move(reason), std::move(sha256)});
  }
}

}  // namespace socketd
