#!/bin/bash
# socketd under a real systemd while journald is frozen (kill -STOP): the
# journal socket fills up and sd_journal_sendv blocks. The log thread may
# block; the reactor must not. socketd keeps serving chat round trips through
# a flood of log records (UDP datagrams + connects, log_rate_limit = 0) and
# keeps feeding the watchdog (WatchdogSec=3s) for more than two periods:
# same MainPID, NRestarts=0. After kill -CONT, the records dropped meanwhile
# are reported in one record, MESSAGE_ID of kLogDropped, with SOCKETD_DROPPED.
#
# Boots a private systemd (tests/system/private-systemd), installs the built
# daemon with systemd/socketd.service as socketd_systemd_test.sh does.
# Environment: SOCKETD_BUILD_DIR, SOCKETD_SOURCE_DIR. Exit status: 0 all
# passed, 1 a check failed, 77 skipped (not root, or no systemd here).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
source "$HERE/checks.sh"
T=/root/socketd-test # helper directory inside
CONF=/etc/socketd/socketd.toml
# Journal MESSAGE_ID of LogEvent::kLogDropped (daemon/systemd_glue.cpp).
ID_LOG_DROPPED=8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0c
WATCHDOG_SEC=3
STOPPED_SECONDS=8 # > 2 watchdog periods with journald stopped
DATAGRAMS=30000
CONNECTS=3000

IN_NS_TIMEOUT=120

need_private_systemd

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socketd-journald-work.XXXXXX")
need_daemon

