// Descriptors handed to a starting socketd by its supervisor: sockets of a
// socket unit (socket activation) and listeners socketd itself put into
// systemd's fd store before it was restarted or crashed. Also the manifest
// that tells the two apart: a memfd in the store listing the inodes of the
// sockets socketd stored.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/fd.hpp"
#include "net/result.hpp"

namespace socketd {

struct InheritedSocket {
  std::string name;  // FileDescriptorName= of the socket unit, or FDNAME= we stored it under
  Fd fd;
  // From our own fd store (listed in the manifest): adopted only where name,
  // type and address still match the config. Otherwise a socket unit's socket,
  // adopted by name (the unit decides the address).
  bool stored = false;
};
using InheritedSockets = std::vector<InheritedSocket>;

// FDNAME= of the manifest; not a valid service name, so it never clashes.
inline constexpr std::string_view kFdStoreManifestName = "socketd.manifest";

// Takes the manifest out of `sockets`, marks the stored sockets it lists, and
// closes duplicates (a socket-unit socket we also stored arrives twice: the
// copy is dropped and the socket counts as the unit's). Problems are appended
// to `problems`.
void sort_out_inherited(InheritedSockets& sockets, std::vector<std::string>& problems);

// A sealed-size memfd listing `inodes` (the manifest to store).
Result<Fd> make_fd_store_manifest(const std::set<uint64_t>& inodes);
// Reads a manifest; trusts nothing: at most 64 KiB, one decimal inode a line
// after the header; anything else yields an empty set.
std::set<uint64_t> read_fd_store_manifest(int fd);

// st_ino of an open socket (0 if fstat fails): unique while it is open.
uint64_t socket_inode(int fd);

}  // namespace socketd
