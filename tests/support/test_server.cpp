#include "support/test_server.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace socketd::test {

void CaptureSink::write(const LogRecord& record) noexcept {
  {
    std::lock_guard lock(mutex_);
    records_.push_back(record);
  }
  changed_.notify_all();
}

std::vector<LogRecord> CaptureSink::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

size_t CaptureSink::count(LogEvent event) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(records_.begin(), records_.end(),
                                           [&](const auto& r) { return r.event == event; }));
}

bool CaptureSink::wait_for(LogEvent event, size_t count) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, std::chrono::seconds(10), [&] {
    return static_cast<size_t>(std::count_if(records_.begin(), records_.end(), [&](const auto& r) {
             return r.event == event;
           })) >= count;
  });
}

ServiceConfig make_service(std::string name, Mode mode) {
  ServiceConfig s;
  s.name = std::move(name);
  s.mode = mode;
  s.listen = {*SocketAddress::parse("127.0.0.1:0")};
  s.backlog = 1024;  // tests open many connections at once
  return s;
}

// Cross-thread work queue: an eventfd the reactor watches.
class TestServer::Mailbox final : public IoHandler {
 public:
  explicit Mailbox(Reactor& reactor) : reactor_(reactor), fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    reactor_.add(fd_.get(), this, EPOLLIN | EPOLLET);
  }
  ~Mailbox() override { reactor_.remove(fd_.get()); }
  void post(std::function<void()> work) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(work));
    }
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_.get(), &one, sizeof one);
  }
  void on_io(uint32_t) noexcept override {
    uint64_t value;
    [[maybe_unused]] auto n = ::read(fd_.get(), &value, sizeof value);
    std::vector<std::function<void()>> work;
    {
      std::lock_guard lock(mutex_);
      work.swap(queue_);
    }
    for (auto& w : work) w();
  }

 private:
  Reactor& reactor_;
  Fd fd_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

TestServer::TestServer(std::vector<ServiceConfig> services, DaemonConfig daemon)
    : logger_(sink_, daemon.log_level), daemon_(daemon) {  // as App sets it
  auto reactor = Reactor::create();
  EXPECT_TRUE(reactor.ok());
  reactor_ = std::move(*reactor);
  mailbox_ = std::make_unique<Mailbox>(*reactor_);
  server_ = std::make_unique<Server>(*reactor_, logger_);
  char dir_template[] = "/tmp/socketd-test-XXXXXX";
  upload_dir_ = ::mkdtemp(dir_template);
  auto store = UploadStore::open(upload_dir_);
  EXPECT_TRUE(store.ok());
  if (store) server_->use_upload_store(std::move(*store));
  Config config;
  config.daemon = daemon_;
  config.services = std::move(services);
  const auto errors = server_->apply(config);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front());
  listeners_ = server_->listeners();
  thread_ = std::thread([this] { reactor_->run(); });
}

TestServer::~TestServer() {
  // Stop, then destroy: other events of the turn that runs this may still
  // name the server's handlers (a connection, the I/O pool's eventfd).
  run_in_loop([this] { reactor_->stop(); });
  thread_.join();
  server_.reset();  // the loop thread has ended: this thread owns it all now
  mailbox_.reset();
  std::filesystem::remove_all(upload_dir_);
}

void TestServer::run_in_loop(std::function<void()> work) {
  std::promise<void> done;
  mailbox_->post([&] {
    work();
    done.set_value();
  });
  done.get_future().wait();
}

std::vector<std::string> TestServer::reconfigure(std::vector<ServiceConfig> services) {
  std::vector<std::string> errors;
  run_in_loop([&] {
    Config config;
    config.daemon = daemon_;
    config.services = std::move(services);
    errors = server_->apply(config);
    listeners_ = server_->listeners();
  });
  return errors;
}

void TestServer::limit_log(uint32_t per_second) {
  run_in_loop([&] {
    limited_ = std::make_unique<RateLimitedSink>(sink_, per_second);
    logger_.set_sink(*limited_);
  });
}

ServerTotals TestServer::totals() {
  ServerTotals totals;
  run_in_loop([&] { totals = server_->totals(); });
  return totals;
}

bool TestServer::wait_for_io() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    size_t outstanding = 0;
    run_in_loop([&] {
      IoPool* pool = server_->io_pool();
      outstanding = pool != nullptr ? pool->outstanding() : 0;
    });
    if (outstanding == 0) return true;
    std::this_thread::yield();  // each check is a round trip through the loop
  }
  return false;
}

SocketAddress TestServer::address(const std::string& service) const {
  for (const auto& l : listeners_) {
    if (l.service == service) return l.address;
  }
  ADD_FAILURE() << "no listener for service " << service;
  return {};
}

uint16_t TestServer::port(const std::string& service) const { return address(service).port(); }

std::vector<std::string> TestServer::upload_files() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(upload_dir_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace socketd::test
