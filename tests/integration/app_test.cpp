// App in process, on its own reactor, as daemon/main.cpp drives it: start,
// reload (an I/O job reads the file), SIGHUPs that overlap, a stop during a
// reload, the watchdog; what the supervisor hears goes to a RecordingNotifier.
#include "app/app.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "app/reload_report.hpp"
#include "net/fd.hpp"
#include "support/test_server.hpp"

namespace socketd {
namespace {

class RecordingNotifier final : public Notifier {
 public:
  void ready() override { events.push_back("ready"); }
  void reloading() override { events.push_back("reloading"); }
  void stopping() override { events.push_back("stopping"); }
  void watchdog() override { ++watchdogs; }
  size_t count(std::string_view event) const {
    return static_cast<size_t>(std::count(events.begin(), events.end(), event));
  }
  std::vector<std::string> events;
  size_t watchdogs = 0;
};

constexpr std::string_view kOneService = R"(
[services.a]
mode = "echo"
listen = "127.0.0.1:0"
)";
constexpr std::string_view kTwoServices = R"(
[services.a]
mode = "echo"
listen = "127.0.0.1:0"
[services.b]
mode = "chat"
listen = "127.0.0.1:0"
)";

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("socketd-app-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto reactor = Reactor::create();
    ASSERT_TRUE(reactor);
    reactor_ = std::move(*reactor);
  }
  void TearDown() override {
    app_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string config_path() const { return dir_ / "socketd.toml"; }
  std::string report_path() const { return dir_ / "reload-status"; }
  void write_config(std::string_view text) const { std::ofstream(config_path()) << text; }

  App& start(std::string_view text, std::chrono::milliseconds watchdog = {}) {
    write_config(text);
    app_ = std::make_unique<App>(*reactor_, logger_, notifier_,
                                 AppOptions{.config_path = config_path(),
                                            .watchdog_interval = watchdog,
                                            .reload_report_path = report_path()});
    auto load = load_config_file(config_path());
    EXPECT_TRUE(load.ok());
    EXPECT_TRUE(app_->start(*load.config));
    return *app_;
  }

  // Turns the loop until `done()` holds (checked every millisecond) or 10 s pass.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    bool met = false;
    std::function<void()> check = [&] {
      met = done();
      if (met || Clock::now() > deadline) {
        reactor_->stop();
        return;
      }
      reactor_->add_timer(std::chrono::milliseconds(1), check);
    };
    reactor_->add_timer(std::chrono::milliseconds(0), check);
    reactor_->run();
    return met;
  }

  std::vector<std::string> services() const {
    std::vector<std::string> names;
    for (const auto& l : app_->server().listeners()) names.push_back(l.service);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Reactor> reactor_;
  test::CaptureSink sink_;
  Logger logger_{sink_, LogLevel::kInfo};
  RecordingNotifier notifier_;
  std::unique_ptr<App> app_;
};

TEST_F(AppTest, StartReportsReadyAndTheFirstGeneration) {
  App& app = start(kOneService);
  EXPECT_EQ(notifier_.events, std::vector<std::string>({"ready"}));
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  const auto report = read_reload_report(report_path());
  EXPECT_EQ(report.generation, 1u);
  EXPECT_TRUE(report.ok);
}

TEST_F(AppTest, ReloadAppliesTheNewFileAndReportsIt) {
  App& app = start(kOneService);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  write_config(kTwoServices);
  app.reload();
  EXPECT_TRUE(app.reloading());
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  EXPECT_EQ(services(), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(notifier_.events, std::vector<std::string>({"ready", "reloading", "ready"}));
  const auto report = read_reload_report(report_path());
  EXPECT_EQ(report.generation, 2u);
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_TRUE(report.message.starts_with("reloaded 2 services")) << report.message;
}

TEST_F(AppTest, BadFileKeepsTheRunningConfigAndReportsWhere) {
  App& app = start(kTwoServices);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  write_config("[services.a]\nmode = \"echo\"\nlisten = 5\n");
  app.reload();
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  EXPECT_EQ(services(), std::vector<std::string>({"a", "b"}));
  const auto report = read_reload_report(report_path());
  EXPECT_EQ(report.generation, 2u);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find(config_path() + ":3:"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find("previous configuration still in force"), std::string::npos);
  EXPECT_EQ(notifier_.count("ready"), 2u);  // READY=1 after a failed reload too
}

// The file is read by an I/O thread: a config path that blocks (a FIFO with
// no writer yet) leaves the loop turning; the reload completes once written.
TEST_F(AppTest, ReadingTheFileDoesNotHoldTheLoop) {
  App& app = start(kOneService);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  std::filesystem::remove(config_path());
  ASSERT_EQ(::mkfifo(config_path().c_str(), 0600), 0);
  app.reload();
  size_t turns_while_blocked = 0;
  bool written = false;
  ASSERT_TRUE(run_until([&] {
    if (!written) {
      // Non-blocking: ENXIO until the reload job has opened the FIFO to read.
      Fd fifo(::open(config_path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
      ++turns_while_blocked;
      if (fifo) {
        EXPECT_EQ(::write(fifo.get(), kTwoServices.data(), kTwoServices.size()),
                  static_cast<ssize_t>(kTwoServices.size()));
        written = true;
      }
    }
    return written && !app.reloading();
  }));
  EXPECT_GE(turns_while_blocked, 1u);
  EXPECT_EQ(services(), std::vector<std::string>({"a", "b"}));
}

TEST_F(AppTest, SighupDuringAReloadRunsOneMoreAfterIt) {
  App& app = start(kOneService);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  write_config(kTwoServices);
  app.reload();
  app.reload();  // queued
  app.reload();  // folded into the queued one
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  EXPECT_EQ(notifier_.count("reloading"), 2u);
  EXPECT_EQ(read_reload_report(report_path()).generation, 3u);
  EXPECT_EQ(services(), std::vector<std::string>({"a", "b"}));
}

TEST_F(AppTest, StopDuringAReloadKeepsTheRunningConfigAndAnswersTheReload) {
  App& app = start(kOneService);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  write_config(kTwoServices);
  // In one callback: the job's completion cannot run in between.
  reactor_->add_timer(std::chrono::milliseconds(0), [&] {
    app.reload();
    app.stop();
  });
  reactor_->run();  // nothing open: the stop ends the loop at once
  EXPECT_EQ(app.config().services.size(), 1u);
  app_.reset();  // finishes the I/O jobs: the reload's answer is written
  const auto report = read_reload_report(report_path());
  EXPECT_EQ(report.generation, 2u);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("stopping"), std::string::npos) << report.message;
}

TEST_F(AppTest, WatchdogPingsWhileRunning) {
  start(kOneService, std::chrono::milliseconds(2));
  ASSERT_TRUE(run_until([&] { return notifier_.watchdogs >= 3; }));
}

TEST_F(AppTest, ReloadIntoAMissingUploadDirectoryFailsAndKeepsServing) {
  App& app = start(kOneService);
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  const std::string blocker = dir_ / "not-a-dir";
  std::ofstream(blocker) << "x";
  write_config(std::string(kOneService) +
               "[services.up]\nmode = \"upload\"\nlisten = \"127.0.0.1:0\"\n" +
               "[daemon]\nupload_dir = \"" + blocker + "/uploads\"\n");
  app.reload();
  ASSERT_TRUE(run_until([&] { return !app.reloading(); }));
  const auto report = read_reload_report(report_path());
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("cannot use upload directory"), std::string::npos)
      << report.message;
  EXPECT_EQ(services(), std::vector<std::string>({"a"}));
}

}  // namespace
}  // namespace socketd
