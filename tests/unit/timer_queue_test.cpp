// TimerQueue: one-shot timers fired in deadline order, O(1) cancellation,
// callbacks that add and cancel timers. Pure: time is passed in.
#include "reactor/timer_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace socketd {
namespace {

using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);

TEST(TimerQueueTest, EmptyQueueHasNoDeadline) {
  TimerQueue timers;
  EXPECT_EQ(timers.size(), 0u);
  EXPECT_FALSE(timers.next_deadline().has_value());
  timers.run_due(t0);
  EXPECT_EQ(timers.size(), 0u);
}

TEST(TimerQueueTest, NextDeadlineIsTheEarliest) {
  TimerQueue timers;
  timers.add(t0 + milliseconds(30), [] {});
  timers.add(t0 + milliseconds(10), [] {});
  timers.add(t0 + milliseconds(20), [] {});
  EXPECT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers.next_deadline(), t0 + milliseconds(10));
}

TEST(TimerQueueTest, IdsAreDistinct) {
  TimerQueue timers;
  std::vector<TimerId> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(timers.add(t0, [] {}));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

TEST(TimerQueueTest, RunsOnlyDueTimersInDeadlineOrder) {
  TimerQueue timers;
  std::vector<int> fired;
  timers.add(t0 + milliseconds(30), [&] { fired.push_back(30); });
  timers.add(t0 + milliseconds(10), [&] { fired.push_back(10); });
  timers.add(t0 + milliseconds(20), [&] { fired.push_back(20); });
  timers.add(t0 + milliseconds(40), [&] { fired.push_back(40); });
  timers.run_due(t0 + milliseconds(9));
  EXPECT_TRUE(fired.empty()) << "nothing is due yet";
  timers.run_due(t0 + milliseconds(20));
  EXPECT_EQ(fired, (std::vector<int>{10, 20})) << "a deadline equal to now is due";
  EXPECT_EQ(timers.size(), 2u);
  EXPECT_EQ(timers.next_deadline(), t0 + milliseconds(30));
  timers.run_due(t0 + milliseconds(1000));
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30, 40}));
  EXPECT_EQ(timers.size(), 0u);
  EXPECT_FALSE(timers.next_deadline());
  timers.run_due(t0 + milliseconds(2000));
  EXPECT_EQ(fired.size(), 4u) << "one-shot: never fired twice";
}

TEST(TimerQueueTest, EqualDeadlinesFireInInsertionOrder) {
  TimerQueue timers;
  std::vector<int> fired;
  for (int i = 0; i < 10; ++i) timers.add(t0, [&fired, i] { fired.push_back(i); });
  timers.run_due(t0);
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(TimerQueueTest, CancelledTimersNeverFire) {
  TimerQueue timers;
  std::vector<int> fired;
  const TimerId a = timers.add(t0 + milliseconds(1), [&] { fired.push_back(1); });
  timers.add(t0 + milliseconds(2), [&] { fired.push_back(2); });
  const TimerId c = timers.add(t0 + milliseconds(3), [&] { fired.push_back(3); });
  timers.cancel(a);
  timers.cancel(c);
  EXPECT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers.next_deadline(), t0 + milliseconds(2)) << "cancelled head is skipped";
  timers.run_due(t0 + milliseconds(10));
  EXPECT_EQ(fired, std::vector<int>{2});
}

TEST(TimerQueueTest, CancellingUnknownOrFiredTimersIsHarmless) {
  TimerQueue timers;
  int fired = 0;
  const TimerId a = timers.add(t0, [&] { ++fired; });
  timers.run_due(t0);
  timers.cancel(a);
  timers.cancel(a);
  timers.cancel(987654);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timers.size(), 0u);
  const TimerId b = timers.add(t0 + milliseconds(5), [&] { ++fired; });
  EXPECT_NE(a, b) << "ids are not reused, so a stale cancel cannot hit a new timer";
  timers.cancel(a);
  timers.run_due(t0 + milliseconds(5));
  EXPECT_EQ(fired, 2);
}

