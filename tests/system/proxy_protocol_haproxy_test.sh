#!/bin/bash
# PROXY protocol for real: Debian's HAProxy (haproxy.service) in front of two
# socketd instances (socketd@1, socketd@2), all under a private systemd on
# loopback. HAProxy balances round robin, sending PROXY v1 (send-proxy) to
# instance 1 and v2 (send-proxy-v2) to instance 2. The classic clients,
# bound to 127.0.0.2, talk through the balancer; each instance's journal must
# show that address (SOCKETD_PEER) with HAProxy's as SOCKETD_PROXY, never
# HAProxy's as the peer. A client bypassing the balancer is refused
# (proxy_sources).
#
# Environment: SOCKETD_BUILD_DIR (cmake build dir; the daemon is
# $SOCKETD_BUILD_DIR/daemon/socketd), SOCKETD_SOURCE_DIR (the source tree).
# Exit status: 0 all passed, 1 a check failed, 77 skipped (not root, no
# systemd, or no haproxy: ./dev deps installs it).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
source "$HERE/checks.sh"
T=/root/socketd-test # helper directory inside
CLIENT_SOURCE=127.0.0.2
CHAT_PORT=7889   # HAProxy's frontends
UPLOAD_PORT=7999

need_private_systemd
if [[ ! -x /usr/sbin/haproxy || ! -f /lib/systemd/system/haproxy.service ]]; then
  skip "Debian's haproxy is not installed (./dev deps installs it)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socketd-proxy-work.XXXXXX")
need_daemon
STATEDIR=$(mktemp -d "${TMPDIR:-/tmp}/socketd-proxy.XXXXXX")
trap poweroff_private_systemd EXIT
trap 'exit 130' INT TERM HUP

client() { in_ns env SOCKETD_CLIENT_SOURCE="$CLIENT_SOURCE" python3 "$T/clients.py" "$@"; }
journal() { in_ns journalctl --no-pager "$@"; }

boot_private_systemd

# One config per instance: chat and upload on their own ports, PROXY
# protocol on, only HAProxy (127.0.0.1) may connect.
for i in 1 2; do
  cat >"$WORK/proxy-$i.toml" <<TOML
[services.chat]
mode = "chat"
listen = "127.0.0.1:${i}8889"
greeting = "success!"
proxy_protocol = true
proxy_sources = ["127.0.0.1"]

[services.upload]
mode = "upload"
listen = "127.0.0.1:${i}9999"
proxy_protocol = true
proxy_sources = ["127.0.0.1"]
TOML
done
# Each instance reads its own file instead of the shared socketd.toml.
cat >"$WORK/10-own-config.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=/usr/sbin/socketd --config /etc/socketd/proxy-%i.toml
ExecReload=
ExecReload=/usr/sbin/socketd --signal-reload $MAINPID
UNIT
cat >"$WORK/haproxy.cfg" <<CFG
global
    log /dev/log local0

defaults
    log global
    mode tcp
    option tcplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend chat
    bind 127.0.0.1:$CHAT_PORT
    default_backend chat

backend chat
    balance roundrobin
    server socketd1 127.0.0.1:18889 send-proxy
    server socketd2 127.0.0.1:28889 send-proxy-v2

frontend upload
    bind 127.0.0.1:$UPLOAD_PORT
    default_backend upload

backend upload
    balance roundrobin
    server socketd1 127.0.0.1:19999 send-proxy
    server socketd2 127.0.0.1:29999 send-proxy-v2
CFG
{
  for i in $(seq 1 120); do printf 'line %d through the balancer\twith a tab and ünïcödé\n' "$i"; done
  printf 'no newline at the end'
} >"$WORK/upload.txt"

install_all() {
  copy_in "$DAEMON" /usr/sbin/socketd &&
    copy_in "$SRC/systemd/socketd@.service" /etc/systemd/system/socketd@.service &&
    copy_in "$WORK/10-own-config.conf" /etc/systemd/system/socketd@.service.d/10-own-config.conf &&
    copy_in "$WORK/proxy-1.toml" /etc/socketd/proxy-1.toml &&
    copy_in "$WORK/proxy-2.toml" /etc/socketd/proxy-2.toml &&
    copy_in "$WORK/haproxy.cfg" /etc/haproxy/haproxy.cfg &&
    copy_in "$HERE/socketd" "$T" &&
    copy_in "$WORK/upload.txt" "$T/upload.txt" &&
    in_ns systemctl daemon-reload
}
check "install socketd, socketd@.service with a per-instance config, haproxy.cfg" install_all
check "systemctl start socketd@1 socketd@2" in_ns systemctl start socketd@1.service socketd@2.service
check "systemctl restart haproxy (Debian's unit, our haproxy.cfg)" in_ns systemctl restart haproxy.service
check "haproxy.service is active" test "$(in_ns systemctl is-active haproxy.service)" = active

