// Listener: a bound socket of one transport that feeds one service. Owned by
// the Server, not the service, so a reload can hand an unchanged socket to the
// new configuration without ever closing it.
#pragma once

#include <chrono>

#include "config/config.hpp"
#include "net/address.hpp"
#include "reactor/io_handler.hpp"

namespace socketd {

class ServiceRuntime;

class Listener : public IoHandler {
 public:
  virtual Transport transport() const = 0;
  virtual const SocketAddress& configured() const = 0;  // as written (port may be 0)
  virtual const SocketAddress& bound() const = 0;       // what the kernel gave us
  // Registers with the reactor on first call; later calls just re-point it.
  virtual std::error_code attach(ServiceRuntime& service) = 0;
  // Stops listening now (deregisters and closes the socket, so its address is
  // free at once); the object itself may still be referenced until the turn ends.
  virtual void close() = 0;
  // Stops taking new clients for `duration`, then resumes by itself.
  virtual void pause(std::chrono::milliseconds) {}
  // About once a second: looks whether the kernel dropped clients because the
  // accept queue was full since the last look; counts and reports them.
  virtual void check_overflow() {}
};

}  // namespace socketd
