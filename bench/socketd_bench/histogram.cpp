#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "clock.hpp"

namespace socketd::bench {
namespace {

constexpr unsigned kSubBucketBits = 8;
constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // exact range: [0, 256)
constexpr uint64_t kHalf = kSubBuckets / 2;                      // linear buckets per octave
constexpr uint64_t kMaxTrackable = 60 * kNsPerSec;

constexpr size_t bucket_count() {
  const auto top_shift = std::bit_width(kMaxTrackable) - kSubBucketBits;
  return static_cast<size_t>(kSubBuckets + top_shift * kHalf);
}

}  // namespace

Histogram::Histogram() : counts_(bucket_count(), 0) {}

// For value >= 256, shift it right until it fits in [128, 256): the shift
// picks the octave, the remaining top bits the linear bucket inside it.
size_t Histogram::index_of(uint64_t value) noexcept {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  const auto shift = static_cast<uint64_t>(std::bit_width(value)) - kSubBucketBits;
  return static_cast<size_t>(kSubBuckets + (shift - 1) * kHalf + ((value >> shift) - kHalf));
}

uint64_t Histogram::lowest_of(size_t index) noexcept {
  if (index < kSubBuckets) return index;
  const uint64_t k = index - kSubBuckets;
  const uint64_t shift = k / kHalf + 1;
  return (kHalf + k % kHalf) << shift;
}

uint64_t Histogram::width_of(size_t index) noexcept {
  if (index < kSubBuckets) return 1;
  return uint64_t{1} << ((index - kSubBuckets) / kHalf + 1);
}

void Histogram::record(int64_t value_ns) noexcept {
  const int64_t value = std::max<int64_t>(value_ns, 0);
  const auto clamped = std::min(static_cast<uint64_t>(value), kMaxTrackable);
  ++counts_[std::min(index_of(clamped), counts_.size() - 1)];
  if (count_ == 0 || value < min_) min_ = value;
  if (count_ == 0 || value > max_) max_ = value;
  ++count_;
  sum_ += static_cast<double>(value);
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

int64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (p >= 100.0) return max_;
  const double wanted = std::ceil(p / 100.0 * static_cast<double>(count_));
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const auto mid = static_cast<int64_t>(lowest_of(i) + width_of(i) / 2);
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

std::pair<size_t, uint64_t> Histogram::bucket_of_rank(uint64_t rank) const noexcept {
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return {i, seen};
  }
  return {counts_.size() - 1, seen};
}

void Histogram::write_hgrm(std::FILE* out, double unit_ns) const {
  std::fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
               "1/(1-Percentile)");
  // HdrHistogram reports each bucket by its highest equivalent value; ours
  // are clamped to the exact min and max.
  const auto value_of = [&](size_t index) {
    const auto highest = static_cast<int64_t>(lowest_of(index) + width_of(index) - 1);
    return static_cast<double>(std::clamp(highest, min_, max_)) / unit_ns;
  };
  double level = 0;  // percent
  while (count_ > 0 && level < 100.0) {
    const double wanted = std::ceil(level / 100.0 * static_cast<double>(count_));
    const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
    const auto [index, cumulative] = bucket_of_rank(rank);
    if (cumulative >= count_) break;  // the rest is the last line
    const double fraction = level / 100.0;
    std::fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", value_of(index), fraction,
                 static_cast<unsigned long long>(cumulative), 1.0 / (1.0 - fraction));
    // Halve the distance to 100% every 5 lines (HdrHistogram's PercentileIterator).
    const double halvings = std::floor(std::log2(100.0 / (100.0 - level)));
    level += 100.0 / (5.0 * std::exp2(halvings + 1.0));
  }
  const double max_value = static_cast<double>(max()) / unit_ns;
  std::fprintf(out, "%12.3f %2.12f %10llu\n", max_value, 1.0,
               static_cast<unsigned long long>(count_));
  // Mean and deviation: the deviation from the buckets' midpoints, as
  // HdrHistogram computes it from its equivalent values.
  double squares = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double mid = static_cast<double>(lowest_of(i) + width_of(i) / 2) - mean();
    squares += mid * mid * static_cast<double>(counts_[i]);
  }
  const double deviation = count_ == 0 ? 0.0 : std::sqrt(squares / static_cast<double>(count_));
  std::fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / unit_ns,
               deviation / unit_ns);
  std::fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", max_value,
               static_cast<unsigned long long>(count_));
  std::fprintf(out, "#[Buckets = %12zu, SubBuckets     = %12llu]\n",
               (counts_.size() - kSubBuckets) / kHalf + 1,
               static_cast<unsigned long long>(kSubBuckets));
}

}  // namespace socketd::bench
