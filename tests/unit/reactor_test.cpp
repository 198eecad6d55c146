// Reactor: timers through the timerfd, edge-triggered I/O dispatch,
// mark_ready/kResume, deferred destruction (retire), run/stop. Every wait is
// a bounded run_once inside a generous deadline; nothing sleeps.
#include "reactor/reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <vector>

namespace socketd {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr auto kDeadline = 10s;

std::unique_ptr<Reactor> make_reactor() {
  auto reactor = Reactor::create();
  EXPECT_TRUE(reactor.ok()) << reactor.error().message();
  return reactor.ok() ? std::move(*reactor) : nullptr;
}

// Runs turns (each waiting at most 50 ms) until `done` or the deadline.
bool run_until(Reactor& reactor, const std::function<bool()>& done) {
  const auto give_up = Clock::now() + kDeadline;
  while (!done()) {
    if (Clock::now() > give_up) return false;
    reactor.run_once(50ms);
  }
  return true;
}

// Records every on_io call; optional action; reports its destruction.
class Handler final : public IoHandler {
 public:
  explicit Handler(bool* destroyed = nullptr) : destroyed_(destroyed) {}
  ~Handler() override {
    if (destroyed_ != nullptr) *destroyed_ = true;
  }
  void on_io(uint32_t events) noexcept override {
    calls.push_back(events);
    if (action) action(events);
  }
  size_t resumes() const {
    size_t n = 0;
    for (auto e : calls) n += (e & kResume) != 0;
    return n;
  }
  std::vector<uint32_t> calls;
  std::function<void(uint32_t)> action;

 private:
  bool* destroyed_;
};

struct SocketPair {
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a = Fd(fds[0]);
    b = Fd(fds[1]);
  }
  Fd a;
  Fd b;
};

void write_byte(const Fd& fd) {
  ASSERT_EQ(::write(fd.get(), "x", 1), 1);
}

TEST(ReactorTest, CreateSucceeds) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  EXPECT_FALSE(reactor->running());
}

TEST(ReactorTest, TimerFiresOnceAfterItsDelay) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  const auto start = Clock::now();
  int fired = 0;
  Clock::time_point fired_at{};
  reactor->add_timer(5ms, [&] {
    ++fired;
    fired_at = Clock::now();
  });
  ASSERT_TRUE(run_until(*reactor, [&] { return fired > 0; }));
  EXPECT_GE(fired_at - start, 5ms) << "never early";
  for (int i = 0; i < 5; ++i) reactor->run_once(0ms);
  reactor->run_once(20ms);
  EXPECT_EQ(fired, 1) << "one-shot";
}

TEST(ReactorTest, ZeroDelayTimerFiresOnTheNextTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool fired = false;
  reactor->add_timer(0ms, [&] { fired = true; });
  const auto start = Clock::now();
  reactor->run_once(milliseconds(kDeadline));
  EXPECT_TRUE(fired);
  EXPECT_LT(Clock::now() - start, 5s) << "the turn waited for the due timer, not the max wait";
}

TEST(ReactorTest, TimersFireInDeadlineOrder) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  std::vector<int> fired;
  reactor->add_timer(30ms, [&] { fired.push_back(30); });
  reactor->add_timer(10ms, [&] { fired.push_back(10); });
  reactor->add_timer(20ms, [&] { fired.push_back(20); });
  ASSERT_TRUE(run_until(*reactor, [&] { return fired.size() == 3; }));
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30}));
}

TEST(ReactorTest, AnEarlierTimerAddedLaterStillFiresFirst) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool late = false;
  bool early = false;
  reactor->add_timer(1h, [&] { late = true; });
  reactor->add_timer(5ms, [&] { early = true; });
  ASSERT_TRUE(run_until(*reactor, [&] { return early; })) << "timerfd re-armed earlier";
  EXPECT_FALSE(late);
}

TEST(ReactorTest, CancelledTimerNeverFiresAndLaterOnesStillDo) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool cancelled_fired = false;
  bool live_fired = false;
  const TimerId id = reactor->add_timer(5ms, [&] { cancelled_fired = true; });
  reactor->add_timer(25ms, [&] { live_fired = true; });
  reactor->cancel_timer(id);
  ASSERT_TRUE(run_until(*reactor, [&] { return live_fired; }));
  EXPECT_FALSE(cancelled_fired);
}

TEST(ReactorTest, TimerCallbackCanScheduleAnotherTimer) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  std::vector<int> fired;
  reactor->add_timer(5ms, [&] {
    fired.push_back(1);
    reactor->add_timer(5ms, [&] { fired.push_back(2); });
  });
  ASSERT_TRUE(run_until(*reactor, [&] { return fired.size() == 2; }));
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

