#include "app/reload_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "net/fd.hpp"

namespace socketd {

namespace {
constexpr std::string_view kOk = "ok ";
constexpr std::string_view kFailed = "failed ";
}  // namespace

std::string format_reload_report(const ReloadReport& report) {
  std::string text = std::to_string(report.generation);
  text += ' ';
  text += report.ok ? kOk : kFailed;
  text += report.message;
  text += '\n';
  return text;
}

ReloadReport parse_reload_report(std::string_view text) {
  ReloadReport report;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), report.generation);
  if (ec != std::errc() || end == text.data() + text.size() || *end != ' ') return {};
  text.remove_prefix(static_cast<size_t>(end - text.data()) + 1);
  if (text.starts_with(kOk)) {
    report.ok = true;
    text.remove_prefix(kOk.size());
  } else if (text.starts_with(kFailed)) {
    text.remove_prefix(kFailed.size());
  } else {
    return {};
  }
  if (text.ends_with('\n')) text.remove_suffix(1);
  report.message = std::string(text);
  return report;
}

std::error_code write_reload_report(const std::string& path, const ReloadReport& report) {
  const std::string tmp = path + ".tmp";
  const std::string text = format_reload_report(report);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return {errno, std::generic_category()};
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {n < 0 ? errno : EIO, std::generic_category()};
    done += static_cast<size_t>(n);
  }
  fd.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return {errno, std::generic_category()};
  return {};
}

ReloadReport read_reload_report(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return {};
  return parse_reload_report(std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace socketd
