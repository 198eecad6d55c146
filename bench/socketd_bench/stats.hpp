// Stats: the counters of one run. Operations, errors by kind, bytes, open
// connections, and two latency histograms: one for the whole run and one for
// the current progress interval (reset by the progress line every second).
#pragma once

#include <array>
#include <cstdint>

#include "error_kind.hpp"
#include "histogram.hpp"

namespace socketd::bench {

class Stats {
 public:
  void record_op(int64_t latency_ns) noexcept {
    ++ops_;
    ++interval_ops_;
    latency_.record(latency_ns);
    interval_latency_.record(latency_ns);
  }
  // Operations without a latency (UDP datagrams: nothing comes back).
  void record_ops(uint64_t n) noexcept {
    ops_ += n;
    interval_ops_ += n;
  }
  void record_error(ErrorKind kind, int err = 0) noexcept {
    ++errors_[static_cast<size_t>(kind)];
    if (kind == ErrorKind::kOther && err != 0) last_other_errno_ = err;
  }
  void add_sent(uint64_t n) noexcept { bytes_sent_ += n; }
  void add_received(uint64_t n) noexcept { bytes_received_ += n; }
  void add_payload(uint64_t n) noexcept { payload_bytes_ += n; }
  // An upload reset on purpose (--abort-after): neither an operation nor an error.
  void record_abort() noexcept { ++aborted_; }
  void connection_opened() noexcept {
    ++connects_;
    ++open_;
  }
  void connection_closed() noexcept { --open_; }
  // A handshake that needed its SYN sent again (see TcpConnection).
  void record_syn_retransmit() noexcept { ++syn_retransmits_; }
  uint64_t syn_retransmits() const noexcept { return syn_retransmits_; }

  uint64_t ops() const noexcept { return ops_; }
  uint64_t errors() const noexcept;
  uint64_t errors(ErrorKind kind) const noexcept { return errors_[static_cast<size_t>(kind)]; }
  int last_other_errno() const noexcept { return last_other_errno_; }
  uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  uint64_t bytes_received() const noexcept { return bytes_received_; }
  uint64_t payload_bytes() const noexcept { return payload_bytes_; }
  uint64_t aborted() const noexcept { return aborted_; }
  uint64_t connects() const noexcept { return connects_; }
  uint64_t open_connections() const noexcept { return open_; }
  const Histogram& latency() const noexcept { return latency_; }

  uint64_t interval_ops() const noexcept { return interval_ops_; }
  const Histogram& interval_latency() const noexcept { return interval_latency_; }
  void reset_interval() noexcept {
    interval_ops_ = 0;
    interval_latency_.reset();
  }

 private:
  uint64_t ops_ = 0;
  std::array<uint64_t, kErrorKinds> errors_{};
  int last_other_errno_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t payload_bytes_ = 0;  // upload: file bytes durably acknowledged
  uint64_t aborted_ = 0;        // uploads reset on purpose (--abort-after)
  uint64_t connects_ = 0;       // TCP handshakes completed
  uint64_t syn_retransmits_ = 0;  // of those, how many needed a SYN retransmit
  uint64_t open_ = 0;
  Histogram latency_;
  uint64_t interval_ops_ = 0;
  Histogram interval_latency_;
};

}  // namespace socketd::bench
