// Connection: one accepted TCP client. Owns the socket, the output queue and
// the protocol Session, and drives the session from edge-triggered events.
// Output is written at once; only what the kernel does not take is queued,
// and above kHighWater queued bytes the peer is not read (backpressure).
// On a proxy_protocol service it first reads the PROXY header, takes the
// client it names as its peer, and only once the service admits that client
// creates and runs the session.
// On an exec service there is no session: once admitted, the connection is
// handed to a handler process (ExecProcess) as its stdin and stdout, and the
// Connection only waits for that process to exit; it keeps its own copy of
// the socket (out of the epoll set) for the byte counts and closes it then.
#pragma once

#include <memory>

#include "buffer/buffer.hpp"
#include "handover/state.hpp"
#include "log/logger.hpp"
#include "net/address.hpp"
#include "net/fd.hpp"
#include "net/proxy_header.hpp"
#include "reactor/io_handler.hpp"
#include "server/exec_process.hpp"
#include "server/idle_list.hpp"
#include "server/service_settings.hpp"
#include "service/session.hpp"

namespace socketd {

class ServiceRuntime;

class Connection final : public IoHandler, private Reply, private ExecProcess::Observer {
 public:
  static constexpr size_t kHighWater = 256 * 1024;
  static constexpr int kReadBudget = 16;  // reads per event before yielding
  // Bytes per connection per turn, whatever the read size: with N busy
  // uploads a turn copies at most N x 256 KiB (~0.1 ms each at memory speed),
  // so a chat client's round trip waits for a few of those, not for whole
  // megabytes per upload.
  static constexpr size_t kTurnBytes = 256 * 1024;

  Connection(ServiceRuntime& service, std::shared_ptr<const ServiceSettings> settings, Fd fd,
             const SocketAddress& peer);
  ~Connection() override;

  // Registers with the reactor and runs the session's opening (greeting),
  // or, on a proxy_protocol service, waits for the PROXY header.
  void start();
  void on_io(uint32_t events) noexcept override;
  // The session's asynchronous work progressed (Reply::waker()).
  void wake() noexcept;
  // Ends the connection now (idle timeout, shutdown); reason goes to the log.
  // A running exec handler is killed (SIGKILL) and reaped first.
  void abort(std::string_view reason);
  // Ends the connection now, but as a graceful close does: unread input is
  // discarded first so that the peer sees FIN, not RST (a connection that
  // cannot be handed over at an upgrade).
  void close_now(std::string_view reason);
  // exec: asks the handler to end (SIGTERM; SIGKILL after `grace` if > 0).
  void terminate_handler(std::string_view why, std::chrono::milliseconds grace);
  bool runs_handler() const { return exec_ != nullptr; }

  // The client: the socket's peer, or the one the PROXY header named.
  const SocketAddress& peer() const { return peer_; }
  // The load balancer the client came through, if a PROXY header named one.
  const SocketAddress* proxy() const {
    return proxied_ && proxied_->named_client ? &proxied_->proxy : nullptr;
  }
  // Whether the service admitted the client (always, without proxy_protocol).
  bool admitted() const { return admitted_; }
  // Whether bytes arrived that are not read yet, more than at the last
  // call: below its SO_RCVLOWAT mark, a client that is sending is not idle
  // (and one whose bytes stopped coming is).
  bool input_grew_unread();
  // Linked while the PROXY header is awaited; its time is the deadline.
  IdleHook* header_hook() { return proxied_ ? &proxied_->header_wait : nullptr; }
  IdleHook& idle_hook() { return idle_; }
  IdleHook& age_hook() { return age_; }
  size_t queued_output() const { return out_.size(); }

  // Hand-over across a re-exec: fills `record` (all but the service name)
  // and returns true if this connection can be handed over as it stands —
  // a chat or echo session, or a PROXY header still being read; not while
  // closing or waiting on the disk.
  bool save(handover::ConnectionRecord& record) const;
  int fd() const { return fd_.get(); }
  // On a connection made for a handed-over client (not start()ed): takes the
  // record's state (session, PROXY header so far, queued output, counters).
  // False, with `error` set, if the record does not fit this service.
  bool restore(const handover::ConnectionRecord& record, std::string& error);
  // After restore(): registers with the reactor and picks up where the
  // previous socketd stopped (no greeting; queued output is flushed).
  void resume();
  ServiceRuntime& service() { return service_; }
  size_t index = 0;  // position in the owning ServiceRuntime's table

