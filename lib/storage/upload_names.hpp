// The names of upload files: the server-chosen name, the hidden ".NAME.part"
// a file has while it is written, and the "NAME.incomplete" of an abandoned one.
#pragma once

#include <string>
#include <string_view>

namespace socketd {

// A fresh server-chosen name: sortable by time, unguessable. Thread-safe.
std::string new_upload_name();
// The hidden name an upload has while it is written.
std::string part_name(const std::string& name);
inline constexpr std::string_view kPartSuffix = ".part";
inline constexpr std::string_view kIncompleteSuffix = ".incomplete";

}  // namespace socketd
