// SignalSource: delivers signals through a signalfd registered with the
// Reactor. The caller must have blocked those signals first (block_signals),
// before any other thread exists, so they are never delivered asynchronously.
#pragma once

#include <functional>
#include <initializer_list>

#include "net/fd.hpp"
#include "net/result.hpp"
#include "reactor/io_handler.hpp"
#include "reactor/reactor.hpp"

namespace socketd {

std::error_code block_signals(std::initializer_list<int> signals);

class SignalSource final : public IoHandler {
 public:
  using Callback = std::function<void(int signo)>;
  static Result<std::unique_ptr<SignalSource>> create(Reactor& reactor,
                                                      std::initializer_list<int> signals,
                                                      Callback callback);
  ~SignalSource() override;
  void on_io(uint32_t events) noexcept override;

 private:
  SignalSource(Reactor& reactor, Fd fd, Callback callback);
  Reactor& reactor_;
  Fd fd_;
  Callback callback_;
};

}  // namespace socketd