 private:
  void send(std::string_view first, std::string_view second) override;
  void close() override { close_requested_ = true; }
  std::function<void()> waker() override {
    return [this] { wake(); };
  }

  // Reads until the socket is drained (EAGAIN, or a short read while no FIN
  // or error is pending), the budget is spent, or the session stops.
  void read_some();
  void read_turn();
  // SO_RCVLOWAT follows the session's input_batch(): a bulk stream is woken
  // per batch of bytes instead of per segment.
  void follow_input_batch();
  // Feeds one read to the PROXY header reader; returns the bytes after the
  // header once the client is admitted and its session open, else nothing.
  std::span<const char> take_proxy_header(std::span<const char> chunk);
  // Takes the header's client as the peer (unless LOCAL) and asks the
  // service to admit it; false: refused and closed.
  bool admit_proxied(const ProxyHeader& header);
  void fail_proxy_header(std::string_view reason);
  void flush();
  // Appends to out_, keeping the daemon-wide count (max_output_bytes).
  void queue_output(std::string_view bytes);
  // After the session ran: act on what it asked for (close, broken pipe).
  void settle();
  // The end: close the socket, tell the session, add to the service's
  // counters, log, hand ourselves to the service for destruction.
  void finish(std::string_view reason, bool graceful);
  void close_socket(bool graceful);
  void log_closed(std::string_view reason);
  // " via PROXY" and SOCKETD_PROXY, when a PROXY header named the client.
  void add_proxy(LogRecord& record) const;

  // exec mode: the PROXY header is peeked and only its own bytes consumed,
  // so what the client sent after it stays in the socket for the handler.
  void read_exec_proxy_header();
  // Admitted: start the handler (or refuse: max_instances, a failed spawn).
  void begin_exec();
  std::vector<std::string> handler_environment() const;
  void on_exec_exit(const ExitStatus& status, std::string_view ended_by) noexcept override;
  void log_exit(const ExitStatus& status, std::string_view ended_by);

  // Only for proxy_protocol services, so that others pay one null pointer.
  struct Proxied {
    ProxyHeaderReader reader;
    SocketAddress proxy;  // the socket's own peer
    SocketAddress destination;  // what the client connected to, per the header
    IdleHook header_wait;
    bool named_client = false;  // false: LOCAL/UNKNOWN, the proxy speaks for itself
  };

  ServiceRuntime& service_;
  std::shared_ptr<const ServiceSettings> settings_;
  Fd fd_;
  SocketAddress peer_;
  std::unique_ptr<Proxied> proxied_;
  std::unique_ptr<Session> session_;   // null until admitted; always null in exec mode
  std::unique_ptr<ExecProcess> exec_;  // exec mode, once the handler runs
  Buffer out_;
  IdleHook idle_;
  IdleHook age_;  // position by accept time, for upload_timeout
  Clock::time_point opened_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  std::string_view close_reason_ = "closed by peer";
  bool close_requested_ = false;
  bool input_paused_ = false;
  bool waiting_on_session_ = false;  // stopped reading: !session_->accepts_input()
  bool input_done_ = false;
  // The peer's FIN or an error was reported: read until recv says so (0 or an
  // error), since edge-triggering will not report it again.
  bool hangup_seen_ = false;
  bool broken_ = false;
  bool closed_ = false;
  bool admitted_ = true;
  int low_water_ = 1;            // SO_RCVLOWAT as set (1: the kernel's default)
  size_t unread_seen_ = 0;       // input_grew_unread()'s last count; 0 after a read
  bool refusal_logged_ = false;  // the service logged why: no "closed" record
  bool registered_ = false;      // fd_ is in the epoll set
};

}  // namespace socketd
