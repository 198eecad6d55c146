// The child side of spawn_handler(): between clone() and execve() the child
// shares the parent's memory (CLONE_VM) while the parent's thread waits
// (CLONE_VFORK). So it calls nothing but raw system calls: no malloc, no
// locks, no libc wrapper with process-wide side effects (glibc's setuid()
// would signal every thread of socketd), and this file is built without
// sanitizer instrumentation (see lib/CMakeLists.txt).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server/exec_spawn.hpp"

namespace socketd::spawn_internal {

namespace {

// The kernel's struct sigaction for rt_sigaction (not glibc's).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

[[noreturn]] void fail(ChildArgs* args) {
  args->error = errno != 0 ? errno : EINVAL;
  for (;;) ::syscall(SYS_exit, 127);
}

}  // namespace

int child_main(void* raw) {
  auto* args = static_cast<ChildArgs*>(raw);
  // Handlers would run here, on the parent's memory: signals are blocked
  // (by the parent, across clone) until every disposition is the default,
  // ignored ones included (socketd ignores SIGPIPE; exec keeps SIG_IGN).
  KernelSigaction dfl{};
  dfl.handler = SIG_DFL;
  for (int sig = 1; sig < 65; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(unsigned long));
  }
  if (::syscall(SYS_dup3, args->connection, 0, 0) < 0) fail(args);
  if (::syscall(SYS_dup3, args->connection, 1, 0) < 0) fail(args);
  if (::syscall(SYS_dup3, args->stderr_pipe, 2, 0) < 0) fail(args);
  // Every other descriptor is O_CLOEXEC already; close_range makes "nothing
  // else open" hold even for one that is not (a library's, say).
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  if (args->gid >= 0) {
    gid_t gid = static_cast<gid_t>(args->gid);
    if (::syscall(SYS_setgroups, 1, &gid) < 0) fail(args);
    if (::syscall(SYS_setresgid, gid, gid, gid) < 0) fail(args);
  }
  if (args->uid >= 0) {
    const auto uid = static_cast<uid_t>(args->uid);
    if (::syscall(SYS_setresuid, uid, uid, uid) < 0) fail(args);
  }
  const unsigned long empty = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, sizeof empty);
  ::syscall(SYS_execve, args->path, args->argv, args->envp);
  fail(args);
}

}  // namespace socketd::spawn_internal
