#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace socketd {

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_help_text(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ");
  append_help_text(out_, help);
  out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Exposition::begin(std::string_view name, std::initializer_list<MetricLabel> labels) {
  out_.append(name);
  if (labels.size() == 0) {
    out_ += ' ';
    return;
  }
  char sep = '{';
  for (const auto& [label, value] : labels) {
    out_ += sep;
    out_.append(label).append("=\"");
    append_label_value(out_, value);
    out_ += '"';
    sep = ',';
  }
  out_.append("} ");
}

void Exposition::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                        uint64_t value) {
  begin(name, labels);
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out_.append(digits, end);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                        double value) {
  begin(name, labels);
  if (std::isnan(value)) {
    out_.append("NaN");
  } else if (std::isinf(value)) {
    out_.append(value > 0 ? "+Inf" : "-Inf");
  } else {
    char digits[32];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, end);
  }
  out_ += '\n';
}

void Exposition::sample_text(std::string_view name, std::initializer_list<MetricLabel> labels,
                             std::string_view value) {
  begin(name, labels);
  out_.append(value);
  out_ += '\n';
}

}  // namespace socketd
