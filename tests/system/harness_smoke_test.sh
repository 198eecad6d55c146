#!/bin/bash
# Smoke test of tests/system/private-systemd: boots a real systemd in private
# namespaces on a throw-away overlay of /, runs a Type=notify service in it,
# reads its journal, reloads it, installs a .deb, checks that nothing leaks to
# the host, and powers off. Needs root. Exit status: 0 all passed, 1 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
HARNESS="$HERE/private-systemd"
UNIT=harness-smoke.service
PKG=private-systemd-smoke-pkg

source "$HERE/checks.sh"

if [[ $(id -u) != 0 ]]; then
  echo "FAIL: must run as root (boots systemd in namespaces)"
  failed=1
  finish || exit 1
fi

STATEDIR=$(mktemp -d "${TMPDIR:-/tmp}/private-systemd-smoke.XXXXXX")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/private-systemd-smoke-work.XXXXXX")
# Marker in the HOST's /tmp: systemd empties /tmp at boot, this must survive.
HOST_MARKER=/tmp/private-systemd-host-marker.$$
ETC_PROBE=/etc/private-systemd-smoke-probe.$$
echo "host marker" >"$HOST_MARKER"

cleanup() {
  "$HARNESS" poweroff "$STATEDIR" >/dev/null 2>&1 || true
  rm -f "$HOST_MARKER"
  rm -rf "$WORK" "$STATEDIR"
}
trap cleanup EXIT

in_ns() { "$HARNESS" exec "$STATEDIR" "$@"; }

# ---- boot
boot_start=$SECONDS
if ! "$HARNESS" boot "$STATEDIR"; then
  fail "boot"
  finish || exit 1
fi
pass "boot ($((SECONDS - boot_start))s)"
SD_PID=$(<"$STATEDIR/pid")
SD_PIDNS=$(<"$STATEDIR/pidns")
SD_CGROUP=$(<"$STATEDIR/cgroup")

check "systemd is PID 1 inside" test "$(in_ns cat /proc/1/comm)" = systemd
check "host /tmp marker survived boot" test -f "$HOST_MARKER"
check "/tmp inside is private" in_ns test ! -e "$HOST_MARKER"

# ---- a Type=notify service that logs via stdout and logger, reloads on HUP
cat >"$WORK/$UNIT" <<'EOF'
[Unit]
Description=private-systemd harness smoke service

[Service]
Type=notify
# systemd-notify is a child of the main process, hence NotifyAccess=all.
NotifyAccess=all
TimeoutStartSec=30
ExecStart=/bin/bash -c 'trap "echo harness-smoke reloaded" HUP; systemd-notify --ready; i=0; while :; do echo "harness-smoke tick $i"; logger -t harness-smoke-logger "logger tick $i"; i=$((i+1)); sleep 0.5 & wait $!; done'
ExecReload=/bin/kill -HUP $MAINPID
EOF
"$HARNESS" copy-in "$STATEDIR" "$WORK/$UNIT" "/etc/systemd/system/$UNIT"
check "unit file installed inside" in_ns test -f "/etc/systemd/system/$UNIT"
check "unit file not on the host" test ! -e "/etc/systemd/system/$UNIT"
check "systemctl daemon-reload" in_ns systemctl daemon-reload
check "systemctl start $UNIT" in_ns systemctl start "$UNIT"
check "systemctl is-active $UNIT" test "$(in_ns systemctl is-active "$UNIT")" = active

unit_journal_has() { in_ns journalctl --no-pager -u "$UNIT" | grep -q -- "$1"; }
tagged_journal_has() { in_ns journalctl --no-pager -t harness-smoke-logger | grep -q -- "$1"; }
check "journalctl -u shows the service's output" eventually 15 unit_journal_has "harness-smoke tick 1"
check "journalctl -u shows systemd's 'Started' line" eventually 15 unit_journal_has "Started $UNIT"
check "journal has the service's logger lines" eventually 15 tagged_journal_has "logger tick 1"
check "systemctl reload $UNIT" in_ns systemctl reload "$UNIT"
check "reload reached the service" eventually 15 unit_journal_has "harness-smoke reloaded"

# ---- writes stay inside the overlay
in_ns sh -c "echo probe > $ETC_PROBE"
check "file written in /etc inside is there" in_ns test -f "$ETC_PROBE"
check "file written in /etc inside is NOT on the host" test ! -e "$ETC_PROBE"

# ---- dpkg -i of a tiny package, inside only
mkdir -p "$WORK/pkg/DEBIAN" "$WORK/pkg/usr/share/$PKG"
echo hello >"$WORK/pkg/usr/share/$PKG/hello"
cat >"$WORK/pkg/DEBIAN/control" <<EOF
Package: $PKG
Version: 1.0
Architecture: all
Maintainer: socketd tests <tests@invalid>
Description: throw-away package of the private-systemd smoke test
EOF
dpkg-deb --build --root-owner-group "$WORK/pkg" "$WORK/$PKG.deb" >/dev/null
"$HARNESS" copy-in "$STATEDIR" "$WORK/$PKG.deb" /root/
check "dpkg -i inside" in_ns dpkg -i "/root/$PKG.deb"
check "package installed inside" in_ns dpkg -s "$PKG"
check "package NOT installed on the host" eval "! dpkg -s $PKG >/dev/null 2>&1"

# ---- poweroff, and nothing of it may remain
check "poweroff" "$HARNESS" poweroff "$STATEDIR"
check "namespaced systemd (host PID $SD_PID) is gone" eval "! kill -0 $SD_PID 2>/dev/null || grep -q '^State:.*Z' /proc/$SD_PID/status"
leftover() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$SD_PIDNS" ]] && return 0
  done
  return 1
}
check "no process left in the harness's pid namespace" eval "! leftover"
check "harness cgroup removed" test ! -d "$SD_CGROUP"
check "no stray state files" test ! -e "$STATEDIR/pid"
check "host /tmp marker survived poweroff" test -f "$HOST_MARKER"
check "host /etc untouched" test ! -e "$ETC_PROBE"

finish
