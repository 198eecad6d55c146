// Report: the end-of-run summary of one run, printed as a table or as one
// JSON object (same content), and the exit status it implies: 0 when every
// operation was answered correctly, 1 when there were errors or starved
// connections. Captures the tool's own CPU time (getrusage) when built.
#pragma once

#include <cstdio>
#include <string>

#include "options.hpp"
#include "run_result.hpp"

namespace socketd::bench {

class Report {
 public:
  Report(const Options& options, std::string target, const RunResult& result);

  void print_table(std::FILE* out) const;
  void print_json(std::FILE* out) const;
  int exit_code() const noexcept;

 private:
  double elapsed_s() const noexcept;
  double per_second(double value) const noexcept { return value / elapsed_s(); }
  double cpu_percent() const noexcept;
  const char* operation_name() const noexcept;
  const char* pacing() const noexcept;      // for the table header
  const char* pacing_key() const noexcept;  // for JSON
  bool has_latency() const noexcept { return result_.stats.latency().count() > 0; }

  const Options& options_;
  std::string target_;
  const RunResult& result_;
  double user_s_ = 0;
  double sys_s_ = 0;
  long max_rss_kib_ = 0;
};

}  // namespace socketd::bench
