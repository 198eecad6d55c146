// Exposition: writes the Prometheus text exposition format, version 0.0.4
// (HELP and TYPE lines, samples with escaped label values), appending to a
// string the caller reuses. Only formatting: what to write is the caller's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace socketd {

using MetricLabel = std::pair<std::string_view, std::string_view>;  // name, value

class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}

  // "# HELP name help" and "# TYPE name type"; every sample of the family
  // must follow before the next family starts.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<MetricLabel> labels, uint64_t value);
  void sample(std::string_view name, std::initializer_list<MetricLabel> labels, double value);
  // A value already formatted (a number, "+Inf", "NaN").
  void sample_text(std::string_view name, std::initializer_list<MetricLabel> labels,
                   std::string_view value);

 private:
  void begin(std::string_view name, std::initializer_list<MetricLabel> labels);
  std::string& out_;
};

// Appends `value` as a label value may hold it: backslash, double quote and
// line feed escaped as \\, \" and \n.
void append_label_value(std::string& out, std::string_view value);
// Appends HELP text: backslash and line feed escaped.
void append_help_text(std::string& out, std::string_view text);

}  // namespace socketd
