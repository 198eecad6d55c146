// The keys of mode "exec" that need more than a typed reader: the handler's
// command line (checked against the file system when the file is loaded), its
// environment table, and the user and group it runs as.
#pragma once

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace socketd::config_internal {

// command = ["/absolute/path", "arg", ...]: the path must name an executable
// regular file now (errors point at the element).
bool set_command(Diagnostics& diag, const Field& field, ServiceConfig& service);
// environment = { NAME = "value", ... }: names [A-Za-z_][A-Za-z0-9_]*, none of
// the variables socketd sets itself (PROTO, TCP*, SOCKETD_SERVICE).
bool set_environment(Diagnostics& diag, const Field& field, ServiceConfig& service);
// user = "name" / group = "name": only when socketd runs as root; resolved now.
bool set_user(Diagnostics& diag, const Field& field, ServiceConfig& service);
bool set_group(Diagnostics& diag, const Field& field, ServiceConfig& service);

}  // namespace socketd::config_internal
