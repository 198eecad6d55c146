#include "stats.hpp"

#include <numeric>

namespace socketd::bench {

uint64_t Stats::errors() const noexcept {
  return std::accumulate(errors_.begin(), errors_.end(), uint64_t{0});
}

}  // namespace socketd::bench
