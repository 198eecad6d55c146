#include "storage/upload_names.hpp"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace socketd {

std::string part_name(const std::string& name) {
  return "." + name + std::string(kPartSuffix);
}

// "upload-20261125T144553Z-9f86d081884c7d65": sortable by time, unguessable.
// getrandom() rather than a shared engine: I/O threads call this too.
std::string new_upload_name() {
  uint64_t random = 0;
  if (::getrandom(&random, sizeof random, 0) != sizeof random) {
    random = static_cast<uint64_t>(::time(nullptr)) * 0x9e3779b97f4a7c15ull ^
             reinterpret_cast<uintptr_t>(&random);
  }
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "upload-%04d%02d%02dT%02d%02d%02dZ-%016llx", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned long long>(random));
  return buf;
}

}  // namespace socketd
