#include "server/inherited.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <map>

namespace socketd {
namespace {
constexpr std::string_view kManifestHeader = "socketd fd store manifest 1\n";
constexpr size_t kManifestMax = 64 * 1024;
}  // namespace

uint64_t socket_inode(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

Result<Fd> make_fd_store_manifest(const std::set<uint64_t>& inodes) {
  Fd fd(::memfd_create("socketd-fdstore-manifest", MFD_CLOEXEC));
  if (!fd) return errno_code();
  std::string text(kManifestHeader);
  for (uint64_t ino : inodes) text += std::to_string(ino) + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_code();
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

std::set<uint64_t> read_fd_store_manifest(int fd) {
  std::string text(kManifestMax + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  std::set<uint64_t> inodes;
  if (got > kManifestMax || !std::string_view(text).starts_with(kManifestHeader)) return {};
  std::string_view rest = std::string_view(text).substr(kManifestHeader.size());
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    if (eol == std::string_view::npos || eol == 0) return {};
    uint64_t ino = 0;
    const auto line = rest.substr(0, eol);
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), ino);
    if (ec != std::errc() || end != line.data() + line.size()) return {};
    inodes.insert(ino);
    rest.remove_prefix(eol + 1);
  }
  return inodes;
}

void sort_out_inherited(InheritedSockets& sockets, std::vector<std::string>& problems) {
  std::set<uint64_t> stored;
  for (auto it = sockets.begin(); it != sockets.end();) {
    if (it->name == kFdStoreManifestName) {
      stored = read_fd_store_manifest(it->fd.get());
      it = sockets.erase(it);
    } else {
      ++it;
    }
  }
  std::map<uint64_t, size_t> seen;  // inode -> index of its first appearance
  for (size_t i = 0; i < sockets.size();) {
    const uint64_t ino = socket_inode(sockets[i].fd.get());
    if (auto it = seen.find(ino); ino != 0 && it != seen.end()) {
      // systemd passes socket-unit sockets before the fd store's: the first
      // is the unit's, which keeps the socket whatever we do.
      if (sockets[it->second].name != sockets[i].name) {
        problems.push_back("inherited socket '" + sockets[i].name + "' is also passed as '" +
                           sockets[it->second].name + "'; using it as '" +
                           sockets[it->second].name + "'");
      }
      sockets[it->second].stored = false;
      sockets.erase(sockets.begin() + static_cast<ptrdiff_t>(i));
      continue;
    }
    seen.emplace(ino, i);
    sockets[i].stored = ino != 0 && stored.count(ino) != 0;
    ++i;
  }
}

}  // namespace socketd
