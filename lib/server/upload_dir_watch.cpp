#include "server/upload_dir_watch.hpp"

namespace socketd {

UploadDirWatch::UploadDirWatch(Reactor& reactor, IoPool& pool, Logger& logger,
                               std::function<void(std::unique_ptr<UploadStore>)> adopt)
    : reactor_(reactor),
      pool_(pool),
      logger_(logger),
      adopt_(std::move(adopt)),
      self_(std::make_shared<UploadDirWatch*>(this)) {}

UploadDirWatch::~UploadDirWatch() {
  if (timer_ != 0) reactor_.cancel_timer(timer_);
  *self_ = nullptr;  // a check still in flight completes into nothing
}

void UploadDirWatch::watch(const UploadStore& store) {
  // The previous store may be gone already (the Server replaced it first):
  // compare with the path kept here, never through the old pointer.
  const bool same_path = store_ != nullptr && path_ == store.path();
  store_ = &store;
  path_ = store.path();
  ++generation_;
  if (!same_path) reported_gone_ = false;
  if (timer_ == 0 && !in_flight_) schedule();
}

void UploadDirWatch::schedule() {
  timer_ = reactor_.add_timer(kInterval, [this] {
    timer_ = 0;
    if (store_ == nullptr) return;
    in_flight_ = true;
    store_->check(pool_, [self = std::weak_ptr<UploadDirWatch*>(self_),
                          generation = generation_](UploadStore::Check c) {
      if (auto watch = self.lock(); watch && *watch != nullptr) {
        (*watch)->checked(std::move(c), generation);
      }
    });
  });
}

void UploadDirWatch::checked(UploadStore::Check check, uint64_t generation) {
  in_flight_ = false;
  if (generation != generation_ || store_ == nullptr) {
    if (timer_ == 0 && store_ != nullptr) schedule();
    return;
  }
  using Kind = UploadStore::Check::Kind;
  const std::string dir = store_->path();
  switch (check.kind) {
    case Kind::kSame:
      if (reported_gone_) {
        logger_.log({LogLevel::kNotice,
                     LogEvent::kGeneric,
                     "upload directory " + dir + " is back; uploads are stored again",
                     {{"UPLOAD_DIR", dir}},
                     true});
      }
      reported_gone_ = false;
      break;
    case Kind::kMissing:
    case Kind::kNotADirectory:
      if (!reported_gone_) {
        const std::string why =
            check.kind == Kind::kNotADirectory ? "it is not a directory" : check.error.message();
        const std::string effect =
            check.unlinked ? "new uploads fail until it exists again"
                           : "it was moved: new uploads still go to the moved directory";
        logger_.log({LogLevel::kWarning,
                     LogEvent::kGeneric,
                     "upload directory " + dir + " is gone (" + why + "): " + effect +
                         ". Recreate it (mkdir -p " + dir +
                         ", writable by socketd's user; socketd picks it up within " +
                         std::to_string(kInterval.count()) +
                         " s) or reload socketd, which creates it; socketd does not recreate it "
                         "on its own in case it is an unmounted mount point",
                     {{"UPLOAD_DIR", dir}, {"REASON", why}},
                     true});
        reported_gone_ = true;
      }
      break;
    case Kind::kReplaced:
      logger_.log({LogLevel::kNotice,
                   LogEvent::kGeneric,
                   "upload directory " + dir +
                       (reported_gone_ ? " exists again" : " was replaced by another directory") +
                       "; new uploads go to the directory now at that path",
                   {{"UPLOAD_DIR", dir}},
                   true});
      reported_gone_ = false;
      // adopt_ calls watch() with the new store.
      if (check.replaced) adopt_(std::move(check.replaced));
      break;
  }
  if (timer_ == 0) schedule();
}

}  // namespace socketd
