#!/bin/bash
# socketd under a real systemd, the way users meet it: `systemctl start`,
# `status`, `reload`, `stop`, the watchdog, socket activation, `journalctl`.
#
# Boots a private systemd (tests/system/private-systemd), installs the built
# daemon as /usr/sbin/socketd with systemd/socketd.service, socketd.socket and
# config/socketd.toml, and drives it with the classic clients
# (tests/system/socketd/clients.py, run inside the namespace).
#
# Environment: SOCKETD_BUILD_DIR (cmake build dir; the daemon is
# $SOCKETD_BUILD_DIR/daemon/socketd), SOCKETD_SOURCE_DIR (the source tree).
# Exit status: 0 all passed, 1 a check failed, 77 skipped (not root, or no
# systemd on this host).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
source "$HERE/checks.sh"
T=/root/socketd-test # helper directory inside
CONF=/etc/socketd/socketd.toml
CLIENTS=(python3 "$T/clients.py")
# Journal MESSAGE_IDs (daemon/systemd_glue.cpp).
ID_RELOADED=8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c02
ID_STOPPING=8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c0a

TEST_START=$SECONDS
declare -a TIMINGS=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }
timing() { TIMINGS+=("$1: $2 ms"); }
finish() {
  echo "---- timings"
  local t
  for t in "${TIMINGS[@]}"; do echo "  $t"; done
  echo "  total: $((SECONDS - TEST_START)) s"
  counts_ok
}

need_private_systemd

# ---- step 9 first: it needs no boot.
exposure_ok() {
  local out level
  out=$(systemd-analyze security --offline=true --no-pager "$SRC/systemd/socketd.service" 2>&1) || {
    echo "$out"
    return 1
  }
  level=$(sed -n 's/.*Overall exposure level for socketd.service: \([0-9.]*\).*/\1/p' <<<"$out")
  echo "exposure level: ${level:-none found}"
  [[ -n $level ]] && awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }'
}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/socketd-systemd-work.XXXXXX")
if exposure_ok >"$WORK/out" 2>&1; then
  pass "systemd-analyze security --offline: $(tail -n1 "$WORK/out") (<= 1.5)"
else
  fail "systemd-analyze security --offline: exposure <= 1.5"
  show_output
fi

need_daemon

