// StopSignal: turns SIGINT and SIGTERM into a readable signalfd, so Ctrl-C ends
// the run early but still prints the summary. The signals are blocked for the
// whole process by the constructor (the tool is single-threaded).
#pragma once

#include "fd.hpp"

namespace socketd::bench {

class StopSignal {
 public:
  StopSignal() noexcept;

  int fd() const noexcept { return fd_.get(); }
  // Drains the signalfd; true if a stop signal was pending.
  bool consume() noexcept;

 private:
  Fd fd_;
};

}  // namespace socketd::bench
