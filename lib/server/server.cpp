#include "server/server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "net/socket.hpp"
#include "server/tcp_listener.hpp"
#include "server/udp_listener.hpp"

namespace socketd {
namespace {

void add_stats(ServiceStats& to, const ServiceStats& from) {
  to.open += from.open;
  to.connections_total += from.connections_total;
  to.bytes_in += from.bytes_in;
  to.bytes_out += from.bytes_out;
  to.uploads_finished += from.uploads_finished;
  to.uploads_incomplete += from.uploads_incomplete;
  to.datagrams += from.datagrams;
  to.refused += from.refused;
  to.denied += from.denied;
  to.timed_out += from.timed_out;
  to.proxy_errors += from.proxy_errors;
  to.output_cut += from.output_cut;
  to.listen_overflows += from.listen_overflows;
  for (size_t i = 0; i < std::size(to.refused_by); ++i) to.refused_by[i] += from.refused_by[i];
  to.uploads_refused += from.uploads_refused;
  to.upload_bytes += from.upload_bytes;
  to.datagrams_dropped += from.datagrams_dropped;
  to.handlers_started += from.handlers_started;
  to.handler_failures += from.handler_failures;
}

std::error_code check_inherited(int fd, Transport transport) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno_code();
  const int want = transport == Transport::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  if (type != want) return std::make_error_code(std::errc::wrong_protocol_type);
  return set_nonblocking(fd);  // inherited sockets arrive blocking
}

// A stored socket still fits the service: same type, listening (TCP), and
// bound where the config says (a configured port 0 takes any port).
bool stored_socket_fits(int fd, const ServiceConfig& service, const SocketAddress& wanted,
                        std::string& bound_text) {
  auto bound = local_address(fd);
  if (!bound) return false;
  bound_text = bound->to_string();
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return false;
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) return false;
  const bool tcp = service.transport() == Transport::kTcp;
  if (type != (tcp ? SOCK_STREAM : SOCK_DGRAM) || (tcp && listening == 0)) return false;
  SocketAddress have = *bound;
  if (wanted.port() == 0) have.set_port(0);
  return have == wanted;
}

}  // namespace

Server::Server(Reactor& reactor, Logger& logger) : context_(reactor, logger) {
  // Not from inside the send that crossed the cap: that connection's session
  // is running. After this event, on a timer.
  context_.output_over_cap = [this] {
    if (output_cut_pending_) return;
    output_cut_pending_ = true;
    context_.reactor.add_timer(std::chrono::milliseconds(0), [this] {
      output_cut_pending_ = false;
      cut_largest_outputs();
    });
  };
  context_.render_metrics = [this](std::string& out) { render_metrics(out); };
  auto pool = IoPool::create(reactor);
  if (pool) {
    io_ = std::move(*pool);
    context_.io = io_.get();
  } else {
    logger.log(LogLevel::kError, "cannot start the I/O threads: " + pool.error().message() +
                                     "; upload services will refuse clients");
  }
}

Server::~Server() {
  if (sweep_timer_ != 0) context_.reactor.cancel_timer(sweep_timer_);
  if (overflow_timer_ != 0) context_.reactor.cancel_timer(overflow_timer_);
  stop_listening();
  services_.clear();
  retiring_.clear();
  // Uploads cut off above queued their last jobs (keep the bytes, rename to
  // ".incomplete"); they finish before the threads stop.
  if (io_) io_->drain();
}

void Server::use_upload_store(std::unique_ptr<UploadStore> store) {
  if (!store) return;
  uploads_ = std::move(store);
  context_.uploads = uploads_.get();
  if (!io_) return;
  if (!upload_watch_) {
    upload_watch_ = std::make_unique<UploadDirWatch>(
        context_.reactor, *io_, context_.logger,
        [this](std::unique_ptr<UploadStore> found) { use_upload_store(std::move(found)); });
  }
  upload_watch_->watch(*uploads_);
  // Live uploads (ours, or another socketd's on the same directory) hold
  // their ".part" locked and are left alone.
  uploads_->recover(*io_, [&logger = context_.logger, dir = uploads_->path()](size_t leftovers) {
    if (leftovers == 0) return;
    logger.log(LogLevel::kWarning, "upload directory " + dir + ": " + std::to_string(leftovers) +
                                       " interrupted upload(s) from an earlier run kept as "
                                       "*.incomplete");
  });
}

