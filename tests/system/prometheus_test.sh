#!/bin/bash
# Metrics for real: Debian's Prometheus (prometheus.service, the package's own
# unit) scrapes socketd's metrics service (socketd.service), both under a
# private systemd in a private network namespace, on loopback.
#
# Why both as services under the private systemd rather than as plain
# processes: that is how operators run them (Prometheus as its own hardened
# unit and user, socketd as socketd.service with DynamicUser), so the test
# shows the scrape works across those sandboxes; and the private network
# namespace gives Prometheus its default port 9090 without meeting anything on
# the host.
#
# Checked: `promtool check metrics` finds nothing to say about the
# exposition; Prometheus's HTTP API reports the target up, and the counters it
# scraped equal the traffic the test generated (echo connections and bytes);
# after `systemctl reload socketd` the reload is counted and the counters
# kept their values.
#
# Environment: SOCKETD_BUILD_DIR (cmake build dir; the daemon is
# $SOCKETD_BUILD_DIR/daemon/socketd), SOCKETD_SOURCE_DIR (the source tree).
# Exit status: 0 all passed, 1 a check failed, 77 skipped (not root, no
# systemd, or no prometheus: ./dev deps installs it).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
source "$HERE/checks.sh"
T=/root/socketd-test # helper directory inside
ECHO_PORT=7007
METRICS_PORT=9188
API=http://127.0.0.1:9090
CONNECTIONS=5
BYTES=12345 # per connection
DEADLINE=60 # seconds for each wait on Prometheus

IN_NS_TIMEOUT=120

need_private_systemd
if [[ ! -x /usr/bin/prometheus || ! -x /usr/bin/promtool || ! -f /lib/systemd/system/prometheus.service ]]; then
  skip "Debian's prometheus is not installed (./dev deps installs it)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socketd-prometheus-work.XXXXXX")
need_daemon
STATEDIR=$(mktemp -d "${TMPDIR:-/tmp}/socketd-prometheus.XXXXXX")
trap poweroff_private_systemd EXIT
trap 'exit 130' INT TERM HUP

prom() { in_ns python3 "$T/prom.py" "$@"; }

boot_private_systemd

cat >"$WORK/socketd.toml" <<TOML
[services.echo]
mode = "echo"
listen = "127.0.0.1:$ECHO_PORT"

[services.udp]
mode = "udp-log"
listen = "127.0.0.1:8889"

[services.metrics]
mode = "metrics"
listen = "127.0.0.1:$METRICS_PORT"
allow = ["127.0.0.1"]
TOML
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s

scrape_configs:
  - job_name: socketd
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
YAML

install_all() {
  install_socketd &&
    copy_in "$WORK/socketd.toml" /etc/socketd/socketd.toml &&
    copy_in "$WORK/prometheus.yml" /etc/prometheus/prometheus.yml &&
    copy_in "$HERE/socketd" "$T" &&
    in_ns systemctl daemon-reload
}
check "install socketd, socketd.service, a config with a metrics service, prometheus.yml" install_all
check "systemctl start socketd" in_ns systemctl start socketd.service

promtool_clean() {
  prom get "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/exposition" || return 1
  head -n 5 "$WORK/exposition"
  # promtool reads the exposition on stdin; clean = exit 0 and nothing printed.
  local said
  said=$(in_ns promtool check metrics <"$WORK/exposition" 2>&1) || {
    echo "$said"
    return 1
  }
  echo "promtool: ${said:-(nothing to say)}"
  [[ -z $said ]]
}
check "promtool check metrics: the exposition is clean" promtool_clean

check "traffic: $CONNECTIONS echo connections of $BYTES bytes each" \
  prom echo "$ECHO_PORT" "$CONNECTIONS" "$BYTES"

check "systemctl start prometheus (Debian's unit, our prometheus.yml)" \
  in_ns systemctl start prometheus.service
check "Prometheus API /api/v1/targets: job socketd is up" prom wait-up "$API" socketd "$DEADLINE"
TOTAL=$((CONNECTIONS * BYTES))
check "Prometheus API /api/v1/query: socketd_bytes_received_total{service=\"echo\"} = $TOTAL" \
  prom wait-value "$API" "socketd_bytes_received_total{service=\"echo\"}" "$TOTAL" "$DEADLINE"
check "Prometheus API: socketd_bytes_sent_total{service=\"echo\"} = $TOTAL" \
  prom wait-value "$API" "socketd_bytes_sent_total{service=\"echo\"}" "$TOTAL" "$DEADLINE"
check "Prometheus API: socketd_connections_accepted_total{service=\"echo\"} = $CONNECTIONS" \
  prom wait-value "$API" "socketd_connections_accepted_total{service=\"echo\"}" "$CONNECTIONS" "$DEADLINE"
check "Prometheus API: up{job=\"socketd\"} = 1" prom wait-value "$API" 'up{job="socketd"}' 1 "$DEADLINE"

check "systemctl reload socketd" in_ns systemctl reload socketd.service
check "Prometheus API: socketd_reloads_total{result=\"ok\"} = 1" \
  prom wait-value "$API" 'socketd_reloads_total{result="ok"}' 1 "$DEADLINE"
check "Prometheus API: the echo counters kept their values across the reload" \
  prom wait-value "$API" "socketd_bytes_received_total{service=\"echo\"}" "$TOTAL" "$DEADLINE"

check "poweroff" "$HARNESS" poweroff "$STATEDIR"
finish
