// socketd-micro's main: Google Benchmark's own, with two changes.
//
// glibc malloc's mmap and trim thresholds are pinned at their start-up
// defaults. glibc raises them the first time a large mmapped block is freed,
// after which freeing a large block no longer hands memory back with
// brk/munmap. Left dynamic, a figure would depend on which benchmarks ran
// before it (and on --benchmark_filter); pinned, every benchmark sees what a
// freshly started socketd sees. With GLIBC_TUNABLES set nothing is pinned, so
// other settings can be measured.
//
// The exit status is 1 when a benchmark reported an error (SkipWithError: the
// config did not parse, a session answered unexpectedly), so a short run
// serves as a smoke test.
#include <cstdlib>
#include <vector>

#include <benchmark/benchmark.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

void pin_malloc_thresholds() {
#if defined(__GLIBC__)
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  // Setting either one turns glibc's dynamic adjustment off.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
#endif
}

// Passes everything to the reporter --benchmark_format chose, counting errors.
class ErrorCountingReporter final : public benchmark::BenchmarkReporter {
 public:
  // `next` is not owned: CreateDefaultDisplayReporter returns a process-wide one.
  explicit ErrorCountingReporter(benchmark::BenchmarkReporter& next) : next_(&next) {}
  bool ReportContext(const Context& context) override { return next_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) errors_ += run.error_occurred ? 1 : 0;
    next_->ReportRuns(runs);
  }
  void Finalize() override { next_->Finalize(); }
  int errors() const { return errors_; }

 private:
  benchmark::BenchmarkReporter* next_;
  int errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  pin_malloc_thresholds();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ErrorCountingReporter reporter(*benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() == 0 ? 0 : 1;
}
