#include "service/upload.hpp"

namespace socketd {

void UploadSession::on_data(std::span<const char> chunk, Reply& reply) {
  if (done_) return;
  if (!target_) {
    std::error_code ec;
    target_ = open_(ec);
    if (!target_) {
      done_ = true;
      reply.send("error: cannot store upload: " + ec.message());
      reply.close();
      return;
    }
  }
  if (as_view(chunk) == options_.end_word) {
    if (auto ec = target_->commit()) {
      fail("cannot make upload durable: " + ec.message(), reply);
      return;
    }
    done_ = true;
    report(UploadResult::State::kFinished, {});
    reply.send(options_.ack_word);  // the durable acknowledgement
    reply.close();
    return;
  }
  if (options_.max_bytes != 0 && bytes_ + chunk.size() > options_.max_bytes) {
    fail("upload larger than max_upload_bytes (" + std::to_string(options_.max_bytes) + ")",
         reply);
    return;
  }
  if (auto ec = target_->append(chunk)) {
    fail("cannot write upload: " + ec.message(), reply);
    return;
  }
  bytes_ += chunk.size();
  reply.send(options_.ack_word);
}

void UploadSession::fail(std::string reason, Reply& reply) {
  done_ = true;
  reply.send("error: " + reason);
  reply.close();
  target_->abandon();
  report(UploadResult::State::kIncomplete, std::move(reason));
}

void UploadSession::on_eof(Reply& reply) {
  on_close();
  reply.close();
}

void UploadSession::on_close() {
  if (done_ || !target_) return;
  done_ = true;
  target_->abandon();
  report(UploadResult::State::kIncomplete, "connection ended before the end word");
}

void UploadSession::report(UploadResult::State state, std::string reason) {
  if (finished_) finished_({state, target_->name(), bytes_, std::move(reason), {}});
}

}  // namespace socketd