# Round robin: two connections per backend reach both instances.
declare -a ORIGINS=()
through() { # through DESCRIPTION CLIENT-ARGS...: runs a client, remembers its address
  local desc=$1
  shift
  if client "$@" >"$WORK/out" 2>&1; then
    pass "$desc: $(tail -n1 "$WORK/out")"
    ORIGINS+=("$(sed -n 's/.* from \([0-9.]*:[0-9]*\)$/\1/p' "$WORK/out" | tail -n1)")
  else
    fail "$desc"
    show_output
  fi
}
for n in 1 2; do
  through "chat client #$n through HAProxy: greeting, echo+digits, exit" \
    interactive "$CHAT_PORT" 'success!' 'hello through the balancer' 'and again'
done
for n in 1 2; do
  through "file sender #$n through HAProxy: every line acked, durable ack" \
    send-file "$UPLOAD_PORT" "$T/upload.txt"
done

uploads_identical() {
  local i f count=0
  for i in 1 2; do
    for f in $(in_ns find "/var/lib/socketd/$i/" -maxdepth 1 -type f -name 'upload-*' ! -name '*.incomplete'); do
      in_ns cmp "$T/upload.txt" "$f" || return 1
      count=$((count + 1))
      echo "$f identical"
    done
  done
  ((count == 2))
}
check "both uploads finished and are byte-identical to the sent file" uploads_identical
one_upload_each() {
  local i n
  for i in 1 2; do
    n=$(in_ns find "/var/lib/socketd/$i/" -maxdepth 1 -type f -name 'upload-*' ! -name '*.incomplete' | wc -l)
    echo "socketd@$i: $n finished upload(s)"
    ((n == 1)) || return 1
  done
}
check "round robin: one upload landed on each instance" one_upload_each

# The journal: every client address is 127.0.0.2:PORT, on exactly one
# instance, with HAProxy's 127.0.0.1:* as SOCKETD_PROXY.
peer_logged_once() { # peer_logged_once ADDR:PORT
  local i hits=0 out
  for i in 1 2; do
    out=$(journal -u "socketd@$i.service" SOCKETD_PEER="$1" -o export)
    echo "socketd@$i:"
    grep -E '^(MESSAGE|SOCKETD_PEER|SOCKETD_PROXY)=' <<<"$out"
    if grep -q "^MESSAGE=.*$1 connected via 127\.0\.0\.1:" <<<"$out"; then
      grep -q '^SOCKETD_PROXY=127\.0\.0\.1:[0-9]*$' <<<"$out" || return 1
      hits=$((hits + 1))
    fi
  done
  ((hits == 1))
}
for origin in "${ORIGINS[@]}"; do
  if [[ -z $origin ]]; then
    fail "a client printed its address"
    continue
  fi
  check "journal: SOCKETD_PEER=$origin (the original client) on one instance, SOCKETD_PROXY=127.0.0.1:*" \
    eventually 10 peer_logged_once "$origin"
done
both_instances_served() {
  local i n
  for i in 1 2; do
    n=$(journal -u "socketd@$i.service" -o cat | grep -c "^[a-z]*: $CLIENT_SOURCE:[0-9]* connected via 127\.0\.0\.1:")
    echo "socketd@$i: $n connections from $CLIENT_SOURCE"
    ((n == 2)) || return 1
  done
}
check "both instances (v1 on socketd@1, v2 on socketd@2) served two clients from $CLIENT_SOURCE" \
  both_instances_served
no_proxy_as_peer() {
  local i
  for i in 1 2; do
    if journal -u "socketd@$i.service" -o cat | grep -E '^[a-z]*: 127\.0\.0\.1:[0-9]* (connected|closed)'; then
      return 1
    fi
  done
}
check "journal: HAProxy's address never appears as a connection's peer" no_proxy_as_peer

# Bypassing the balancer: the peer is not in proxy_sources.
check "a client from $CLIENT_SOURCE connecting to socketd@1 directly is closed without a greeting" \
  client closed 18889
refusal_logged() {
  journal -u socketd@1.service SOCKETD_LIMIT=proxy_sources -o cat | grep "$CLIENT_SOURCE:[0-9]* denied: not in proxy_sources"
}
check "journal: the direct client was denied by proxy_sources" eventually 10 refusal_logged

check "poweroff" "$HARNESS" poweroff "$STATEDIR"
finish
