// Server: every configured service, its listeners (one per listen address)
// and its connections, on one Reactor. apply() switches configurations
// atomically: unchanged listeners keep their socket, new ones are bound before
// old ones close, and if any address cannot be bound nothing changes at all.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "handover/state.hpp"
#include "server/inherited.hpp"
#include "server/listener.hpp"
#include "server/metrics_exporter.hpp"
#include "server/server_context.hpp"
#include "server/service_runtime.hpp"
#include "server/upload_dir_watch.hpp"
#include "storage/upload_store.hpp"

namespace socketd {

struct ListenerInfo {
  std::string service;
  Transport transport;
  SocketAddress address;  // as bound: the real port when the config said 0
};

struct ServerTotals {
  uint64_t open_connections = 0;
  ServiceStats stats;  // summed over services, including removed ones
};

// A listener as systemd's fd store sees it.
struct ListenerFd {
  std::string service;
  int fd;
  uint64_t inode;  // identity while open (socket_inode)
  bool activated;  // a socket unit's: systemd keeps it anyway
};

class Server {
 public:
  Server(Reactor& reactor, Logger& logger);
  ~Server();

  // New uploads go into `store` from now on (uploads in progress keep the
  // directory they started in open); leftovers of an earlier run in it are
  // recovered in the background. A null store changes nothing.
  void use_upload_store(std::unique_ptr<UploadStore> store);
  // Whether `store` is the directory uploads go to already (by identity).
  bool uses_upload_store(const UploadStore& store) const {
    return uploads_ && uploads_->same_directory(store);
  }
  // The I/O threads (file work of uploads); null if they could not be started.
  IoPool* io_pool() { return io_.get(); }
  // Runs every outstanding I/O job to its end (the renames of uploads cut off
  // by a stop); for after the reactor stopped.
  void drain_io() {
    if (io_) io_->drain();
  }

  // On failure returns the reasons (one per address) and leaves everything as it was.
  // `inherited` (at start) is consumed: a socket unit's socket is adopted by
  // service name (for a service with several addresses, by address), a stored
  // one only where name, type and address still match; the rest is closed
  // before anything is bound.
  std::vector<std::string> apply(const Config& config, InheritedSockets* inherited = nullptr);

  // Called with a service name when a socket of that service that systemd's
  // fd store holds is given up (FDSTOREREMOVE): the store's copy would keep
  // its address bound.
  void set_fd_store_release(std::function<void(const std::string&)> release) {
    release_stored_ = std::move(release);
  }

  // Graceful stop, step one: close every listener; connections go on.
  // `handoff`: systemd's fd store keeps the sockets for the next socketd.
  void stop_listening(bool handoff = false);
  void abort_all(std::string_view reason);
  // exec: SIGTERM to every running handler (graceful stop, step two).
  void terminate_handlers(std::string_view why);
  size_t open_connections() const { return context_.open_connections; }

  // Hand-over across a re-exec: the listeners, every connection that can be
  // handed over and the counters; the other connections are closed now
  // (uploads are kept as ".incomplete" by their jobs).
  handover::State save_state();
  // In the successor, after apply(): serves the handed-over connections on
  // (those whose service or mode no longer fits are closed, with a log line
  // each) and adds the counters. `inherited_fds`: descriptors really passed
  // across the exec; a record naming any other is refused.
  void adopt_state(handover::State& state, std::vector<int> inherited_fds);

  std::vector<ListenerInfo> listeners() const;
  std::vector<ListenerFd> listener_fds() const;
  ServerTotals totals() const;
  ServerContext& context() { return context_; }
  MetricsExporter& metrics() { return metrics_; }
  // The exposition of every configured (and retiring) service and the daemon.
  void render_metrics(std::string& out) const;

 private:
  Result<std::unique_ptr<Listener>> open_listener(const ServiceConfig& service,
                                                  const SocketAddress& address, Fd adopted = {},
                                                  bool activated = false);
  // open_listener, but after a release (above) waits briefly for systemd to
  // close its copy while the address is still in use.
  Result<std::unique_ptr<Listener>> open_fresh(const ServiceConfig& service,
                                               const SocketAddress& address);
  void release_stored(const std::string& service);
  // An old listener this service may keep for `address` (same name first), or SIZE_MAX.
  size_t find_reusable(const ServiceConfig& service, const SocketAddress& address,
                       const std::vector<bool>& taken) const;
  // An old listener on the same port and family that blocks binding `address`.
  size_t find_overlapping(const ServiceConfig& service, const SocketAddress& address,
                          const std::vector<bool>& taken) const;
  void schedule_sweep();
  void schedule_overflow_check();
  void sweep();
  // [daemon] max_output_bytes exceeded: close the connections with the most
  // output queued until the total is back under three quarters of the cap.
  void cut_largest_outputs();

  // The counters of the service called `name`, made on first use and kept
  // for the Server's life: a reload that keeps the name keeps the counts.
  ServiceStats& stats_for(const std::string& name);

  ServerContext context_;
  MetricsExporter metrics_;
  // Before the runtimes, which refer to them. Values do not move (node map).
  std::map<std::string, ServiceStats, std::less<>> stats_;
  std::unique_ptr<UploadStore> uploads_;  // context_.uploads points here
  // Declared before the services: destroyed after them, so the jobs of their
  // last uploads (abandon) still run.
  std::unique_ptr<IoPool> io_;
  // After io_: destroyed before it (its pending check completes into nothing).
  std::unique_ptr<UploadDirWatch> upload_watch_;
  std::vector<std::unique_ptr<ServiceRuntime>> services_;  // in config order
  std::vector<std::unique_ptr<ServiceRuntime>> retiring_;  // removed, still serving
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<size_t> owner_;  // listeners_[k] feeds services_[owner_[k]]
  std::chrono::milliseconds sweep_interval_{1000};
  TimerId sweep_timer_ = 0;
  TimerId overflow_timer_ = 0;
  bool output_cut_pending_ = false;
  std::function<void(const std::string&)> release_stored_;
  bool released_ = false;  // during apply(): a stored socket was given up
};

}  // namespace socketd
