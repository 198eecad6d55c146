// Human-readable numbers for the progress line and the summary table.
#pragma once

#include <cstdint>
#include <string>

namespace socketd::bench {

// 812ns, 45.1us, 1.23ms, 2.50s: three significant digits.
std::string format_latency(int64_t ns);
// 512, 12.3k, 4.56M: three significant digits, decimal units.
std::string format_count(double value);
// 950 B, 12.3 kB, 4.56 MB, 1.20 GB: decimal units.
std::string format_bytes(double bytes);

}  // namespace socketd::bench