TEST(ReactorTest, SelfReschedulingZeroDelayTimerFiresOncePerTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  int fired = 0;
  std::function<void()> again = [&] {
    ++fired;
    reactor->add_timer(0ms, again);
  };
  reactor->add_timer(0ms, again);
  for (int turn = 1; turn <= 5; ++turn) {
    reactor->run_once(milliseconds(kDeadline));
    ASSERT_EQ(fired, turn) << "neither starved nor looping within one turn";
  }
}

TEST(ReactorTest, RunOnceWithNothingToDoWaitsAtMostMaxWait) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  auto start = Clock::now();
  reactor->run_once(20ms);
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 19ms);
  EXPECT_LT(waited, 5s);
  start = Clock::now();
  reactor->run_once(0ms);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_GE(reactor->now(), start) << "now() is the start of the latest turn";
}

TEST(ReactorTest, MarkReadyRunsTheHandlerWithResumeWithoutBlocking) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  Handler handler;
  reactor->mark_ready(&handler);
  reactor->mark_ready(&handler);  // queued once, however often marked
  const auto start = Clock::now();
  reactor->run_once(milliseconds(kDeadline));
  EXPECT_LT(Clock::now() - start, 5s) << "a ready handler makes the turn non-blocking";
  ASSERT_EQ(handler.calls.size(), 1u);
  EXPECT_EQ(handler.calls[0], kResume);
  reactor->run_once(0ms);
  EXPECT_EQ(handler.calls.size(), 1u) << "not run again unless marked again";
}

TEST(ReactorTest, HandlerThatStaysReadyRunsOncePerTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  Handler handler;
  handler.action = [&](uint32_t) { reactor->mark_ready(&handler); };
  reactor->mark_ready(&handler);
  for (int turn = 1; turn <= 4; ++turn) {
    reactor->run_once(milliseconds(kDeadline));
    ASSERT_EQ(handler.resumes(), static_cast<size_t>(turn));
  }
}

TEST(ReactorTest, HandlerMarkedDuringDispatchRunsNextTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  Handler second;
  Handler first;
  first.action = [&](uint32_t) { reactor->mark_ready(&second); };
  reactor->mark_ready(&first);
  reactor->run_once(0ms);
  EXPECT_EQ(first.calls.size(), 1u);
  EXPECT_EQ(second.calls.size(), 0u);
  reactor->run_once(milliseconds(kDeadline));
  EXPECT_EQ(second.calls.size(), 1u);
}

TEST(ReactorTest, ReadableFdIsReportedOncePerEdge) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  SocketPair pair;
  Handler handler;
  ASSERT_FALSE(reactor->add(pair.a.get(), &handler));
  // A fresh socket is writable: reported once on registration.
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  EXPECT_TRUE(handler.calls[0] & EPOLLOUT);
  handler.calls.clear();
  reactor->run_once(0ms);
  EXPECT_TRUE(handler.calls.empty()) << "edge-triggered: no repeat without a new edge";

  write_byte(pair.b);
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  EXPECT_TRUE(handler.calls.back() & EPOLLIN);
  handler.calls.clear();
  // The byte is left unread: edge-triggering stays silent about it...
  reactor->run_once(0ms);
  reactor->run_once(10ms);
  EXPECT_TRUE(handler.calls.empty());
  // ...until new data makes a new edge.
  write_byte(pair.b);
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  EXPECT_TRUE(handler.calls.back() & EPOLLIN);
}

TEST(ReactorTest, PeerCloseIsReportedAsRdhup) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  SocketPair pair;
  Handler handler;
  ASSERT_FALSE(reactor->add(pair.a.get(), &handler));
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  handler.calls.clear();
  pair.b.reset();
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  EXPECT_TRUE(handler.calls.back() & (EPOLLRDHUP | EPOLLHUP));
}

TEST(ReactorTest, RemovedFdIsNoLongerReported) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  SocketPair pair;
  Handler handler;
  ASSERT_FALSE(reactor->add(pair.a.get(), &handler));
  ASSERT_TRUE(run_until(*reactor, [&] { return !handler.calls.empty(); }));
  reactor->remove(pair.a.get());
  handler.calls.clear();
  write_byte(pair.b);
  reactor->run_once(20ms);
  EXPECT_TRUE(handler.calls.empty());
}

TEST(ReactorTest, AddingAnInvalidFdFails) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  Handler handler;
  EXPECT_TRUE(reactor->add(-1, &handler));
  SocketPair pair;
  ASSERT_FALSE(reactor->add(pair.a.get(), &handler));
  EXPECT_TRUE(reactor->add(pair.a.get(), &handler)) << "registering twice is an error";
}

