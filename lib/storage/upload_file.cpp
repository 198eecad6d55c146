#include "storage/upload_file.hpp"

#include <cstring>
#include <deque>
#include <vector>

#include "reactor/io_pool.hpp"
#include "storage/part_file.hpp"
#include "storage/upload_buffers.hpp"
#include "storage/upload_names.hpp"

namespace socketd {

namespace {

using Status = UploadTarget::Status;
using Limits = UploadFileLimits;

class UploadFile;

// One step of a file's life, run on an I/O thread.
class FileJob final : public IoJob {
 public:
  enum class Kind { kOpen, kWrite, kCommit, kAbandon };
  FileJob(std::shared_ptr<UploadFile> file, Kind kind, Chunk chunk = {})
      : file_(std::move(file)), kind_(kind), chunk_(std::move(chunk)) {}
  void run() noexcept override;
  void done() noexcept override;

  Kind kind() const { return kind_; }
  Chunk& chunk() { return chunk_; }

 private:
  friend class UploadFile;
  std::shared_ptr<UploadFile> file_;
  Kind kind_;
  Chunk chunk_;
  // kOpen: the upload's buffers, allocated and touched here so that their
  // page faults (256 per MiB, slow under virtualisation) never hit the loop.
  // kCommit/kAbandon: the buffers, freed here (munmap) for the same reason.
  std::vector<Block> blocks_;
  std::error_code result_;
  std::string name_;    // kOpen: the name the file got
  std::string digest_;  // kCommit with hashing
};

// The shared state behind a FileTarget. Reactor-thread fields and disk-side
// fields are separate: the disk side (disk_) is only touched by the job that
// is running, and only one job of a file runs at a time (busy_); the queues
// of IoPool order those accesses.
class UploadFile final : public std::enable_shared_from_this<UploadFile> {
 public:
  UploadFile(IoPool& pool, std::shared_ptr<const Fd> dir, std::string name,
             UploadFileOptions options, Wake wake)
      : pool_(pool),
        name_(name),
        base_name_(name),
        options_(options),
        wake_(std::move(wake)),
        status_(Status::kOpening),
        disk_(std::move(dir), std::move(name), options) {}

  void start() { push(FileJob::Kind::kOpen); }

  // Reactor side.
  Status status() const { return status_; }
  std::error_code error() const { return error_; }
  const std::string& name() const { return name_; }
  const std::string& digest() const { return digest_; }
  bool abandoned() const { return abandoned_; }

  bool can_take() const {
    return (status_ == Status::kOpening || status_ == Status::kOpen) &&
           queued_writes_ < Limits::kMaxQueuedWrites;
  }

  std::span<char> write_space(size_t max) {
    if (!taking()) return {};
    fill_buffer();
    return {filling_.bytes.get() + filling_.size,
            std::min(max, Limits::kBufferBytes - filling_.size)};
  }

  uint64_t stored() const { return stored_; }

  void append(std::span<const char> bytes) {
    if (!taking()) return;
    if (options_.write_each_append) {
      // A block of the chunk's own size: ack-protocol chunks are small, and a
      // thousand such uploads must not each hold megabytes.
      Chunk chunk{new_block(bytes.size()), bytes.size(), bytes.size()};
      std::memcpy(chunk.bytes.get(), bytes.data(), bytes.size());
      ++queued_writes_;
      push(FileJob::Kind::kWrite, std::move(chunk));
      return;
    }
    if (filling_.bytes && bytes.data() == filling_.bytes.get() + filling_.size &&
        bytes.size() <= Limits::kBufferBytes - filling_.size) {
      filling_.size += bytes.size();  // read straight into the buffer
    } else {
      while (!bytes.empty()) {
        fill_buffer();
        const size_t n = std::min(bytes.size(), Limits::kBufferBytes - filling_.size);
        std::memcpy(filling_.bytes.get() + filling_.size, bytes.data(), n);
        filling_.size += n;
        bytes = bytes.subspan(n);
        if (filling_.size == Limits::kBufferBytes) send_filling();
      }
    }
    if (filling_.size == Limits::kBufferBytes) send_filling();
  }

  void commit() {
    if (!taking()) return;
    send_filling();
    status_ = Status::kCommitting;
    push(FileJob::Kind::kCommit);
  }

