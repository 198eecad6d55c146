// `socketd --signal-reload PID` (ExecReload=) signals only a socketd: one
// running the same executable, or the one its runtime directory records.
// Any other PID is refused and left alone.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "process_fixture.hpp"

namespace socketd::test {
namespace {

struct Outcome {
  std::optional<ExitStatus> status;
  std::string out;
  std::string err;
  int code() const { return status && status->exited ? status->code : -1; }
};

Outcome signal_reload(pid_t pid, std::map<std::string, std::string> env = {}) {
  Outcome r;
  DaemonOptions options;
  options.args = {"--signal-reload", std::to_string(pid)};
  options.env = std::move(env);
  r.status = DaemonProcess::run(options, r.out, r.err);
  return r;
}

// A child that is not a socketd; SIGHUP would kill it.
class Bystander {
 public:
  Bystander() {
    pid_ = ::fork();
    if (pid_ == 0) {
      for (;;) ::pause();
    }
  }
  ~Bystander() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

TEST(SignalReload, RefusesAPidThatIsNotASocketd) {
  Bystander other;
  ASSERT_GT(other.pid(), 0);
  const Outcome r = signal_reload(other.pid());
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_NE(r.err.find("PID " + std::to_string(other.pid()) + " is not a socketd"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("not signalled"), std::string::npos) << r.err;
  EXPECT_TRUE(other.alive()) << "the bystander got the SIGHUP";
}

TEST(SignalReload, RefusesAPidThatDoesNotExist) {
  pid_t gone = 0;
  {
    Bystander short_lived;
    gone = short_lived.pid();
  }
  const Outcome r = signal_reload(gone);
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_NE(r.err.find("no such process"), std::string::npos) << r.err;
}

class SignalReloadDaemon : public DaemonTest {};

TEST_F(SignalReloadDaemon, ReloadsASocketd) {
  start(daemon_table() + service("echo", "echo", "127.0.0.1:0"));
  const Outcome r = signal_reload(daemon_.pid());
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_TRUE(notify_.wait_for("RELOADING=1"));
  EXPECT_TRUE(notify_.wait_for("READY=1"));
}

// A copy of the binary is another executable; the PID the daemon recorded in
// its runtime directory still identifies it (and the outcome is waited for).
TEST_F(SignalReloadDaemon, AcceptsThePidRecordedInTheRuntimeDirectory) {
  const std::string copy = dir_.file("socketd-copy");
  std::filesystem::copy_file(socketd_binary(), copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  const std::string runtime = dir_.file("run");
  std::filesystem::create_directory(runtime);
  auto o = options();
  o.binary = copy;
  o.env["RUNTIME_DIRECTORY"] = runtime;
  start(daemon_table() + service("echo", "echo", "127.0.0.1:0"), o);
  EXPECT_EQ(read_file(runtime + "/pid"), std::to_string(daemon_.pid()) + "\n");

  Outcome r = signal_reload(daemon_.pid(), {{"RUNTIME_DIRECTORY", runtime}});
  EXPECT_EQ(r.code(), 0) << r.err;
  EXPECT_NE(r.out.find("ok reloaded 1 services"), std::string::npos) << r.out;

  // Without the record, a different executable is not taken for a socketd.
  r = signal_reload(daemon_.pid());
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_NE(r.err.find("it runs " + copy), std::string::npos) << r.err;
}

}  // namespace
}  // namespace socketd::test
