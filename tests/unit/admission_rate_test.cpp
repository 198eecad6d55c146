// max_connection_rate on a simulated clock: a listener with clients always
// waiting admits the configured rate whatever rate_pause is (it used to admit
// the limit per pause-plus-burst: 100/s for 50/s and 500 ms), bursts up to
// the limit, and pauses only as long as needed for the next client to fit.
#include <gtest/gtest.h>

#include <memory>

#include "server/admission_policy.hpp"

namespace socketd {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const ServiceSettings> settings(uint32_t rate, std::chrono::milliseconds pause) {
  ServiceConfig config;
  config.name = "echo";
  config.mode = Mode::kEcho;
  config.max_connection_rate = rate;
  config.rate_pause = pause;
  return std::make_shared<const ServiceSettings>(config);
}

// A listener whose backlog never empties, for `seconds` of simulated time:
// accepts back to back, pausing as TcpListener does after a kRate refusal.
uint64_t admitted_under_flood(AdmissionPolicy& policy, std::chrono::seconds seconds) {
  const auto peer = *SocketAddress::parse("192.0.2.1:4000");
  const AdmissionPolicy::Load load{0, 0, 1u << 30};
  const auto start = Clock::time_point{} + 24h;
  auto now = start;
  uint64_t admitted = 0;
  while (now < start + seconds) {
    if (policy.check_accept(peer, now, load) == std::nullopt) {
      ++admitted;
      now += 100us;  // the next client is already queued
    } else {
      now += policy.rate_pause(now);
    }
  }
  return admitted;
}

TEST(AdmissionRate, FiftyPerSecondWithHalfSecondPausesStaysAtFifty) {
  AdmissionPolicy policy(settings(50, 500ms));
  const uint64_t admitted = admitted_under_flood(policy, 20s);
  // 20 s at 50/s, plus the initial burst of 50.
  EXPECT_LE(admitted, 20u * 50 + 50) << "over the configured rate";
  EXPECT_GE(admitted, 20u * 50 - 50) << "well under the configured rate";
}

TEST(AdmissionRate, TheRateHoldsForAnyPause) {
  for (const auto pause : {1ms, 10ms, 100ms, 250ms, 500ms, 999ms, 1000ms, 3000ms}) {
    SCOPED_TRACE(std::to_string(pause.count()) + " ms");
    AdmissionPolicy policy(settings(50, pause));
    const uint64_t admitted = admitted_under_flood(policy, 30s);
    EXPECT_LE(admitted, 30u * 50 + 50);
    // Long pauses may leave some of the rate unused; never more than they cost.
    if (pause <= 1000ms) {
      EXPECT_GE(admitted, 30u * 50 - 50 * 2);
    }
  }
}

TEST(AdmissionRate, BurstUpToTheLimitThenRefused) {
  AdmissionPolicy policy(settings(10, 1000ms));
  const auto peer = *SocketAddress::parse("192.0.2.1:4000");
  const AdmissionPolicy::Load load{0, 0, 1000};
  const auto now = Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(policy.check_accept(peer, now, load), std::nullopt) << i;
  EXPECT_EQ(policy.check_accept(peer, now, load), Refusal::kRate);
  // The next one fits 100 ms later; the pause is rate_pause (longer).
  EXPECT_EQ(policy.rate_pause(now), 1000ms);
  EXPECT_EQ(policy.check_accept(peer, now + 100ms, load), std::nullopt);
  EXPECT_EQ(policy.check_accept(peer, now + 100ms, load), Refusal::kRate);
}

TEST(AdmissionRate, PauseLastsUntilTheNextClientFits) {
  AdmissionPolicy policy(settings(2, 10ms));
  const auto peer = *SocketAddress::parse("192.0.2.1:4000");
  const AdmissionPolicy::Load load{0, 0, 1000};
  const auto now = Clock::time_point{} + 1h;
  EXPECT_EQ(policy.check_accept(peer, now, load), std::nullopt);
  EXPECT_EQ(policy.check_accept(peer, now, load), std::nullopt);
  EXPECT_EQ(policy.check_accept(peer, now, load), Refusal::kRate);
  // 2/s: room again 500 ms later, not after rate_pause's 10 ms.
  const auto pause = policy.rate_pause(now);
  EXPECT_EQ(pause, 500ms);
  EXPECT_EQ(policy.check_accept(peer, now + pause, load), std::nullopt);
}

TEST(AdmissionRate, UnlimitedWithoutARate) {
  AdmissionPolicy policy(settings(0, 500ms));
  const auto peer = *SocketAddress::parse("192.0.2.1:4000");
  const auto now = Clock::time_point{} + 1h;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(policy.check_accept(peer, now, {0, 0, 1u << 30}), std::nullopt);
  }
}

}  // namespace
}  // namespace socketd
