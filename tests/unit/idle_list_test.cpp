// IdleList: an intrusive LRU list, oldest first; touch moves to the back,
// unlink removes; checked against a std::list model.
#include "server/idle_list.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <list>
#include <random>
#include <vector>

namespace socketd {
namespace {

using std::chrono::seconds;

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);

// Walks the list front to back and checks the back links on the way.
std::vector<IdleHook*> walk(const IdleList& list) {
  std::vector<IdleHook*> out;
  IdleHook* prev = nullptr;
  for (IdleHook* h = list.oldest(); h != nullptr; h = h->next) {
    EXPECT_EQ(h->prev, prev) << "broken back link";
    EXPECT_TRUE(h->linked);
    out.push_back(h);
    prev = h;
    if (out.size() > 10000) {
      ADD_FAILURE() << "cycle";
      break;
    }
  }
  return out;
}

TEST(IdleListTest, EmptyListHasNoOldest) {
  IdleList list;
  EXPECT_EQ(list.oldest(), nullptr);
}

TEST(IdleListTest, TouchAppendsInActivityOrder) {
  IdleList list;
  IdleHook a, b, c;
  list.touch(a, t0);
  list.touch(b, t0 + seconds(1));
  list.touch(c, t0 + seconds(2));
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&a, &b, &c}));
  EXPECT_EQ(list.oldest(), &a);
  EXPECT_EQ(a.last_active, t0);
  EXPECT_EQ(c.last_active, t0 + seconds(2));
}

TEST(IdleListTest, TouchMovesToTheBackAndUpdatesTime) {
  IdleList list;
  IdleHook a, b, c;
  list.touch(a, t0);
  list.touch(b, t0);
  list.touch(c, t0);
  list.touch(a, t0 + seconds(5));
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&b, &c, &a}));
  EXPECT_EQ(a.last_active, t0 + seconds(5));
  list.touch(c, t0 + seconds(6));  // middle
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&b, &a, &c}));
  list.touch(c, t0 + seconds(7));  // already last: only the time changes
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&b, &a, &c}));
  EXPECT_EQ(c.last_active, t0 + seconds(7));
}

TEST(IdleListTest, UnlinkHeadMiddleTailAndOnly) {
  IdleList list;
  IdleHook a, b, c, d;
  for (IdleHook* h : {&a, &b, &c, &d}) list.touch(*h, t0);
  list.unlink(b);  // middle
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&a, &c, &d}));
  EXPECT_FALSE(b.linked);
  EXPECT_EQ(b.prev, nullptr);
  EXPECT_EQ(b.next, nullptr);
  list.unlink(a);  // head
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&c, &d}));
  list.unlink(d);  // tail
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&c}));
  list.touch(a, t0);  // the tail pointer is right after unlinking the tail
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&c, &a}));
  list.unlink(c);
  list.unlink(a);  // only
  EXPECT_EQ(list.oldest(), nullptr);
  list.touch(d, t0);
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&d}));
}

TEST(IdleListTest, UnlinkingAnUnlinkedHookIsHarmless) {
  IdleList list;
  IdleHook a, b;
  list.touch(a, t0);
  list.unlink(b);
  list.unlink(a);
  list.unlink(a);
  EXPECT_EQ(list.oldest(), nullptr);
}

TEST(IdleListTest, SweepFromTheFrontClosesExactlyTheExpired) {
  IdleList list;
  std::array<IdleHook, 6> hooks;
  for (size_t i = 0; i < hooks.size(); ++i) list.touch(hooks[i], t0 + seconds(static_cast<int>(i)));
  list.touch(hooks[1], t0 + seconds(10));  // activity keeps it alive
  const auto timeout = seconds(3);
  const auto now = t0 + seconds(6);
  std::vector<IdleHook*> expired;
  while (IdleHook* h = list.oldest()) {
    if (h->last_active + timeout > now) break;
    expired.push_back(h);
    list.unlink(*h);
  }
  EXPECT_EQ(expired, (std::vector<IdleHook*>{&hooks[0], &hooks[2], &hooks[3]}));
  EXPECT_EQ(walk(list), (std::vector<IdleHook*>{&hooks[4], &hooks[5], &hooks[1]}));
}

TEST(IdleListTest, MatchesAListModelUnderRandomOperations) {
  std::mt19937_64 engine(5);
  std::array<IdleHook, 16> hooks;
  std::list<IdleHook*> model;
  IdleList list;
  std::uniform_int_distribution<size_t> pick(0, hooks.size() - 1);
  std::uniform_int_distribution<int> op(0, 2);
  for (int step = 0; step < 20000; ++step) {
    IdleHook& h = hooks[pick(engine)];
    const auto now = t0 + seconds(step);
    if (op(engine) < 2) {
      list.touch(h, now);
      model.remove(&h);
      model.push_back(&h);
      ASSERT_EQ(h.last_active, now);
    } else {
      list.unlink(h);
      model.remove(&h);
    }
    const auto actual = walk(list);
    ASSERT_EQ(actual, std::vector<IdleHook*>(model.begin(), model.end())) << "step " << step;
    for (const auto& hook : hooks) {
      ASSERT_EQ(hook.linked, std::find(model.begin(), model.end(), &hook) != model.end());
    }
    // Oldest first means non-decreasing activity times.
    ASSERT_TRUE(std::is_sorted(actual.begin(), actual.end(),
                               [](auto* x, auto* y) { return x->last_active < y->last_active; }));
  }
}

}  // namespace
}  // namespace socketd