STATEDIR=$(mktemp -d "${TMPDIR:-/tmp}/socketd-systemd.XXXXXX")
HOLD_PID=
cleanup() {
  if [[ -n $HOLD_PID ]]; then kill "$HOLD_PID" 2>/dev/null || true; fi
  poweroff_private_systemd
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

client() { in_ns "${CLIENTS[@]}" "$@"; }
prop() { in_ns systemctl show -p "$1" --value "${2:-socketd.service}"; }
main_pid() { prop MainPID; }
unit_state() { in_ns systemctl is-active "$1"; }
is_active() { [[ $(unit_state "$1") == active ]]; }
journal() { in_ns journalctl --no-pager "$@"; }
unit_journal_has() { journal -u socketd.service -o cat | grep -q -- "$1"; }
status_text() { prop StatusText; }
# "N total connections" / "N datagrams" / "N finished" from the STATUS= text.
journal_has_record() { # journal_has_record MESSAGE_ID TEXT [MATCH...]
  local id=$1 text=$2
  shift 2
  journal -u socketd.service MESSAGE_ID="$id" "$@" -o cat | grep -q -- "$text"
}
status_number() { status_text | sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p"; }

# ---------------------------------------------------------------- boot --
t0=$(now_ms)
boot_private_systemd
timing "boot" $(($(now_ms) - t0))

# The file the file sender uploads: many short lines, empty lines, tabs,
# UTF-8, a long line, and no newline at the very end.
{
  for i in $(seq 1 200); do
    printf 'line %d of the upload\twith a tab, ünïcödé and "quotes"\n' "$i"
    if ((i % 50 == 0)); then printf '\n'; fi
  done
  head -c 900 /dev/zero | tr '\0' x
  printf '\nthe last line has no newline'
} >"$WORK/upload.txt"

install_all() {
  install_socketd &&
    copy_in "$SRC/config/socketd.toml" "$CONF" &&
    copy_in "$HERE/socketd" "$T" &&
    copy_in "$WORK/upload.txt" "$T/upload.txt" &&
    in_ns systemctl daemon-reload
}
check "install /usr/sbin/socketd, socketd.service, $CONF; daemon-reload" install_all

# ------------------------------------------- 1. start and classic clients --
echo "---- 1. systemctl start, the classic clients"
t0=$(now_ms)
check "systemctl start socketd (Type=notify: returns after READY=1)" in_ns systemctl start socketd.service
timing "systemctl start socketd" $(($(now_ms) - t0))
check "systemctl is-active socketd = active" is_active socketd.service
PID1=$(main_pid)
check "socketd runs as MainPID ($PID1)" test "${PID1:-0}" -gt 0
STATUS0_TOTAL=$(status_number "total connections")
STATUS0_TOTAL=${STATUS0_TOTAL:-0}

check "interactive client on TCP 8889: greeting 'success!', echo+digits, exit closes" \
  client interactive 8889 'success!' 'hello socketd' 'second message' '12345'
check "hello client on TCP 8888: greeting 'hello', echo+digits, exit closes" \
  client interactive 8888 hello 'hi from the threaded client'
UDP_PAYLOADS=('hello over udp' 'a second datagram' 'exit')
check "UDP client on 8889 sends its datagrams" client udp 8889 "${UDP_PAYLOADS[@]}"

upload_files() { in_ns find /var/lib/socketd/ -maxdepth 1 -type f -name 'upload-*' ! -name '*.incomplete' -printf '%f\n' | sort; }
before=$(upload_files)
check "file sender on TCP 9999: every line acked 'success', durable ack after 'quit'" \
  client send-file 9999 "$T/upload.txt"
new_upload=$(comm -13 <(echo "$before") <(upload_files))
check "exactly one new finished upload in /var/lib/socketd ('$new_upload')" \
  test -n "$new_upload" -a "$(wc -l <<<"$new_upload")" = 1
check "the upload is byte-identical to the sent file" \
  in_ns cmp "$T/upload.txt" "/var/lib/socketd/$new_upload"
check "StateDirectory with DynamicUser: /var/lib/socketd -> private/socketd" \
  test "$(in_ns readlink /var/lib/socketd)" = private/socketd

# ---------------------------------------------------- 2. systemctl status --
echo "---- 2. systemctl status"
status_shows_counts() { in_ns systemctl status --no-pager --lines=0 socketd.service | grep -E 'Status: ".*[0-9]+ open, [0-9]+ total connections'; }
check "systemctl status shows the STATUS= line (open, total connections)" status_shows_counts
# 3 TCP connections and 3 datagrams since the first STATUS=; refreshed every 5 s.
status_refreshed() {
  local total datagrams finished
  total=$(status_number "total connections")
  datagrams=$(status_number datagrams)
  finished=$(status_number finished)
  echo "status: $(status_text)"
  ((${total:-0} >= STATUS0_TOTAL + 3 && ${datagrams:-0} >= 3 && ${finished:-0} >= 1))
}
t0=$(now_ms)
check "STATUS= refreshed after traffic (>= $((STATUS0_TOTAL + 3)) total connections, 3 datagrams, 1 upload; within 15 s)" \
  eventually 15 status_refreshed
timing "STATUS= refresh seen" $(($(now_ms) - t0))

# ------------------------------------------------------------ 3. journal --
echo "---- 3. journalctl"
# Control characters, a backslash, a newline followed by a forged record,
# UTF-8 (kept) and an invalid byte (escaped).
EVIL='evil\nudp: datagram from 6.6.6.6:1 (6 bytes): forged\x01\x7f\\ \tend \xc3\xbc \xff'
check "UDP client sends a datagram with control characters and a newline" client udp 8889 "$EVIL"
ALL_UDP=("${UDP_PAYLOADS[@]}" "$EVIL")
udp_json() { journal -u socketd.service SOCKETD_SERVICE=udp -o json; }
udp_count_reached() { (($(udp_json | python3 "$HERE/socketd/check_udp_journal.py" --count-only) >= ${#ALL_UDP[@]})); }
eventually 10 udp_count_reached
udp_journal_exact() { udp_json | python3 "$HERE/socketd/check_udp_journal.py" "${ALL_UDP[@]}"; }
check "journal: one record per datagram, in order, MESSAGE_ID, SOCKETD_PEER, SOCKETD_BYTES, escaped payload" \
  udp_journal_exact
udp_cat_exact() {
  local out
  out=$(journal -u socketd.service SOCKETD_SERVICE=udp -o cat)
  echo "$out"
  # exactly one line per datagram, each a datagram record from loopback
  (($(wc -l <<<"$out") == ${#ALL_UDP[@]})) &&
    ! grep -v -q '^udp: datagram from 127\.0\.0\.1:[0-9]* (' <<<"$out" &&
    ! grep -q '^udp: datagram from 6\.6\.6\.6' <<<"$out"
}
check "journalctl -u socketd SOCKETD_SERVICE=udp -o cat: exactly the ${#ALL_UDP[@]} payloads, no forged line, nothing else" \
  udp_cat_exact

# ------------------------------------------------ 4. reload, port change --
echo "---- 4. systemctl reload after a port change"
in_ns rm -f "$T/ready" "$T/go"
in_ns "${CLIENTS[@]}" hold 8889 'success!' "$T/ready" "$T/go" >"$WORK/hold.out" 2>&1 &
HOLD_PID=$!
check "a chat connection on 8889 is open and greeted (held across the reload)" \
  eventually 10 in_ns test -e "$T/ready"
change_port() {
  in_ns sed -i '/^\[services\.chat\]/,/^\[/ s/^listen = "127\.0\.0\.1:8889"/listen = "127.0.0.1:8899"/' "$CONF" &&
    in_ns grep -A3 '^\[services\.chat\]' "$CONF" | grep -q '^listen = "127.0.0.1:8899"' &&
    in_ns grep -A3 '^\[services\.udp\]' "$CONF" | grep -q '^listen = "127.0.0.1:8889"'
}
check "chat's port changed 8889 -> 8899 in $CONF (udp stays on 8889)" change_port
t0=$(now_ms)
check "systemctl reload socketd exits 0" in_ns systemctl reload socketd.service
timing "systemctl reload (port change)" $(($(now_ms) - t0))
# No polling: reload is synchronous, the new file is in force when it returns.
check "right after the reload: chat serves on 8899" \
  client interactive 8899 'success!' 'on the new port'
check "right after the reload: TCP 8889 refuses connections" client refused 8889
in_ns touch "$T/go"
hold_done() { ! kill -0 "$HOLD_PID" 2>/dev/null; }
if eventually 20 hold_done && wait "$HOLD_PID"; then
  pass "the connection held across the reload still works ($(tail -n1 "$WORK/hold.out"))"
else
  fail "the connection held across the reload still works"
  sed -e 's/^/    | /' "$WORK/hold.out"
fi
HOLD_PID=
check "journal has the 'reloaded' record" \
  eventually 10 journal_has_record "$ID_RELOADED" reloaded
check "MainPID unchanged by the reload ($PID1)" test "$(main_pid)" = "$PID1"
check "still active after the reload" is_active socketd.service

# -------------------------------------------------------- 5. broken file --
echo "---- 5. systemctl reload with a broken file"
add_typo() {
  in_ns sed -i '/^\[services\.chat\]/,/^\[/ s/^greeting = "success!"/&\ngreetng = "typo"/' "$CONF" &&
    in_ns grep -n '^greetng = "typo"' "$CONF" | cut -d: -f1
}
TYPO_LINE=$(add_typo)
check "typo key 'greetng' added to service chat (line ${TYPO_LINE:-?})" test -n "$TYPO_LINE"
t0=$(now_ms)
if in_ns systemctl reload socketd.service >"$WORK/out" 2>&1; then
  fail "systemctl reload with the broken file exits non-zero"
else
  pass "systemctl reload with the broken file exits non-zero"
fi
timing "systemctl reload (broken file)" $(($(now_ms) - t0))
check "journal shows the error as $CONF:$TYPO_LINE:1: error: unknown key 'greetng'" \
  eventually 10 unit_journal_has "$CONF:$TYPO_LINE:1: error: unknown key 'greetng'"
check "old configuration in force: chat still serves on 8899" \
  client interactive 8899 'success!' 'after the failed reload'
check "old configuration in force: TCP 8889 still refuses" client refused 8889
err_journal_has_error() { journal -u socketd.service -p err -o cat | grep -q -- "$CONF:$TYPO_LINE:1: error: unknown key 'greetng'"; }
check "the error is logged at priority err (journalctl -p err -u socketd shows it)" \
  eventually 5 err_journal_has_error
status_says_reload_failed() { in_ns systemctl status --no-pager socketd.service | grep -i 'reload failed'; }
check "systemctl status shows 'reload failed'" status_says_reload_failed
status_line_says_reload_failed() {
  local s
  s=$(status_text)
  echo "STATUS=: $s"
  [[ $s == *"last reload: reload failed"* ]]
}
check "the daemon's Status: line reports the failed reload (not a stale 'last reload')" \
  eventually 6 status_line_says_reload_failed
active_with_pid() { is_active socketd.service && test "$(main_pid)" = "$1"; }
check "still active, same MainPID ($PID1) after the failed reload" active_with_pid "$PID1"
remove_typo_and_reload() { in_ns sed -i '/^greetng = "typo"/d' "$CONF" && in_ns systemctl reload socketd.service; }
check "typo removed; systemctl reload exits 0 again" remove_typo_and_reload

# ------------------------------------------------------------ 6. watchdog --
echo "---- 6. watchdog"
install_watchdog_dropin() {
  printf '[Service]\nWatchdogSec=2s\n' >"$WORK/50-test-watchdog.conf" &&
    copy_in "$WORK/50-test-watchdog.conf" /etc/systemd/system/socketd.service.d/50-test-watchdog.conf &&
    in_ns systemctl daemon-reload &&
    in_ns systemctl restart socketd.service &&
    test "$(prop WatchdogUSec)" = 2s
}
check "drop-in WatchdogSec=2s, systemctl restart socketd" install_watchdog_dropin
# Not a synchronisation: the healthy daemon must outlive 2 watchdog periods.
stays_active() { # stays_active SECONDS
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do is_active socketd.service || return 1; sleep 0.5; done
}
fed_watchdog() { local pid; pid=$(main_pid) && stays_active 5 && test "$(main_pid)" = "$pid"; }
check "the 2 s watchdog is fed: same MainPID, active for 5 s" \
  fed_watchdog
PID2=$(main_pid)
RESTARTS0=$(prop NRestarts)
is_stopped() { [[ $(in_ns sh -c "sed 's/.*) //' /proc/$PID2/stat | cut -d' ' -f1") == T ]]; }
t0=$(now_ms)
sigstop_daemon() { in_ns systemctl kill -s SIGSTOP socketd.service && eventually 5 is_stopped; }
check "systemctl kill -s SIGSTOP socketd (MainPID $PID2 stopped)" \
  sigstop_daemon
restarted() {
  local pid
  pid=$(main_pid)
  [[ -n $pid && $pid != 0 && $pid != "$PID2" ]] && is_active socketd.service
}
check "systemd kills the hung daemon and restarts it: new MainPID, active (within 15 s)" \
  eventually 15 restarted
timing "SIGSTOP -> restarted and active (WatchdogSec=2s)" $(($(now_ms) - t0))
check "NRestarts grew ($RESTARTS0 -> $(prop NRestarts))" test "$(prop NRestarts)" -gt "${RESTARTS0:-0}"
check "journal shows the watchdog timeout" eventually 10 unit_journal_has "Watchdog timeout"
check "the restarted daemon serves (hello on 8888)" client greet 8888 hello
remove_watchdog_dropin() {
  in_ns rm -f /etc/systemd/system/socketd.service.d/50-test-watchdog.conf && in_ns systemctl daemon-reload
}
check "drop-in removed, daemon-reload" \
  remove_watchdog_dropin

# ---------------------------------------------------------------- 7. stop --
echo "---- 7. systemctl stop"
PID3=$(main_pid)
t0=$(now_ms)
check "systemctl stop socketd" in_ns systemctl stop socketd.service
timing "systemctl stop socketd" $(($(now_ms) - t0))
check "is-active = inactive" test "$(in_ns systemctl is-active socketd.service)" = inactive
clean_exit() {
  echo "Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)"
  test "$(prop Result)" = success && test "$(prop ExecMainStatus)" = 0
}
check "Result=success, exit status 0 on SIGTERM" \
  clean_exit
check "journal has the stopping record of PID $PID3" \
  eventually 10 journal_has_record "$ID_STOPPING" stopping _PID="$PID3"

# --------------------------------------------------- 8. socket activation --
echo "---- 8. socket activation"
install_socket() {
  copy_in "$SRC/systemd/socketd.socket" /etc/systemd/system/socketd.socket &&
    in_ns systemctl daemon-reload && in_ns systemctl start socketd.socket
}
check "install socketd.socket, systemctl start socketd.socket" install_socket
socket_waiting() { is_active socketd.socket && test "$(unit_state socketd.service)" = inactive; }
check "socketd.socket active, socketd.service still inactive" \
  socket_waiting
t0=$(now_ms)
check "connect to 127.0.0.1:8888 starts socketd; the client gets 'hello'" client greet 8888 hello
timing "first connect -> greeting (activation)" $(($(now_ms) - t0))
triggered_by_socket() {
  is_active socketd.service &&
    in_ns systemctl status --no-pager --lines=0 socketd.service | grep "TriggeredBy:.*socketd.socket"
}
check "socketd.service is active, triggered by socketd.socket" \
  triggered_by_socket
PID4=$(main_pid)
adopted() {
  local out
  out=$(in_ns ss -Hltnp 'sport = :8888')
  echo "$out"
  # one listening socket, held by systemd (PID 1) and socketd (fd 3: LISTEN_FDS)
  (($(wc -l <<<"$out") == 1)) && grep -q "\"systemd\",pid=1," <<<"$out" &&
    grep -q "\"socketd\",pid=$PID4,fd=3)" <<<"$out"
}
check "the daemon adopted systemd's socket for 8888 (ss: one listener, held by systemd and socketd fd 3)" adopted
no_inherit_warning() { ! journal -u socketd.service _PID="$PID4" -o cat | grep -E 'inherited|cannot listen'; }
check "journal: no warning about the inherited socket" no_inherit_warning
check "the other services still serve (the daemon binds them): chat on 8899" \
  client interactive 8899 'success!' 'activated'
check "the other services still serve: upload on 9999" client send-file 9999 "$T/upload.txt"
reload_then_hello() { in_ns systemctl reload socketd.service && client interactive 8888 hello 'after reload'; }
check "hello keeps serving after a reload with the adopted socket" \
  reload_then_hello

# --------------------------------------------------------------- poweroff --
check "poweroff" "$HARNESS" poweroff "$STATEDIR"
finish