TEST(ReactorTest, HandlerRetiringItselfLivesUntilTheEndOfTheTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  SocketPair pair;
  bool destroyed = false;
  auto owned = std::make_unique<Handler>(&destroyed);
  Handler* handler = owned.get();
  bool alive_after_retire = false;
  handler->action = [&](uint32_t) {
    reactor->remove(pair.a.get());
    reactor->retire(std::move(owned));
    alive_after_retire = !destroyed;
  };
  ASSERT_FALSE(reactor->add(pair.a.get(), handler));
  ASSERT_TRUE(run_until(*reactor, [&] { return destroyed; }));
  EXPECT_TRUE(alive_after_retire);
}

TEST(ReactorTest, HandlerRetiredMidBatchIsNotFreedBeforeItsQueuedEvent) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  SocketPair pair_a;
  SocketPair pair_b;
  bool a_destroyed = false;
  bool b_destroyed = false;
  auto a = std::make_unique<Handler>(&a_destroyed);
  auto b = std::make_unique<Handler>(&b_destroyed);
  Handler* a_raw = a.get();
  Handler* b_raw = b.get();
  ASSERT_FALSE(reactor->add(pair_a.a.get(), a_raw));
  ASSERT_FALSE(reactor->add(pair_b.a.get(), b_raw));
  ASSERT_TRUE(run_until(*reactor, [&] { return !a_raw->calls.empty() && !b_raw->calls.empty(); }));
  a_raw->calls.clear();
  b_raw->calls.clear();

  // a retires b; both have an event in the same batch, in either order.
  bool saw_destroyed_peer = false;
  const int b_fd = pair_b.a.get();
  a_raw->action = [&](uint32_t) {
    if (b_destroyed) saw_destroyed_peer = true;
    if (b) {
      reactor->remove(b_fd);
      reactor->retire(std::move(b));
    }
  };
  b_raw->action = [&](uint32_t) {
    if (b_destroyed) saw_destroyed_peer = true;  // would be a use after free
  };
  write_byte(pair_a.b);
  write_byte(pair_b.b);
  // Let both edges land before the turn that dispatches them.
  ASSERT_TRUE(run_until(*reactor, [&] { return !a_raw->calls.empty(); }));
  EXPECT_FALSE(saw_destroyed_peer);
  EXPECT_TRUE(b_destroyed) << "destroyed at the end of the turn";
  EXPECT_FALSE(a_destroyed);
  reactor->remove(pair_a.a.get());
}

TEST(ReactorTest, RetiringAQueuedHandlerDropsItFromTheReadyList) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool destroyed = false;
  bool ran_after_destruction = false;
  auto owned = std::make_unique<Handler>(&destroyed);
  owned->action = [&](uint32_t) { ran_after_destruction = destroyed; };
  Handler* raw = owned.get();
  reactor->mark_ready(raw);
  reactor->retire(std::move(owned));
  reactor->run_once(0ms);
  EXPECT_TRUE(destroyed);
  EXPECT_FALSE(ran_after_destruction);
  reactor->run_once(0ms);  // must not touch the freed handler (ASan would say so)
}

TEST(ReactorTest, HandlerRetiredByATimerIsDestroyedAfterThatTurnAndNotResumed) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool destroyed = false;
  auto owned = std::make_unique<Handler>(&destroyed);
  Handler* raw = owned.get();
  raw->action = [&](uint32_t) { reactor->mark_ready(raw); };  // always wants more
  reactor->mark_ready(raw);
  reactor->add_timer(5ms, [&] { reactor->retire(std::move(owned)); });
  ASSERT_TRUE(run_until(*reactor, [&] { return destroyed; }));
  reactor->run_once(0ms);
  reactor->run_once(0ms);
}

TEST(ReactorTest, RunReturnsAfterStop) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  bool running_inside = false;
  reactor->add_timer(5ms, [&] {
    running_inside = reactor->running();
    reactor->stop();
  });
  // A broken stop() would hang here; the watchdog timer turns that into a failure.
  bool watchdog = false;
  reactor->add_timer(std::chrono::duration_cast<milliseconds>(kDeadline), [&] {
    watchdog = true;
    reactor->stop();
  });
  reactor->run();
  EXPECT_TRUE(running_inside);
  EXPECT_FALSE(watchdog);
  EXPECT_FALSE(reactor->running());
}

TEST(ReactorTest, NowAdvancesWithEachTurn) {
  auto reactor = make_reactor();
  ASSERT_TRUE(reactor);
  reactor->run_once(0ms);
  const auto first = reactor->now();
  reactor->run_once(2ms);
  EXPECT_GT(reactor->now(), first);
  EXPECT_LE(reactor->now(), Clock::now());
}

}  // namespace
}  // namespace socketd