  void abandon() {
    if (abandoned_) return;
    abandoned_ = true;
    wake_ = nullptr;
    if (status_ == Status::kFailed && !opened_) return;  // no file was ever made
    if (status_ == Status::kCommitted) return;  // durable and reported: leave it be
    if (status_ == Status::kCommitting) {
      // Not started yet: the commit never happens. (Already running: the
      // abandon job after it renames the final file to ".incomplete", since
      // the client never heard that it was kept.)
      std::erase_if(queue_, [](const auto& job) { return job->kind() == FileJob::Kind::kCommit; });
    }
    if (status_ != Status::kFailed) send_filling();  // keep every byte that arrived
    name_ += std::string(kIncompleteSuffix);
    push(FileJob::Kind::kAbandon);
  }

  // I/O thread: the job's step on the disk.
  void run(FileJob& job) noexcept;
  // Reactor thread: the job is over.
  void finished(FileJob& job) noexcept;

 private:
  bool taking() const { return !abandoned_ && (status_ == Status::kOpening || status_ == Status::kOpen); }

  void fill_buffer() {
    if (filling_.bytes) return;
    if (!spares_.empty()) {
      filling_.bytes = std::move(spares_.back());
      spares_.pop_back();
    } else {
      filling_.bytes = new_block(Limits::kBufferBytes);
    }
    filling_.size = 0;
    filling_.capacity = Limits::kBufferBytes;
  }

  void send_filling() {
    if (!filling_.bytes) return;
    if (filling_.size == 0) return;  // keep the empty buffer for the next bytes
    ++queued_writes_;
    push(FileJob::Kind::kWrite, std::move(filling_));
    filling_ = {};
  }

  void push(FileJob::Kind kind, Chunk chunk = {}) {
    queue_.push_back(std::make_unique<FileJob>(shared_from_this(), kind, std::move(chunk)));
    start_next();
  }

  void start_next() {
    if (busy_ || queue_.empty()) return;
    busy_ = true;
    std::unique_ptr<FileJob> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->kind() == FileJob::Kind::kCommit || job->kind() == FileJob::Kind::kAbandon) {
      // Every write before it is done: the buffers are all back.
      job->blocks_ = std::move(spares_);
      spares_.clear();
      if (filling_.bytes && filling_.size == 0) job->blocks_.push_back(std::move(filling_.bytes));
      filling_ = {};
    }
    pool_.submit(std::move(job));
  }

  // After a failure nothing but the abandon job still makes sense.
  void drop_pending_work() {
    std::erase_if(queue_, [this](auto& job) {
      if (job->kind() == FileJob::Kind::kAbandon) return false;
      if (job->kind() == FileJob::Kind::kWrite) recycle(job->chunk());
      return true;
    });
  }

  void recycle(Chunk& chunk) {
    --queued_writes_;
    if (chunk.bytes && chunk.capacity == Limits::kBufferBytes &&
        spares_.size() <= Limits::kMaxQueuedWrites) {
      spares_.push_back(std::move(chunk.bytes));
    }
  }

  IoPool& pool_;

  // Reactor thread only.
  std::string name_;  // as reported: final name, or with ".incomplete" once abandoned
  std::string base_name_;
  bool opened_ = false;  // the file exists
  const UploadFileOptions options_;
  Wake wake_;
  Status status_;
  std::error_code error_;
  std::string digest_;
  std::deque<std::unique_ptr<FileJob>> queue_;  // not yet submitted
  bool busy_ = false;                           // one job of this file in the pool
  bool abandoned_ = false;
  size_t queued_writes_ = 0;
  uint64_t stored_ = 0;  // bytes whose write() returned
  Chunk filling_;
  std::vector<Block> spares_;

