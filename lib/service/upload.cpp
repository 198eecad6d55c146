#include "service/upload.hpp"

namespace socketd {

void UploadSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (state_ == State::kDone || state_ == State::kCommitting) return;
  const bool end = as_view(chunk) == options_.end_word;
  if (state_ == State::kIdle) {
    target_ = open_(reply.waker());
    state_ = State::kOpening;
    advance(reply);  // a target may be open (or have failed) at once
    if (state_ == State::kDone) return;
  }
  if (!end && options_.max_bytes != 0 && bytes_ + chunk.size() > options_.max_bytes) {
    fail("upload larger than max_upload_bytes (" + std::to_string(options_.max_bytes) + ")",
         reply);
    return;
  }
  if (state_ == State::kOpening) {
    // Kept by the target until the file exists; acknowledged once stored.
    if (end) {
      commit_after_open_ = true;
      target_->commit();
    } else {
      target_->append(chunk);
      bytes_ += chunk.size();
      ack_owed_ = true;
    }
    advance(reply);
    return;
  }
  if (end) {
    state_ = State::kCommitting;
    target_->commit();
    advance(reply);
    return;
  }
  target_->append(chunk);
  // A write refused at once stored nothing: the report counts what did.
  if (target_->status() != UploadTarget::Status::kFailed) bytes_ += chunk.size();
  ack_owed_ = true;
  advance(reply);
}

void UploadSession::advance(Reply& reply) {
  if (!target_) return;
  using Status = UploadTarget::Status;
  const Status status = target_->status();
  if (state_ == State::kOpening) {
    if (status == Status::kOpening) return;
    if (status == Status::kFailed) {
      // The file could not be created: nothing was stored, nothing to report.
      state_ = State::kDone;
      const std::string reason = "cannot store upload: " + target_->error().message();
      reply.send("error: " + reason);
      reply.close();
      if (refused_) refused_(reason);
      return;
    }
    state_ = commit_after_open_ ? State::kCommitting : State::kOpen;
  }
  if (state_ == State::kOpen && status == Status::kFailed) {
    fail("cannot write upload: " + target_->error().message(), reply);
  } else if (state_ == State::kCommitting && status == Status::kFailed) {
    fail("cannot make upload durable: " + target_->error().message(), reply);
  } else if (state_ == State::kOpen && ack_owed_ && target_->stored() >= bytes_) {
    ack_owed_ = false;
    reply.send(options_.ack_word);
  } else if (state_ == State::kCommitting && status == Status::kCommitted) {
    state_ = State::kDone;
    report(UploadResult::State::kFinished, {});
    reply.send(options_.ack_word);  // the durable acknowledgement
    reply.close();
  }
}

bool UploadSession::accepts_input() const {
  switch (state_) {
    case State::kOpening:
    case State::kCommitting:
      return false;
    case State::kOpen:
      return !ack_owed_ && target_->can_take();
    case State::kIdle:
    case State::kDone:
      break;
  }
  return true;
}

void UploadSession::fail(std::string reason, Reply& reply) {
  state_ = State::kDone;
  reply.send("error: " + reason);
  reply.close();
  target_->abandon();
  report(UploadResult::State::kIncomplete, std::move(reason));
}

void UploadSession::on_eof(Reply& reply) {
  // After the end word the client may half-close: the durable ack follows.
  if (state_ == State::kCommitting) return;
  on_close();
  reply.close();
}

void UploadSession::on_close() {
  if (state_ == State::kIdle || state_ == State::kDone) return;
  state_ = State::kDone;
  target_->abandon();
  report(UploadResult::State::kIncomplete, "connection ended before the end word");
}

void UploadSession::report(UploadResult::State state, std::string reason) {
  if (finished_) finished_({state, target_->name(), bytes_, std::move(reason), {}});
}

}  // namespace socketd
