#include "udp_runner.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "clock.hpp"
#include "progress.hpp"

namespace socketd::bench {
namespace {

constexpr uint64_t kStopKey = UINT64_MAX;
// While sending flat out the loop polls epoll (signals, EPOLLOUT) only every
// this many batches: one extra syscall per batch would cost a few percent.
constexpr unsigned kBatchesPerPoll = 64;

}  // namespace

UdpRunner::UdpRunner(const Options& options, const Endpoint& target)
    : options_(options),
      target_(target),
      payload_(options.size),
      pacer_(options.rate, options.count, options.connections),
      messages_(options.batch),
      iovecs_(options.batch) {}

bool UdpRunner::prepare(std::string& error) {
  if (!epoll_.valid() || stop_.fd() < 0) {
    error = "cannot create the epoll instance or the signalfd";
    return false;
  }
  epoll_.add(stop_.fd(), kStopKey, EPOLLIN);
  for (uint32_t i = 0; i < options_.connections; ++i) {
    Fd fd(::socket(target_.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    // Connected, so the kernel reports ICMP port-unreachable as ECONNREFUSED.
    if (!fd || ::connect(fd.get(), target_.addr(), target_.size()) != 0) {
      error = "cannot open a UDP socket to " + target_.to_string() + ": " + std::strerror(errno);
      return false;
    }
    epoll_.add(fd.get(), i, EPOLLOUT | EPOLLET);
    senders_.push_back(Sender{std::move(fd)});
  }
  return true;
}

bool UdpRunner::any_writable() const noexcept {
  return std::any_of(senders_.begin(), senders_.end(), [](const Sender& s) { return s.writable; });
}

uint64_t UdpRunner::send_batch(uint64_t n) noexcept {
  // Round robin over the sockets, skipping those the kernel has no room on.
  Sender* sender = nullptr;
  for (size_t tried = 0; tried < senders_.size() && sender == nullptr; ++tried) {
    Sender& candidate = senders_[next_sender_];
    next_sender_ = (next_sender_ + 1) % senders_.size();
    if (candidate.writable) sender = &candidate;
  }
  if (sender == nullptr) return 0;

  const auto count = static_cast<unsigned>(std::min<uint64_t>(n, messages_.size()));
  for (unsigned i = 0; i < count; ++i) {
    const auto bytes = payload_.message(next_seq_ + i, options_.size);
    iovecs_[i] = iovec{const_cast<char*>(bytes.data()), bytes.size()};
    messages_[i] = mmsghdr{};
    messages_[i].msg_hdr.msg_iov = &iovecs_[i];
    messages_[i].msg_hdr.msg_iovlen = 1;
  }
  const int sent = ::sendmmsg(sender->fd.get(), messages_.data(), count, 0);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      sender->writable = false;
    } else if (errno != EINTR) {
      stats_.record_error(classify_errno(errno), errno);
    }
    return 0;
  }
  const auto done = static_cast<uint64_t>(sent);
  next_seq_ += done;
  stats_.record_ops(done);
  stats_.add_sent(done * options_.size);
  return done;
}

bool UdpRunner::dispatch(std::span<epoll_event> events) noexcept {
  bool keep_going = true;
  for (const epoll_event& event : events) {
    if (event.data.u64 == kStopKey) {
      keep_going = !stop_.consume();
    } else if ((event.events & EPOLLOUT) != 0) {
      senders_[event.data.u64].writable = true;
    }
  }
  return keep_going;
}

RunResult UdpRunner::run() {
  const int64_t start = now_ns();
  pacer_.start(start);
  Progress progress(!options_.quiet, start);
  const int64_t end = options_.duration_s ? start + seconds_to_ns(*options_.duration_s) : kNever;
  std::array<epoll_event, 64> events{};
  bool interrupted = false;
  unsigned batches = 0;

  int64_t now = start;
  while (!interrupted && !pacer_.exhausted()) {
    now = now_ns();
    if (now >= end) break;
    if (now >= progress.next_tick()) progress.tick(now, stats_, senders_.size());
    const uint64_t due = pacer_.available(now);
    if (due > 0 && any_writable()) {
      pacer_.consume(send_batch(due));
      if (++batches % kBatchesPerPoll != 0) continue;
      interrupted = !dispatch(epoll_.wait(events, 0));
      continue;
    }
    // Nothing due yet, or every socket is full: sleep until either changes.
    const int64_t wake = due > 0 ? end : std::min({end, progress.next_tick(), pacer_.next_due()});
    interrupted = !dispatch(epoll_.wait(events, std::min(wake, progress.next_tick()) - now));
  }
  now = std::min(now_ns(), end);
  progress.finish();

  RunResult result;
  result.elapsed_ns = now - start;
  result.interrupted = interrupted;
  result.unsent = pacer_.backlog(now);
  result.open_at_end = senders_.size();
  result.stats = stats_;
  return result;
}

}  // namespace socketd::bench
