// TestServer: a socketd Server on loopback port 0, running its reactor on a
// background thread. Tests talk to it through real sockets; anything that
// must touch server state runs on the reactor thread via run_in_loop().
#pragma once

#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "log/logger.hpp"
#include "log/rate_limited_sink.hpp"
#include "reactor/reactor.hpp"
#include "server/server.hpp"
#include "storage/upload_store.hpp"

namespace socketd::test {

// Records every log record; safe to read from the test thread.
class CaptureSink final : public LogSink {
 public:
  void write(const LogRecord& record) noexcept override;
  std::vector<LogRecord> records() const;
  // Waits until `count` records of `event` exist (deadline 10 s).
  bool wait_for(LogEvent event, size_t count = 1) const;
  size_t count(LogEvent event) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<LogRecord> records_;
};

ServiceConfig make_service(std::string name, Mode mode);

class TestServer {
 public:
  explicit TestServer(std::vector<ServiceConfig> services, DaemonConfig daemon = {});
  ~TestServer();

  uint16_t port(const std::string& service) const;
  SocketAddress address(const std::string& service) const;
  const std::string& upload_dir() const { return upload_dir_; }
  std::vector<std::string> upload_files() const;  // names in the upload dir, sorted
  CaptureSink& log() { return sink_; }
  // Puts a RateLimitedSink of `per_second` records per service between the
  // server and log(), as the daemon has.
  void limit_log(uint32_t per_second);

  // The server itself: touch it only inside run_in_loop().
  Server& server() { return *server_; }
  // Runs `work` on the reactor thread and waits for it.
  void run_in_loop(std::function<void()> work);
  // Applies a new service list (ports 0 keep their sockets); returns apply()'s errors.
  std::vector<std::string> reconfigure(std::vector<ServiceConfig> services);
  ServerTotals totals();
  // Waits (deadline 10 s) until no I/O job is outstanding: the upload files'
  // last renames are done. Log records come first (they are written when the
  // upload ends, the ".incomplete" rename follows on an I/O thread).
  bool wait_for_io();

 private:
  class Mailbox;
  CaptureSink sink_;
  std::unique_ptr<RateLimitedSink> limited_;
  Logger logger_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<Mailbox> mailbox_;
  std::unique_ptr<Server> server_;
  std::string upload_dir_;
  DaemonConfig daemon_;
  std::vector<ListenerInfo> listeners_;
  std::thread thread_;
};

}  // namespace socketd::test
