#include "format.hpp"

#include <cstdio>

namespace socketd::bench {
namespace {

// Three significant digits of `value` (assumed >= 1) followed by `unit`.
std::string three_digits(double value, const char* unit) {
  char text[32];
  const char* format = value < 10 ? "%.2f%s" : value < 100 ? "%.1f%s" : "%.0f%s";
  std::snprintf(text, sizeof text, format, value, unit);
  return text;
}

}  // namespace

std::string format_latency(int64_t ns) {
  const auto v = static_cast<double>(ns);
  if (ns < 1'000) return std::to_string(ns) + "ns";
  if (ns < 1'000'000) return three_digits(v / 1e3, "us");
  if (ns < 1'000'000'000) return three_digits(v / 1e6, "ms");
  return three_digits(v / 1e9, "s");
}

std::string format_count(double value) {
  if (value < 1'000) {
    char text[32];
    std::snprintf(text, sizeof text, value < 10 ? "%.1f" : "%.0f", value);
    return text;
  }
  if (value < 1e6) return three_digits(value / 1e3, "k");
  if (value < 1e9) return three_digits(value / 1e6, "M");
  return three_digits(value / 1e9, "G");
}

std::string format_bytes(double bytes) {
  if (bytes < 1'000) return std::to_string(static_cast<uint64_t>(bytes)) + " B";
  if (bytes < 1e6) return three_digits(bytes / 1e3, " kB");
  if (bytes < 1e9) return three_digits(bytes / 1e6, " MB");
  return three_digits(bytes / 1e9, " GB");
}

}  // namespace socketd::bench