  // I/O side: only the running job touches it.
  PartFile disk_;
};

void FileJob::run() noexcept { file_->run(*this); }
void FileJob::done() noexcept { file_->finished(*this); }

void UploadFile::run(FileJob& job) noexcept {
  switch (job.kind_) {
    case FileJob::Kind::kOpen:
      job.result_ = disk_.open(job.name_);
      if (!job.result_ && !options_.write_each_append) {
        for (size_t i = 0; i <= Limits::kMaxQueuedWrites; ++i) {
          Block block = new_block(Limits::kBufferBytes);
          for (size_t at = 0; at < Limits::kBufferBytes; at += 4096) block[at] = 0;
          job.blocks_.push_back(std::move(block));
        }
      }
      break;
    case FileJob::Kind::kWrite:
      job.result_ = disk_.write({job.chunk_.bytes.get(), job.chunk_.size});
      break;
    case FileJob::Kind::kCommit:
      job.result_ = disk_.commit(job.digest_);
      job.blocks_.clear();
      break;
    case FileJob::Kind::kAbandon:
      disk_.abandon();
      job.blocks_.clear();
      break;
  }
}

void UploadFile::finished(FileJob& job) noexcept {
  busy_ = false;
  switch (job.kind_) {
    case FileJob::Kind::kOpen:
      if (job.result_) {
        status_ = Status::kFailed;
        error_ = job.result_;
        drop_pending_work();
      } else {
        opened_ = true;
        for (auto& block : job.blocks_) {
          if (spares_.size() <= Limits::kMaxQueuedWrites) spares_.push_back(std::move(block));
        }
        if (job.name_ != base_name_) {
          // Renamed on a collision; keep what the session reports in step.
          base_name_ = job.name_;
          name_ = abandoned_ ? base_name_ + std::string(kIncompleteSuffix) : base_name_;
        }
        if (status_ == Status::kOpening) status_ = Status::kOpen;
      }
      break;
    case FileJob::Kind::kWrite:
      if (!job.result_) stored_ += job.chunk_.size;
      recycle(job.chunk_);
      if (job.result_ && status_ != Status::kFailed) {
        status_ = Status::kFailed;
        error_ = job.result_;
        drop_pending_work();
      }
      break;
    case FileJob::Kind::kCommit:
      if (job.result_) {
        if (status_ != Status::kFailed) error_ = job.result_;
        status_ = Status::kFailed;
      } else if (status_ == Status::kCommitting) {
        status_ = Status::kCommitted;
        digest_ = std::move(job.digest_);
      }
      break;
    case FileJob::Kind::kAbandon:
      break;
  }
  start_next();
  if (wake_) wake_();  // last: the session may abandon or commit from here
}

// The session's handle. Destroying it without commit or abandon abandons.
class FileTarget final : public UploadTarget {
 public:
  explicit FileTarget(std::shared_ptr<UploadFile> file) : file_(std::move(file)) {}
  ~FileTarget() override {
    if (file_->status() != Status::kCommitted) file_->abandon();
  }
  Status status() const override { return file_->status(); }
  std::error_code error() const override { return file_->error(); }
  bool can_take() const override { return file_->can_take(); }
  std::span<char> write_space(size_t max) override { return file_->write_space(max); }
  void append(std::span<const char> bytes) override { file_->append(bytes); }
  uint64_t stored() const override { return file_->stored(); }
  void commit() override { file_->commit(); }
  void abandon() override { file_->abandon(); }
  const std::string& name() const override { return file_->name(); }
  std::string sha256() const override { return file_->digest(); }

 private:
  std::shared_ptr<UploadFile> file_;
};

class FailedTarget final : public UploadTarget {
 public:
  explicit FailedTarget(std::error_code error) : error_(error) {}
  Status status() const override { return Status::kFailed; }
  std::error_code error() const override { return error_; }
  void append(std::span<const char>) override {}
  uint64_t stored() const override { return 0; }
  void commit() override {}
  void abandon() override {}
  const std::string& name() const override { return name_; }

 private:
  std::error_code error_;
  std::string name_;
};

}  // namespace

std::unique_ptr<UploadTarget> failed_upload_target(std::error_code error) {
  return std::make_unique<FailedTarget>(error);
}

std::unique_ptr<UploadTarget> open_upload_file(IoPool& pool, std::shared_ptr<const Fd> dir,
                                               std::string name, UploadFileOptions options,
                                               Wake wake) {
  auto file = std::make_shared<UploadFile>(pool, std::move(dir), std::move(name), options,
                                           std::move(wake));
  file->start();
  return std::make_unique<FileTarget>(std::move(file));
}

}  // namespace socketd
