#include "server/exec_spawn.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace socketd {

namespace {

// The child's stack while it prepares its execve. One per thread (each
// Server's reactor thread spawns its own children; CLONE_VFORK keeps one
// thread's spawns from overlapping); 64 KiB and a guard page below it.
class ChildStack {
 public:
  static constexpr size_t kSize = 64 * 1024;
  ChildStack() {
    void* p = ::mmap(nullptr, kSize + kGuard, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return;
    ::mprotect(p, kGuard, PROT_NONE);
    base_ = static_cast<char*>(p);
  }
  ~ChildStack() {
    if (base_ != nullptr) ::munmap(base_, kSize + kGuard);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  // The highest address, 16-byte aligned (stacks grow down); null if mmap failed.
  void* top() const { return base_ == nullptr ? nullptr : base_ + kGuard + kSize; }

 private:
  static constexpr size_t kGuard = 4096;
  char* base_ = nullptr;
};

using CloneFn = int (*)(int (*)(void*), void*, int, void*, ...);

#if defined(__SANITIZE_THREAD__)
#define SOCKETD_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOCKETD_TSAN_BUILD 1
#endif
#endif

// glibc's clone(). ThreadSanitizer intercepts clone() and runs its fork
// bookkeeping in the child, which with CLONE_VM rewrites the parent's
// sanitizer state (threads forgotten, false data races reported); so a
// TSan build calls libc's own clone, as glibc's posix_spawn does internally.
CloneFn libc_clone() {
#ifdef SOCKETD_TSAN_BUILD
  static const CloneFn real = [] {
    void* libc = ::dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void* sym = libc != nullptr ? ::dlsym(libc, "clone") : nullptr;
    return sym != nullptr ? reinterpret_cast<CloneFn>(sym) : &::clone;
  }();
  return real;
#else
  return &::clone;
#endif
}

// The child dup3()s onto 0..2: its sources must not be among them (only if
// socketd itself was started with one of them closed).
std::error_code move_above_stdio(int& fd, Fd& holder) {
  if (fd > 2) return {};
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return errno_code();
  holder.reset(copy);
  fd = copy;
  return {};
}

}  // namespace

Result<Spawned> spawn_handler(const SpawnRequest& request) {
  thread_local ChildStack stack;
  if (stack.top() == nullptr) return std::make_error_code(std::errc::not_enough_memory);
  if (request.argv == nullptr || request.argv->empty()) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  // Everything the child reads is laid out now: it may not allocate.
  std::vector<char*> argv;
  argv.reserve(request.argv->size() + 1);
  for (const auto& a : *request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(request.env.size() + 1);
  for (const auto& e : request.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  Fd connection_copy, pipe_copy;
  int connection = request.connection;
  int stderr_pipe = request.stderr_pipe;
  if (auto ec = move_above_stdio(connection, connection_copy)) return ec;
  if (auto ec = move_above_stdio(stderr_pipe, pipe_copy)) return ec;

  spawn_internal::ChildArgs args{request.argv->front().c_str(),
                                 argv.data(),
                                 envp.data(),
                                 connection,
                                 stderr_pipe,
                                 request.uid,
                                 request.gid,
                                 0};
  // No signal handler may run in the child while it shares our memory; it
  // restores defaults and unblocks everything just before execve.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  const pid_t pid = libc_clone()(spawn_internal::child_main, stack.top(),
                                 CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args, &pidfd);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return errno_code(clone_errno);
  Spawned spawned{Fd(pidfd), pid};
  if (args.error != 0) {
    // It has already exited (CLONE_VFORK returned on its exit): reap it now.
    (void)reap_pidfd(spawned.pidfd.get(), true);
    return errno_code(args.error);
  }
  return spawned;
}

std::error_code signal_pidfd(int pidfd, int signo) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0) != 0) return errno_code();
  return {};
}

Result<ExitStatus> reap_pidfd(int pidfd, bool wait) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                  WEXITED | (wait ? 0 : WNOHANG));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno_code();
  if (info.si_pid == 0) return std::make_error_code(std::errc::operation_would_block);
  ExitStatus status;
  status.exited = info.si_code == CLD_EXITED;
  if (status.exited) {
    status.code = info.si_status;
  } else {
    status.signal = info.si_status;
    status.core = info.si_code == CLD_DUMPED;
  }
  return status;
}

}  // namespace socketd