Result<std::unique_ptr<Listener>> Server::open_listener(const ServiceConfig& service,
                                                        const SocketAddress& address, Fd adopted,
                                                        bool activated) {
  auto& reactor = context_.reactor;
  Fd fd = std::move(adopted);
  if (!fd) {
    activated = false;
    auto bound =
        service.transport() == Transport::kTcp
            ? listen_tcp(address, {.backlog = service.backlog, .reuse_port = service.reuse_port})
            : bind_udp(address, service.reuse_port);
    if (!bound) return bound.error();
    fd = std::move(*bound);
  }
  std::unique_ptr<Listener> listener;
  if (service.transport() == Transport::kTcp) {
    listener.reset(new TcpListener(reactor, std::move(fd), address));
  } else {
    listener.reset(new UdpListener(reactor, std::move(fd), address));
  }
  listener->set_activated(activated);
  return listener;
}

void Server::release_stored(const std::string& service) {
  if (!release_stored_) return;
  release_stored_(service);
  released_ = true;
}

Result<std::unique_ptr<Listener>> Server::open_fresh(const ServiceConfig& service,
                                                     const SocketAddress& address) {
  auto opened = open_listener(service, address);
  // systemd closes its copy of a released socket when it reads FDSTOREREMOVE,
  // a moment after we sent it; there is no reply to wait on. Bounded, and
  // only on this rare path (an address given up and taken again in one
  // start or reload).
  for (int i = 0; i < 250 && released_ && !opened && opened.error() == std::errc::address_in_use;
       ++i) {
    ::usleep(2000);
    opened = open_listener(service, address);
  }
  return opened;
}

size_t Server::find_reusable(const ServiceConfig& service, const SocketAddress& address,
                             const std::vector<bool>& taken) const {
  auto usable = [&](size_t j, auto&& same_address) {
    return !taken[j] && listeners_[j]->transport() == service.transport() &&
           same_address(*listeners_[j]);
  };
  auto configured = [&](const Listener& l) { return l.configured() == address; };
  // "127.0.0.1:P" also matches the socket a "127.0.0.1:0" service got port P on.
  auto bound = [&](const Listener& l) { return address.port() != 0 && l.bound() == address; };
  // Several services may say "127.0.0.1:0": give each its own socket back first.
  for (size_t j = 0; j < listeners_.size(); ++j) {
    if (services_[owner_[j]]->name() == service.name && usable(j, configured)) return j;
  }
  for (size_t j = 0; j < listeners_.size(); ++j) {
    if (usable(j, configured) || usable(j, bound)) return j;
  }
  return SIZE_MAX;
}

size_t Server::find_overlapping(const ServiceConfig& service, const SocketAddress& address,
                                const std::vector<bool>& taken) const {
  for (size_t j = 0; j < listeners_.size(); ++j) {
    const auto& bound = listeners_[j]->bound();
    if (!taken[j] && listeners_[j]->transport() == service.transport() &&
        bound.family() == address.family() && bound.port() == address.port()) {
      return j;
    }
  }
  return SIZE_MAX;
}

