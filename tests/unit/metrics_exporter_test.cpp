// The exposition as Prometheus reads it (text format 0.0.4): HELP and TYPE
// before each family's samples, label values escaped, the histogram
// cumulative, and exactly the series names the documentation lists.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/turn_histogram.hpp"
#include "server/metrics_exporter.hpp"
#include "server/service_runtime.hpp"

namespace socketd {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

TEST(Exposition, EscapesLabelValuesAndHelp) {
  std::string out;
  Exposition x(out);
  x.family("m", "counter", "a \\ help\nline");
  x.sample("m", {{"a", "q\"uote"}, {"b", "back\\slash"}, {"c", "new\nline"}}, uint64_t{7});
  x.sample("m", {}, 0.5);
  x.sample("m", {{"le", "+Inf"}}, uint64_t{18446744073709551615u});
  EXPECT_EQ(out,
            "# HELP m a \\\\ help\\nline\n"
            "# TYPE m counter\n"
            "m{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\"} 7\n"
            "m 0.5\n"
            "m{le=\"+Inf\"} 18446744073709551615\n");
}

TEST(TurnHistogram, BucketsAreInclusiveUpperBounds) {
  TurnHistogram h;
  h.record(0);
  h.record(10'000);         // le 1e-05
  h.record(10'001);         // le 2.5e-05
  h.record(2'000'000'000);  // +Inf
  EXPECT_EQ(h.counts()[0], 2u);
  EXPECT_EQ(h.counts()[1], 1u);
  EXPECT_EQ(h.counts().back(), 1u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum_ns(), 2'000'020'001u);
}

class MetricsExporterTest : public ::testing::Test {
 protected:
  std::string render() {
    std::string out;
    const MetricsExporter::Service services[] = {
        {"chat", Mode::kChat, &chat},
        {"up", Mode::kStreamUpload, &upload},
        {"udp", Mode::kUdpLog, &udp},
    };
    exporter.render(out, services, turns);
    return out;
  }
  MetricsExporter exporter;
  ServiceStats chat, upload, udp;
  TurnHistogram turns;
};

TEST_F(MetricsExporterTest, EverySeriesTheIssueNames) {
  chat.connections_total = 3;
  chat.open = 1;
  chat.bytes_in = 100;
  chat.listen_overflows = 13;
  chat.bytes_out = 200;
  chat.refused_by[0] = 4;                    // allow_deny
  chat.refused_by[kRefusalFdExhausted] = 5;  // fd_exhausted
  upload.uploads_finished = 2;
  upload.uploads_incomplete = 1;
  upload.uploads_refused = 6;
  upload.upload_bytes = 12345;
  udp.datagrams = 9;
  udp.datagrams_dropped = 8;
  exporter.count_reload(true);
  exporter.count_reload(false);
  exporter.count_reload(false);
  exporter.set_log_drops([] { return uint64_t{11}; }, [] { return uint64_t{12}; });
  exporter.set_version("1.2.\"3\"");
  const std::string out = render();
  for (const char* line : {
           "socketd_connections_accepted_total{service=\"chat\"} 3",
           "socketd_connections_open{service=\"chat\"} 1",
           "socketd_connections_refused_total{service=\"chat\",reason=\"allow_deny\"} 4",
           "socketd_connections_refused_total{service=\"chat\",reason=\"max_connections\"} 0",
           "socketd_connections_refused_total{service=\"chat\",reason=\"max_per_source\"} 0",
           "socketd_connections_refused_total{service=\"chat\",reason=\"rate\"} 0",
           "socketd_connections_refused_total{service=\"chat\",reason=\"proxy\"} 0",
           "socketd_connections_refused_total{service=\"chat\",reason=\"fd_exhausted\"} 5",
           "socketd_bytes_received_total{service=\"chat\"} 100",
           "socketd_bytes_sent_total{service=\"chat\"} 200",
           "socketd_listen_overflows_total{service=\"chat\"} 13",
           "socketd_uploads_total{service=\"up\",outcome=\"finished\"} 2",
           "socketd_uploads_total{service=\"up\",outcome=\"incomplete\"} 1",
           "socketd_uploads_total{service=\"up\",outcome=\"refused\"} 6",
           "socketd_upload_bytes_total{service=\"up\"} 12345",
           "socketd_datagrams_received_total{service=\"udp\"} 9",
           "socketd_datagrams_dropped_total{service=\"udp\"} 8",
           "socketd_log_records_dropped_total{reason=\"rate_limit\"} 11",
           "socketd_log_records_dropped_total{reason=\"not_read\"} 12",
           "socketd_reloads_total{result=\"ok\"} 1",
           "socketd_reloads_total{result=\"failed\"} 2",
           "socketd_build_info{version=\"1.2.\\\"3\\\"\"} 1",
       }) {
    EXPECT_TRUE(has_line(out, line)) << line << "\nin:\n" << out;
  }
  // Series only where they mean something: no datagrams of a TCP service,
  // no bytes of the UDP one, no uploads of chat.
  EXPECT_EQ(out.find("socketd_datagrams_received_total{service=\"chat\"}"), std::string::npos);
  EXPECT_EQ(out.find("socketd_bytes_received_total{service=\"udp\"}"), std::string::npos);
  EXPECT_EQ(out.find("socketd_uploads_total{service=\"chat\""), std::string::npos);
}

TEST_F(MetricsExporterTest, EachFamilyHasHelpAndTypeFirstAndItsSamplesTogether) {
  const std::string out = render();
  const std::set<std::string> expected_families = {"socketd_connections_accepted_total",
                                                   "socketd_connections_open",
                                                   "socketd_connections_refused_total",
                                                   "socketd_bytes_received_total",
                                                   "socketd_bytes_sent_total",
                                                   "socketd_uploads_total",
                                                   "socketd_listen_overflows_total",
                                                   "socketd_upload_bytes_total",
                                                   "socketd_datagrams_received_total",
                                                   "socketd_datagrams_dropped_total",
                                                   "socketd_log_records_dropped_total",
                                                   "socketd_reloads_total",
                                                   "socketd_loop_iteration_seconds",
                                                   "socketd_start_time_seconds",
                                                   "socketd_build_info"};
  std::set<std::string> seen;
  std::string current;
  std::string current_type;
  bool help_pending = false;
  for (const auto& line : lines_of(out)) {
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(current).second) << "family twice: " << current;
      help_pending = true;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      ASSERT_TRUE(help_pending) << line;
      EXPECT_TRUE(line.starts_with("# TYPE " + current + " ")) << line;
      current_type = line.substr(8 + current.size());
      help_pending = false;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (current_type == "histogram") {
      EXPECT_TRUE(name == current + "_bucket" || name == current + "_sum" ||
                  name == current + "_count")
          << line;
    } else {
      EXPECT_EQ(name, current) << line;
    }
    if (current_type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << line;
    }
  }
  EXPECT_EQ(seen, expected_families);
  EXPECT_TRUE(out.ends_with("\n"));
}

TEST_F(MetricsExporterTest, LoopHistogramIsCumulative) {
  turns.record(5'000);          // le 1e-05
  turns.record(300'000);        // le 0.0005
  turns.record(30'000'000);     // le 0.05
  turns.record(5'000'000'000);  // +Inf
  const std::string out = render();
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"1e-05\"} 1"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"0.00025\"} 1"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"0.0005\"} 2"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"0.05\"} 3"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"1\"} 3"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_bucket{le=\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_count 4"));
  EXPECT_TRUE(has_line(out, "socketd_loop_iteration_seconds_sum 5.030305"));
}

}  // namespace
}  // namespace socketd
