// The validated configuration: plain values, every default applied. A Config
// only exists once the whole file has been checked (see config_loader.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/mode_table.hpp"
#include "log/log_level.hpp"
#include "net/access_list.hpp"
#include "net/address.hpp"

namespace socketd {

enum class Framing { kChunk, kLine };

constexpr Transport transport_of(Mode mode) { return mode_info(mode).transport; }
constexpr bool is_upload(Mode mode) { return mode_info(mode).stores_uploads; }
const char* to_string(Mode mode);
const char* to_string(Framing framing);

struct DaemonConfig {
  LogLevel log_level = LogLevel::kInfo;
  uint32_t max_connections = 16384;  // all TCP services together
  // Bytes queued for clients that do not read, all connections together;
  // beyond it the largest queues are cut. 256 MiB: a thousand connections at
  // the per-connection high-water mark; without it 16,384 such clients could
  // make socketd hold ~4.5 GiB.
  uint64_t max_output_bytes = 256u << 20;
  // Where uploads go. Empty in the file means: $STATE_DIRECTORY (set by
  // systemd's StateDirectory=) if present, else "./uploads".
  std::string upload_dir;
  std::chrono::milliseconds drain_timeout{10'000};  // graceful stop
  uint32_t log_rate_limit = 1000;  // records per service per second; 0: unlimited
};

// 4 MiB: at 500,000 datagrams/s of 64 B (about 800 B of kernel memory each)
// about 10 ms of arrivals, enough to ride out a scheduling hiccup.
inline constexpr uint32_t kDefaultReceiveBuffer = 4u << 20;

struct ServiceConfig {
  std::string name;
  Mode mode = Mode::kChat;
  // One listening socket per address (at least one): e.g. the same port on
  // 127.0.0.1 and [::1].
  std::vector<SocketAddress> listen;
  int backlog = 5;
  bool reuse_port = false;  // SO_REUSEPORT: several instances share the address
  uint32_t max_connections = 0;                // 0: only the global limit
  std::chrono::milliseconds idle_timeout{300'000};  // 0: never
  uint32_t max_per_source = 0;       // open connections per client address; 0: unlimited
  uint32_t max_connection_rate = 0;  // new connections per second; 0: unlimited
  std::chrono::milliseconds rate_pause{1000};  // listener pause once the rate is exceeded
  std::vector<Cidr> allow;           // if non-empty, only these (most specific entry wins)
  std::vector<Cidr> deny;
  // PROXY protocol (v1 or v2): each connection starts with a load balancer's
  // header naming the real client, which then counts for logs and limits.
  bool proxy_protocol = false;
  std::chrono::milliseconds proxy_header_timeout{5000};
  std::vector<Cidr> proxy_sources;  // if non-empty, only these may connect (send headers)

  std::string message = "success!";  // banner
  std::string greeting;              // chat: sent on accept, may be empty
  std::string exit_word = "exit";    // chat
  int64_t random_min = 1;            // chat
  int64_t random_max = 1000;         // chat
  Framing framing = Framing::kChunk;  // chat
  uint32_t max_line_bytes = 65536;     // chat, line framing

  std::string ack_word = "success";          // upload
  std::string end_word = "quit";             // upload
  uint64_t max_upload_bytes = 1ull << 30;    // both upload modes, 0: unlimited
  std::chrono::milliseconds upload_timeout{3'600'000};  // both: whole upload; 0: never
  uint64_t min_free_bytes = 64ull << 20;     // both: refuse below this much free disk

  // metrics: the whole request must arrive within request_timeout, and its
  // request line and headers within max_request_bytes (else 431 or 400).
  std::chrono::milliseconds request_timeout{10'000};
  uint32_t max_request_bytes = 8192;

  // udp-log: SO_RCVBUF at least this (bytes; the kernel doubles it for its
  // bookkeeping). 0: leave the kernel's default (net.core.rmem_default).
  uint32_t receive_buffer = kDefaultReceiveBuffer;

  // exec: the handler run for each connection (argv; [0] an absolute path,
  // checked when the file is loaded), extra environment variables (in file
  // order), how many may run at once (0: only the connection limits), how long
  // one may run (0: no limit) and how long after its SIGTERM it gets SIGKILL.
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> environment;
  uint32_t max_instances = 0;
  std::chrono::milliseconds run_timeout{0};
  std::chrono::milliseconds kill_grace{5000};
  // exec as root only: run the handler as this user / group (names as
  // written, and the ids they resolved to when the file was loaded).
  std::string user;
  std::string group;
  int64_t uid = -1;  // -1: not set
  int64_t gid = -1;

  Transport transport() const { return transport_of(mode); }
};

struct Config {
  std::string source;  // path the config came from, for messages
  // The include patterns of the main file, as written, and every file read
  // (the main file first, then the included ones in the order read).
  std::vector<std::string> include;
  std::vector<std::string> files;
  DaemonConfig daemon;
  std::vector<ServiceConfig> services;
};

}  // namespace socketd