std::vector<std::string> Server::apply(const Config& config, InheritedSockets* inherited) {
  // One binding per listen address of each service, in config order.
  struct Binding {
    size_t service;  // index into config.services
    SocketAddress address;
  };
  std::vector<Binding> bindings;
  for (size_t i = 0; i < config.services.size(); ++i) {
    for (const auto& address : config.services[i].listen) bindings.push_back({i, address});
  }
  const size_t m = bindings.size();
  // Phase 1: find or open a listener for every binding while every old
  // socket stays open and nothing is changed yet.
  std::vector<size_t> reuse(m, SIZE_MAX);  // index into listeners_
  std::vector<bool> taken(listeners_.size(), false);
  std::vector<std::unique_ptr<Listener>> fresh(m);
  std::vector<size_t> blocked;  // bindings whose address an old listener of ours holds
  std::vector<std::string> errors;
  auto cannot_listen = [&](const ServiceConfig& service, const SocketAddress& address,
                           std::error_code ec) {
    errors.push_back("service '" + service.name + "': cannot listen on " + address.to_string() +
                     ": " + ec.message());
  };
  released_ = false;
  std::vector<Fd> adopted(m);
  std::vector<bool> activated(m, false);
  if (inherited != nullptr) {
    // Before anything is bound: what is not adopted closes here.
    for (auto& socket : *inherited) {
      std::vector<size_t> named;
      for (size_t k = 0; k < m; ++k) {
        if (config.services[bindings[k].service].name == socket.name && !adopted[k])
          named.push_back(k);
      }
      if (named.empty()) {
        if (socket.stored) release_stored(socket.name);
        context_.logger.log(LogLevel::kWarning,
                            std::string(socket.stored ? "stored" : "inherited") + " socket '" +
                                socket.name + "' matches no configured service; closed");
        continue;
      }
      const auto& service = config.services[bindings[named.front()].service];
      if (!socket.stored) {
        // A socket unit's: with one address the unit decides it; with several,
        // the one it is bound to.
        size_t pick = named.size() == 1 && service.listen.size() == 1 ? named.front() : SIZE_MAX;
        if (pick == SIZE_MAX) {
          auto bound = local_address(socket.fd.get());
          for (size_t k : named) {
            if (bound && *bound == bindings[k].address) pick = k;
          }
        }
        if (pick == SIZE_MAX) {
          context_.logger.log(LogLevel::kWarning, "inherited socket '" + socket.name +
                                                      "' matches none of its addresses; closed");
          continue;
        }
        if (auto ec = check_inherited(socket.fd.get(), service.transport())) {
          cannot_listen(service, bindings[pick].address, ec);
          continue;
        }
        adopted[pick] = std::move(socket.fd);
        activated[pick] = true;
        continue;
      }
      std::string bound;
      size_t pick = SIZE_MAX;
      for (size_t k : named) {
        if (pick == SIZE_MAX &&
            stored_socket_fits(socket.fd.get(), service, bindings[k].address, bound))
          pick = k;
      }
      if (pick == SIZE_MAX) {
        context_.logger.log(LogLevel::kNotice,
                            "service '" + service.name +
                                "': the socket kept in systemd's fd store (" +
                                (bound.empty() ? std::string("unusable") : bound) +
                                ") no longer matches the config; closed it, binding afresh");
        release_stored(socket.name);
        continue;
      }
      if (auto ec = set_nonblocking(socket.fd.get())) continue;
      // Back to the configured backlog (the previous socketd raised it for the hand-over).
      if (service.transport() == Transport::kTcp) ::listen(socket.fd.get(), service.backlog);
      adopted[pick] = std::move(socket.fd);
    }
    inherited->clear();
  }
  for (size_t k = 0; k < m; ++k) {
    const auto& service = config.services[bindings[k].service];
    const auto& address = bindings[k].address;
    if ((reuse[k] = find_reusable(service, address, taken)) != SIZE_MAX) {
      taken[reuse[k]] = true;
      continue;
    }
    auto opened = adopted[k] ? open_listener(service, address, std::move(adopted[k]), activated[k])
                             : open_fresh(service, address);
    if (opened) {
      fresh[k] = std::move(*opened);
    } else if (opened.error() == std::errc::address_in_use) {
      blocked.push_back(k);  // e.g. 127.0.0.1:P widened to 0.0.0.0:P: see below
    } else {
      cannot_listen(service, address, opened.error());
    }
  }
  // An address held by one of our own listeners that this reload drops: that
  // socket must close before the new one can bind. Only now, with everything
  // else in place, and with a way back if the bind still fails.
  // Old listeners closed to make room, for the way back: (binding, old listener).
  std::vector<std::pair<size_t, size_t>> swapped;
  auto restore = [&](size_t j, const ServiceConfig& old_service, const SocketAddress& old_address,
                     ServiceRuntime& old_runtime) {
    auto restored = open_fresh(old_service, old_address);
    if (restored) {
      listeners_[j] = std::move(*restored);
      if (auto ec = listeners_[j]->attach(old_runtime)) {
        errors.push_back("service '" + old_service.name + "': cannot watch its socket " +
                         old_address.to_string() +
                         " again after the failed reload: " + ec.message());
      }
    } else {
      errors.push_back("service '" + old_service.name + "': lost its socket " +
                       old_address.to_string() +
                       " while trying the reload: " + restored.error().message());
    }
  };
  std::vector<SocketAddress> closed_addresses(listeners_.size());
  for (size_t k : blocked) {
    const auto& service = config.services[bindings[k].service];
    const auto& address = bindings[k].address;
    const size_t j = errors.empty() ? find_overlapping(service, address, taken) : SIZE_MAX;
    if (j == SIZE_MAX) {
      cannot_listen(service, address, std::make_error_code(std::errc::address_in_use));
      continue;
    }
    const SocketAddress old_address = listeners_[j]->bound();
    ServiceRuntime& old_runtime = *services_[owner_[j]];
    const ServiceConfig old_service = old_runtime.settings().config;
    if (!listeners_[j]->activated()) release_stored(old_service.name);
    listeners_[j]->close();
    context_.reactor.retire(std::move(listeners_[j]));
    closed_addresses[j] = old_address;
    auto opened = open_fresh(service, address);
    if (opened) {
      fresh[k] = std::move(*opened);
      taken[j] = true;  // gone: nothing to carry over
      swapped.emplace_back(k, j);
      continue;
    }
    cannot_listen(service, address, opened.error());
    restore(j, old_service, old_address, old_runtime);
  }
  if (!errors.empty()) {
    // Undo the swaps that succeeded before a later binding failed: close the
    // new socket, then take the old address back.
    for (const auto& [k, j] : swapped) {
      fresh[k].reset();
      ServiceRuntime& old_runtime = *services_[owner_[j]];
      restore(j, old_runtime.settings().config, closed_addresses[j], old_runtime);
    }
    // The fresh sockets close here; the old config is intact, except for a
    // listener lost above (reported), which is dropped from the table.
    for (size_t j = listeners_.size(); j-- > 0;) {
      if (listeners_[j]) continue;
      listeners_.erase(listeners_.begin() + static_cast<std::ptrdiff_t>(j));
      owner_.erase(owner_.begin() + static_cast<std::ptrdiff_t>(j));
    }
    return errors;
  }

  // Phase 2: commit. Runtimes are matched by service name, so a service keeps
  // its connections and counters across a reload even if its port moved.
  const size_t n = config.services.size();
  std::vector<std::unique_ptr<ServiceRuntime>> runtimes;
  for (size_t i = 0; i < n; ++i) {
    auto settings = std::make_shared<const ServiceSettings>(config.services[i]);
    auto it = std::find_if(services_.begin(), services_.end(),
                           [&](const auto& r) { return r && r->name() == settings->config.name; });
    if (it != services_.end()) {
      (*it)->set_settings(settings);
      runtimes.push_back(std::move(*it));
    } else {
      runtimes.push_back(
          std::make_unique<ServiceRuntime>(context_, settings, stats_for(settings->config.name)));
    }
  }
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<size_t> owners;
  for (size_t k = 0; k < m; ++k) {
    listeners.push_back(reuse[k] != SIZE_MAX ? std::move(listeners_[reuse[k]])
                                             : std::move(fresh[k]));
    owners.push_back(bindings[k].service);
    if (auto ec = listeners.back()->attach(*runtimes[bindings[k].service])) {
      context_.logger.log(LogLevel::kError, "service '" + runtimes[bindings[k].service]->name() +
                                                "': cannot watch its socket " +
                                                bindings[k].address.to_string() + ": " +
                                                ec.message());
    }
  }
  // Removed services stop listening now but serve their connections to the end.
  for (auto& runtime : services_) {
    if (runtime && runtime->open_connections() != 0) retiring_.push_back(std::move(runtime));
  }
  services_ = std::move(runtimes);
  // Listeners not carried over close last; destroyed after this turn, since
  // events for them may still be queued (Reactor::retire).
  for (auto& old : listeners_) {
    if (!old) continue;
    old->close();  // its address is free as soon as apply() returns
    context_.reactor.retire(std::move(old));
  }
  listeners_ = std::move(listeners);
  owner_ = std::move(owners);

  context_.max_connections = config.daemon.max_connections;
  context_.max_output_bytes = config.daemon.max_output_bytes;
  auto shortest = std::chrono::milliseconds(1000);
  for (const auto& service : config.services) {
    for (auto timeout : {service.idle_timeout, service.upload_timeout}) {
      if (timeout.count() > 0) shortest = std::min(shortest, timeout / 4);
    }
    if (service.proxy_protocol) shortest = std::min(shortest, service.proxy_header_timeout / 4);
    if (service.mode == Mode::kMetrics) shortest = std::min(shortest, service.request_timeout / 4);
  }
  sweep_interval_ = std::max(shortest, std::chrono::milliseconds(10));
  schedule_sweep();
  if (overflow_timer_ == 0) schedule_overflow_check();
  return {};
}