TEST(TimerQueueTest, CallbackMayCancelATimerDueInTheSameRun) {
  TimerQueue timers;
  std::vector<int> fired;
  TimerId second = 0;
  timers.add(t0 + milliseconds(1), [&] {
    fired.push_back(1);
    timers.cancel(second);
  });
  second = timers.add(t0 + milliseconds(2), [&] { fired.push_back(2); });
  timers.add(t0 + milliseconds(3), [&] { fired.push_back(3); });
  timers.run_due(t0 + milliseconds(10));
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
}

TEST(TimerQueueTest, CallbackMayCancelItself) {
  TimerQueue timers;
  int fired = 0;
  TimerId self = 0;
  self = timers.add(t0, [&] {
    ++fired;
    timers.cancel(self);
  });
  timers.run_due(t0);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timers.size(), 0u);
}

TEST(TimerQueueTest, CallbackMayAddTimers) {
  TimerQueue timers;
  std::vector<int> fired;
  timers.add(t0, [&] {
    fired.push_back(1);
    timers.add(t0 + milliseconds(50), [&] { fired.push_back(2); });
  });
  timers.run_due(t0);
  EXPECT_EQ(fired, std::vector<int>{1}) << "the new timer is not due yet";
  EXPECT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers.next_deadline(), t0 + milliseconds(50));
  timers.run_due(t0 + milliseconds(50));
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

TEST(TimerQueueTest, SizeCountsLiveTimersOnly) {
  TimerQueue timers;
  std::vector<TimerId> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(timers.add(t0 + milliseconds(i), [] {}));
  for (int i = 0; i < 10; i += 2) timers.cancel(ids[static_cast<size_t>(i)]);
  EXPECT_EQ(timers.size(), 5u);
  EXPECT_EQ(timers.next_deadline(), t0 + milliseconds(1));
}

TEST(TimerQueueTest, RandomScheduleFiresEachLiveTimerOnceInOrder) {
  std::mt19937_64 engine(3);
  std::uniform_int_distribution<int> offset(0, 10000);
  std::uniform_int_distribution<int> coin(0, 3);
  TimerQueue timers;
  std::map<TimerId, Clock::time_point> live;
  std::vector<std::pair<Clock::time_point, TimerId>> fired;
  std::map<TimerId, TimerId> tags;
  for (int i = 0; i < 2000; ++i) {
    const auto deadline = t0 + milliseconds(offset(engine));
    const TimerId tag = static_cast<TimerId>(i);  // the callback's own identity
    const TimerId id =
        timers.add(deadline, [&fired, deadline, tag] { fired.emplace_back(deadline, tag); });
    live.emplace(id, deadline);
    tags[id] = tag;
    if (coin(engine) == 0) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(engine() % live.size()));
      timers.cancel(it->first);
      live.erase(it);
    }
  }
  ASSERT_EQ(timers.size(), live.size());
  for (int now = 0; now <= 10000; now += 137) {
    const size_t before = fired.size();
    timers.run_due(t0 + milliseconds(now));
    for (size_t i = before; i < fired.size(); ++i) {
      ASSERT_LE(fired[i].first, t0 + milliseconds(now)) << "fired early";
    }
    if (const auto next = timers.next_deadline()) {
      ASSERT_GT(*next, t0 + milliseconds(now)) << "a due timer was left behind";
    }
  }
  timers.run_due(t0 + milliseconds(20000));
  EXPECT_EQ(timers.size(), 0u);
  ASSERT_EQ(fired.size(), live.size());
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  std::set<TimerId> expected_tags;
  for (const auto& [id, deadline] : live) expected_tags.insert(tags[id]);
  std::set<TimerId> fired_tags;
  for (const auto& f : fired) fired_tags.insert(f.second);
  EXPECT_EQ(fired_tags.size(), fired.size()) << "no timer fired twice";
  EXPECT_EQ(fired_tags, expected_tags) << "exactly the live timers fired";
}

}  // namespace
}  // namespace socketd