STATEDIR=$(mktemp -d "${TMPDIR:-/tmp}/socketd-journald.XXXXXX")
JOURNALD_PID=
cleanup() {
  # Never leave journald stopped, even on a failed check.
  if [[ -n $JOURNALD_PID ]]; then in_ns kill -CONT "$JOURNALD_PID" >/dev/null 2>&1 || true; fi
  poweroff_private_systemd
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

prop() { in_ns systemctl show -p "$1" --value "${2:-socketd.service}"; }
main_pid() { prop MainPID; }
is_active() { [[ $(in_ns systemctl is-active "${1:-socketd.service}") == active ]]; }
proc_state() { in_ns sh -c "sed 's/.*) //' /proc/$1/stat | cut -d' ' -f1"; }
probe() { in_ns python3 "$T/flood.py" probe 8889; }

# The load, run inside the namespace: a UDP burst and a connect storm
# (greeting + one round trip each), and a single round trip as the probe.
cat >"$WORK/flood.py" <<'EOF'
import socket, sys, time

TIMEOUT = 5.0

def round_trip(port, msg):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        want = b"success!"
        got = b""
        while len(got) < len(want):
            chunk = s.recv(1024)
            if not chunk:
                raise OSError("closed before the greeting (got %r)" % got)
            got += chunk
        if got != want:
            raise OSError("greeting %r" % got)
        s.sendall(msg)
        want = msg + b"777"
        got = b""
        while len(got) < len(want):
            chunk = s.recv(1024)
            if not chunk:
                raise OSError("closed before the reply (got %r)" % got)
            got += chunk
        if got != want:
            raise OSError("reply %r, expected %r" % (got, want))

def main(argv):
    if argv[1] == "probe":
        round_trip(int(argv[2]), b"probe")
        print("probe: round trip ok")
        return 0
    if argv[1] == "probe-for":
        # A round trip on a new connection every 100 ms for SECONDS.
        port, seconds = int(argv[2]), float(argv[3])
        end = time.monotonic() + seconds
        n, worst = 0, 0.0
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                round_trip(port, b"probe %d" % n)
            except OSError as e:
                print("probe: round trip %d failed after %.1f s: %s" % (n, time.monotonic() - t0, e))
                return 1
            worst = max(worst, time.monotonic() - t0)
            n += 1
            time.sleep(0.1)
        print("probe: %d round trips in %.0f s, slowest %.1f ms" % (n, seconds, worst * 1000))
        return 0
    udp_port, chat_port, datagrams, connects = (int(a) for a in argv[2:6])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(datagrams):
        u.sendto(b"flood %d" % i, ("127.0.0.1", udp_port))
    for i in range(connects):
        try:
            round_trip(chat_port, b"storm %d" % i)
        except OSError as e:
            print("flood: connect %d failed: %s" % (i, e))
            return 1
    print("flood: %d datagrams sent, %d connects served" % (datagrams, connects))
    return 0

sys.exit(main(sys.argv))
EOF

# Every record goes to the journal: no per-service limit, so the flood is a
# flood of records.
cat >"$WORK/socketd.toml" <<'EOF'
[daemon]
log_rate_limit = 0
drain_timeout = "2s"

[services.chat]
mode = "chat"
listen = "127.0.0.1:8889"
greeting = "success!"
random_min = 777
random_max = 777
backlog = 1024

[services.udp]
mode = "udp-log"
listen = "127.0.0.1:8889"
EOF

# A short watchdog, so the test outlasts two periods in seconds; journald's
# own rate limit off for this unit, so what arrives after kill -CONT is what
# socketd sent (journald would otherwise suppress the tail of the flood, and
# with it possibly the summary this test looks for).
printf '[Service]\nWatchdogSec=%ss\nLogRateLimitIntervalSec=0\n' "$WATCHDOG_SEC" \
  >"$WORK/50-test-journald-stopped.conf"

# ---------------------------------------------------------------- boot --
boot_private_systemd

install_all() {
  install_socketd &&
    copy_in "$WORK/50-test-journald-stopped.conf" \
      /etc/systemd/system/socketd.service.d/50-test-journald-stopped.conf &&
    copy_in "$WORK/socketd.toml" "$CONF" &&
    copy_in "$WORK/flood.py" "$T/flood.py" &&
    in_ns systemctl daemon-reload
}
check "install /usr/sbin/socketd, socketd.service + drop-in (WatchdogSec=${WATCHDOG_SEC}s), $CONF" \
  install_all
check "systemctl start socketd" in_ns systemctl start socketd.service
check "WatchdogUSec = ${WATCHDOG_SEC}s" test "$(prop WatchdogUSec)" = "${WATCHDOG_SEC}s"
PID=$(main_pid)
check "socketd runs as MainPID ($PID)" test "${PID:-0}" -gt 0
check "a chat round trip on 8889 before the flood" probe

# ------------------------------------------------------- stop journald --
echo "---- journald stopped, flood of log records"
JOURNALD_PID=$(prop MainPID systemd-journald.service)
stop_journald() {
  [[ ${JOURNALD_PID:-0} -gt 0 ]] && in_ns kill -STOP "$JOURNALD_PID" &&
    eventually 5 test "$(proc_state "$JOURNALD_PID")" = T
}
check "kill -STOP systemd-journald (PID $JOURNALD_PID inside)" stop_journald

t_start=$SECONDS
in_ns python3 "$T/flood.py" flood 8889 8889 "$DATAGRAMS" "$CONNECTS" >"$WORK/flood.out" 2>&1 &
FLOOD_PID=$!
in_ns python3 "$T/flood.py" probe-for 8889 "$STOPPED_SECONDS" >"$WORK/probe.out" 2>&1 &
PROBE_PID=$!

# Not a synchronisation: surviving this long is what is tested. Meanwhile the
# probe does its round trips and the watchdog must not fire.
pid_changed=0
while ((SECONDS < t_start + STOPPED_SECONDS)); do
  [[ $(main_pid) == "$PID" ]] || pid_changed=1
  sleep 0.5
done
check "flood: $DATAGRAMS datagrams and $CONNECTS connects with a round trip each, all served" \
  wait "$FLOOD_PID"
sed -e 's/^/    | /' "$WORK/flood.out"
check "chat round trips every 100 ms for ${STOPPED_SECONDS} s with journald stopped" \
  wait "$PROBE_PID"
sed -e 's/^/    | /' "$WORK/probe.out"
check "journald was stopped for $((SECONDS - t_start)) s (> 2 x WatchdogSec=${WATCHDOG_SEC}s)" \
  test $((SECONDS - t_start)) -gt $((2 * WATCHDOG_SEC))
check "journald is still stopped (state T)" test "$(proc_state "$JOURNALD_PID")" = T
# The log thread, not the reactor, sits in sendmsg(2) (syscall 46) on the
# journal socket: the flood really met a blocked log.
log_thread_blocked() {
  in_ns sh -c "cat /proc/$PID/task/*/syscall" | tee "$WORK/syscalls" | grep -q '^46 '
}
# Polled: under load the log thread may be between two records when first looked at.
check "a socketd thread is blocked in sendmsg to the journal" eventually 10 log_thread_blocked
check "same MainPID throughout ($PID)" test "$pid_changed" = 0 -a "$(main_pid)" = "$PID"
check "NRestarts = 0 (not killed by the ${WATCHDOG_SEC}s watchdog)" test "$(prop NRestarts)" = 0
check "socketd is active" is_active socketd.service

# ------------------------------------------------------- continue journald --
echo "---- journald continued"
check "kill -CONT systemd-journald" in_ns kill -CONT "$JOURNALD_PID"
JOURNALD_PID=
dropped_record() {
  in_ns journalctl --no-pager -u socketd.service MESSAGE_ID=$ID_LOG_DROPPED -o export \
    >"$WORK/dropped.export" &&
    grep -q '^MESSAGE=socketd: [0-9]* log records dropped: the log was not being read' \
      "$WORK/dropped.export"
}
check "the drop summary (MESSAGE_ID=$ID_LOG_DROPPED) is in journalctl -u socketd" \
  eventually 30 dropped_record
DROPPED=$(sed -n 's/^SOCKETD_DROPPED=//p' "$WORK/dropped.export" | awk '{ n += $1 } END { print n + 0 }')
SUMMARIES=$(grep -c '^SOCKETD_DROPPED=' "$WORK/dropped.export")
check "SOCKETD_DROPPED = ${DROPPED:-none} in $SUMMARIES summary record(s), > 0" \
  test "${DROPPED:-0}" -gt 0
in_ns journalctl --no-pager -u socketd.service MESSAGE_ID=$ID_LOG_DROPPED -o cat | sed -e 's/^/    | /'
check "a chat round trip after journald continued" probe
check "systemctl stop socketd" in_ns systemctl stop socketd.service
check "stopped cleanly (Result=success, status 0)" \
  test "$(prop Result)" = success -a "$(prop ExecMainStatus)" = 0
check "NRestarts = 0 at the end" test "$(prop NRestarts)" = 0

counts_ok