// One getsockopt per TCP listener a second: cheap enough to run always.
void Server::schedule_overflow_check() {
  overflow_timer_ = context_.reactor.add_timer(std::chrono::seconds(1), [this] {
    overflow_timer_ = 0;
    for (auto& listener : listeners_) listener->check_overflow();
    schedule_overflow_check();
  });
}

void Server::schedule_sweep() {
  if (sweep_timer_ != 0) context_.reactor.cancel_timer(sweep_timer_);
  sweep_timer_ = context_.reactor.add_timer(sweep_interval_, [this] {
    sweep_timer_ = 0;
    sweep();
    schedule_sweep();
  });
}

void Server::sweep() {
  const auto now = context_.reactor.now();
  for (auto& runtime : services_) runtime->sweep(now);
  for (auto& runtime : retiring_) runtime->sweep(now);
  std::erase_if(retiring_, [](const auto& runtime) { return runtime->open_connections() == 0; });
}

void Server::cut_largest_outputs() {
  const uint64_t cap = context_.max_output_bytes;
  if (context_.queued_output <= cap) return;
  std::vector<Connection*> queued;
  for (auto& runtime : services_) runtime->collect_queued(queued);
  for (auto& runtime : retiring_) runtime->collect_queued(queued);
  std::sort(queued.begin(), queued.end(), [](const Connection* a, const Connection* b) {
    return a->queued_output() > b->queued_output();
  });
  const uint64_t target = cap / 4 * 3;
  const uint64_t before = context_.queued_output;
  size_t cut = 0;
  for (Connection* connection : queued) {
    if (context_.queued_output <= target) break;
    ++connection->service().stats().output_cut;
    connection->abort("output not read: [daemon] max_output_bytes reached, largest queue cut");
    ++cut;
  }
  context_.logger.log(LogLevel::kWarning,
                      "[daemon] max_output_bytes (" + std::to_string(cap) + ") reached: " +
                          std::to_string(before) + " bytes queued for clients that do not read; "
                          "closed the " + std::to_string(cut) +
                          " connection(s) with the largest queues (raise max_output_bytes if "
                          "they were legitimate)");
}

