// spawn_handler(): starts one exec-mode handler without fork() and without
// waiting for it. The child gets the connection as fd 0 and 1, the write end
// of a pipe as fd 2, nothing else open, default signal dispositions and an
// empty signal mask, exactly the environment given, and (as root) the
// given group and user.
//
// How: clone() with CLONE_VM | CLONE_VFORK | CLONE_PIDFD. Like glibc's
// posix_spawn (which is clone(CLONE_VM|CLONE_VFORK) inside), no page tables
// are copied and the calling thread only waits until the child has called
// execve (tens of microseconds), never for the child to run or exit. Unlike
// posix_spawn it gives the pidfd atomically with the process (no pid to look
// up afterwards with pidfd_open) and lets the child switch user and group,
// which posix_spawn has no file action or attribute for. The child runs a
// few raw system calls on a stack of its own (exec_spawn_child.cpp, built
// without sanitizers) and reports a failed execve through memory it shares
// with the parent, so an unknown or unexecutable handler is an error here,
// at once, not an exit status later.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "net/fd.hpp"
#include "net/result.hpp"

namespace socketd {

struct SpawnRequest {
  const std::vector<std::string>* argv = nullptr;  // [0]: the absolute path
  std::vector<std::string> env;                    // "NAME=value", the whole environment
  int connection = -1;                             // becomes fd 0 and fd 1
  int stderr_pipe = -1;                            // becomes fd 2
  int64_t uid = -1;                                // -1: keep socketd's
  int64_t gid = -1;
};

struct Spawned {
  Fd pidfd;  // O_CLOEXEC; readable once the child has exited
  pid_t pid = 0;
};

// Fails with the errno of whatever the child could not do (execve's ENOENT,
// EACCES, ENOEXEC; setuid's EPERM), after reaping it.
Result<Spawned> spawn_handler(const SpawnRequest& request);

// Sends `signo` through the pidfd (never to a recycled pid).
std::error_code signal_pidfd(int pidfd, int signo);

// What waitid() said about an exited child.
struct ExitStatus {
  bool exited = false;  // true: code holds exit(); false: killed by signal
  int code = 0;
  int signal = 0;
  bool core = false;
};

// Reaps the child behind `pidfd` if it has exited (never blocks unless
// `wait` is set). Empty while it runs.
Result<ExitStatus> reap_pidfd(int pidfd, bool wait);

namespace spawn_internal {
// The child's side, in exec_spawn_child.cpp (no sanitizers: it runs on a
// borrowed stack in the parent's memory).
struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  int connection;
  int stderr_pipe;
  long uid;
  long gid;
  int error;  // written by the child when something failed
};
int child_main(void* args);
}  // namespace spawn_internal

}  // namespace socketd
