// Buffer: FIFO byte queue; memory freed once drained; contents preserved
// across growth and compaction.
#include "buffer/buffer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace socketd {
namespace {

TEST(BufferTest, StartsEmptyWithoutMemory) {
  Buffer buffer;
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_EQ(buffer.view(), "");
  EXPECT_TRUE(buffer.readable().empty());
}

TEST(BufferTest, AppendingNothingAllocatesNothing) {
  Buffer buffer;
  buffer.append(std::string_view());
  buffer.append("");
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_TRUE(buffer.empty());
}

TEST(BufferTest, AppendAndConsumeInFifoOrder) {
  Buffer buffer;
  buffer.append("hello ");
  buffer.append(std::string_view("wor\0ld", 6));
  EXPECT_EQ(buffer.size(), 12u);
  EXPECT_EQ(buffer.view(), std::string_view("hello wor\0ld", 12));
  EXPECT_EQ(buffer.readable().size(), 12u);
  EXPECT_EQ(buffer.readable().data(), buffer.view().data());
  buffer.consume(6);
  EXPECT_EQ(buffer.view(), std::string_view("wor\0ld", 6));
  EXPECT_FALSE(buffer.empty());
}

TEST(BufferTest, DrainingFreesTheBlock) {
  Buffer buffer;
  buffer.append("abc");
  EXPECT_GT(buffer.capacity(), 0u);
  buffer.consume(3);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u) << "an idle connection holds no buffer memory";
}

TEST(BufferTest, ConsumingMoreThanHeldDrainsAndFrees) {
  Buffer buffer;
  buffer.append("abc");
  buffer.consume(100);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
  buffer.consume(1);  // on an empty buffer: harmless
  EXPECT_TRUE(buffer.empty());
  buffer.append("x");
  EXPECT_EQ(buffer.view(), "x");
}

TEST(BufferTest, ClearDropsEverything) {
  Buffer buffer;
  buffer.append(std::string(1000, 'q'));
  buffer.consume(10);
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
  buffer.append("new");
  EXPECT_EQ(buffer.view(), "new");
}

TEST(BufferTest, GrowsToHoldLargeAppendsAndKeepsContents) {
  Buffer buffer;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string chunk(static_cast<size_t>(i * 37 + 1), static_cast<char>('a' + i % 26));
    buffer.append(chunk);
    expected += chunk;
    ASSERT_EQ(buffer.view(), expected);
    ASSERT_GE(buffer.capacity(), buffer.size());
  }
  const std::string huge(1 << 20, 'H');
  buffer.append(huge);
  expected += huge;
  EXPECT_EQ(buffer.view(), expected);
}

TEST(BufferTest, ReusesTheConsumedPrefixWithoutLosingBytes) {
  Buffer buffer;
  buffer.append(std::string(200, 'a'));
  const size_t capacity = buffer.capacity();
  buffer.consume(150);
  buffer.append(std::string(100, 'b'));
  EXPECT_EQ(buffer.view(), std::string(50, 'a') + std::string(100, 'b'));
  EXPECT_EQ(buffer.capacity(), capacity) << "room reclaimed instead of a new block";
}

TEST(BufferTest, MatchesAStringModelUnderRandomOperations) {
  std::mt19937_64 engine(1);
  std::uniform_int_distribution<int> op(0, 9);
  std::uniform_int_distribution<size_t> small(0, 300);
  std::uniform_int_distribution<size_t> large(0, 5000);
  std::uniform_int_distribution<int> byte(0, 255);
  Buffer buffer;
  std::string model;
  for (int step = 0; step < 20000; ++step) {
    const int o = op(engine);
    if (o < 5) {
      std::string chunk(o == 0 ? large(engine) : small(engine), '\0');
      for (auto& c : chunk) c = static_cast<char>(byte(engine));
      buffer.append(chunk);
      model += chunk;
    } else if (o < 9) {
      const size_t n = o == 5 ? model.size() : small(engine);
      buffer.consume(n);
      model.erase(0, std::min(n, model.size()));
    } else if (step % 50 == 0) {
      buffer.clear();
      model.clear();
    }
    ASSERT_EQ(buffer.size(), model.size()) << "step " << step;
    ASSERT_EQ(buffer.view(), model) << "step " << step;
    ASSERT_GE(buffer.capacity(), buffer.size());
    if (model.empty()) {
      ASSERT_EQ(buffer.capacity(), 0u) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace socketd