void Server::stop_listening(bool handoff) {
  for (auto& listener : listeners_) {
    if (handoff) listener->prepare_handoff();
    listener->close();
    context_.reactor.retire(std::move(listener));
  }
  listeners_.clear();
  owner_.clear();
}

void Server::terminate_handlers(std::string_view why) {
  for (auto& runtime : services_) runtime->terminate_handlers(why);
  for (auto& runtime : retiring_) runtime->terminate_handlers(why);
}

void Server::abort_all(std::string_view reason) {
  for (auto& runtime : services_) runtime->abort_all(reason);
  for (auto& runtime : retiring_) runtime->abort_all(reason);
}

namespace {

// The counters in hand-over order: append new ones at the end (an older
// socketd ignores what it does not know). `open` is a gauge: not carried, the
// adopted connections count themselves.
std::vector<uint64_t*> stats_fields(ServiceStats& s) {
  std::vector<uint64_t*> fields = {
      &s.connections_total,  &s.bytes_in,         &s.bytes_out,  &s.uploads_finished,
      &s.uploads_incomplete, &s.datagrams,        &s.refused,    &s.denied,
      &s.timed_out,          &s.proxy_errors,     &s.output_cut, &s.uploads_refused,
      &s.upload_bytes,       &s.datagrams_dropped};
  for (auto& by_reason : s.refused_by) fields.push_back(&by_reason);
  return fields;
}

std::vector<uint64_t> stats_values(const ServiceStats& stats) {
  ServiceStats copy = stats;
  std::vector<uint64_t> values;
  for (uint64_t* field : stats_fields(copy)) values.push_back(*field);
  return values;
}

void add_stats_values(ServiceStats& s, const std::vector<uint64_t>& v) {
  const auto fields = stats_fields(s);
  for (size_t i = 0; i < fields.size() && i < v.size(); ++i) *fields[i] += v[i];
}

}  // namespace

handover::State Server::save_state() {
  handover::State state;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i]->fd() < 0) continue;
    state.listeners.push_back({services_[owner_[i]]->name(), listeners_[i]->fd(),
                               listeners_[i]->transport() == Transport::kTcp,
                               listeners_[i]->activated()});
  }
  constexpr std::string_view kReason = "daemon upgrading: this connection cannot be handed over";
  for (auto& runtime : services_) runtime->save(state.connections, kReason);
  // Removed services still serving: their connections end here.
  for (auto& runtime : retiring_) runtime->close_all(kReason);
  for (const auto& [name, stats] : stats_) state.counters.push_back({name, stats_values(stats)});
  return state;
}

void Server::adopt_state(handover::State& state, std::vector<int> inherited_fds) {
  std::sort(inherited_fds.begin(), inherited_fds.end());
  auto& logger = context_.logger;
  size_t adopted = 0;
  for (auto& record : state.connections) {
    const bool passed = std::binary_search(inherited_fds.begin(), inherited_fds.end(), record.fd);
    Fd fd(passed ? record.fd : -1);
    if (passed) {
      // Each descriptor once: a second record naming it is refused.
      inherited_fds.erase(std::lower_bound(inherited_fds.begin(), inherited_fds.end(), record.fd));
    }
    std::string error;
    auto it = std::find_if(services_.begin(), services_.end(),
                           [&](const auto& r) { return r->name() == record.service; });
    if (!fd) {
      error = "descriptor " + std::to_string(record.fd) + " was not handed over";
    } else if (it == services_.end()) {
      error = "service no longer configured";
    } else {
      int type = 0;
      socklen_t len = sizeof type;
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
          ::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
        error = "descriptor " + std::to_string(record.fd) + " is not a connected TCP socket";
      } else if (auto ec = set_nonblocking(fd.get())) {
        error = ec.message();
      } else if ((*it)->adopt(fd, record, error)) {
        ++adopted;
        continue;
      }
    }
    logger.log(LogLevel::kWarning, "handed-over connection of '" + record.service + "' from " +
                                       record.peer.to_string() + " closed: " + error);
  }
  for (auto& runtime : services_) runtime->reorder_timers();
  for (const auto& counters : state.counters) {
    add_stats_values(stats_for(counters.service), counters.values);
  }
  if (!state.connections.empty()) {
    logger.log(LogLevel::kNotice, "took over " + std::to_string(adopted) + " of " +
                                      std::to_string(state.connections.size()) +
                                      " connection(s) from the previous socketd");
  }
}

std::vector<ListenerFd> Server::listener_fds() const {
  std::vector<ListenerFd> out;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const int fd = listeners_[i]->fd();
    if (fd < 0) continue;
    out.push_back({services_[owner_[i]]->name(), fd, socket_inode(fd), listeners_[i]->activated()});
  }
  return out;
}

std::vector<ListenerInfo> Server::listeners() const {
  std::vector<ListenerInfo> out;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    out.push_back(
        {services_[owner_[i]]->name(), listeners_[i]->transport(), listeners_[i]->bound()});
  }
  return out;
}

ServerTotals Server::totals() const {
  ServerTotals totals{context_.open_connections, {}};
  for (const auto& [name, stats] : stats_) add_stats(totals.stats, stats);
  return totals;
}

ServiceStats& Server::stats_for(const std::string& name) {
  auto it = stats_.find(name);
  if (it == stats_.end()) it = stats_.emplace(name, ServiceStats{}).first;
  return it->second;
}

void Server::render_metrics(std::string& out) const {
  // Configured services in config order, then removed ones still serving
  // their last connections (once per name: a retiring runtime and a new one
  // of the same name share their counters).
  std::vector<MetricsExporter::Service> shown;
  shown.reserve(services_.size() + retiring_.size());
  auto show = [&](const ServiceRuntime& runtime) {
    for (const auto& s : shown) {
      if (s.name == runtime.name()) return;
    }
    shown.push_back({runtime.name(), runtime.settings().config.mode, &runtime.stats()});
  };
  for (const auto& runtime : services_) {
    shown.push_back({runtime->name(), runtime->settings().config.mode, &runtime->stats()});
  }
  for (const auto& runtime : retiring_) show(*runtime);
  out.reserve(out.size() + 2048 + shown.size() * 1024);
  metrics_.render(out, shown, context_.reactor.turn_histogram());
}

}  // namespace socketd
