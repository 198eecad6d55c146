# Shared by the system test scripts (source it after setting HERE, the
# script's directory): counters, PASS/FAIL lines, `check DESCRIPTION CMD...`
# (the command's output is kept in $WORK/out and shown, indented, when it
# fails), `eventually TIMEOUT CMD...`, and `counts_ok`, which prints the totals
# and succeeds only if something passed and nothing failed; `finish` is
# counts_ok unless the script defines its own after sourcing this.
#
# Then what every test of socketd under a private systemd
# (tests/system/private-systemd) starts with: SRC, BUILD, HARNESS and DAEMON;
# `need_private_systemd` (skip, exit 77, unless root on a host with systemd),
# `need_daemon` (fail and exit 1 without a built daemon), `boot_private_systemd`
# (boots in $STATEDIR, or fails and exits), `in_ns CMD...` (runs CMD inside,
# limited to $IN_NS_TIMEOUT seconds), `copy_in FILE DEST`, `install_socketd`
# (the built daemon as /usr/sbin/socketd and systemd/socketd.service) and
# `poweroff_private_systemd` (for the script's EXIT trap: powers off, removes
# $WORK and $STATEDIR).
# shellcheck shell=bash

passed=0
failed=0

pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}
# Prints the captured output of the failed command, indented.
show_output() {
  [[ -s $WORK/out ]] && sed -e 's/^/    | /' "$WORK/out" | head -n 40
  return 0
}
check() { # check DESCRIPTION CMD...
  local desc=$1
  shift
  if "$@" >"$WORK/out" 2>&1; then
    pass "$desc"
  else
    fail "$desc"
    show_output
  fi
}
# Polls CMD until it succeeds or TIMEOUT seconds have passed.
eventually() { # eventually TIMEOUT CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
counts_ok() {
  echo "$passed passed, $failed failed"
  ((failed == 0 && passed > 0))
}
finish() {
  counts_ok
}

SRC="${SOCKETD_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
BUILD="${SOCKETD_BUILD_DIR:-$SRC/build}"
HARNESS="$HERE/private-systemd"
DAEMON="$BUILD/daemon/socketd"
IN_NS_TIMEOUT=90

skip() {
  echo "SKIP: $*"
  exit 77
}
need_private_systemd() {
  [[ $(id -u) == 0 ]] || skip "must run as root (boots systemd in private namespaces)"
  [[ -x /lib/systemd/systemd ]] || skip "no systemd on this host (/lib/systemd/systemd)"
}
need_daemon() {
  [[ -x $DAEMON ]] && return 0
  fail "daemon binary $DAEMON exists (build it: cmake --build BUILD --target socketd)"
  finish
  exit 1
}
boot_private_systemd() {
  if ! "$HARNESS" boot "$STATEDIR" >"$WORK/out" 2>&1; then
    fail "boot a private systemd"
    show_output
    finish
    exit 1
  fi
  pass "boot a private systemd"
}
poweroff_private_systemd() {
  "$HARNESS" poweroff "$STATEDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$STATEDIR"
}
in_ns() { PRIVATE_SYSTEMD_EXEC_TIMEOUT=$IN_NS_TIMEOUT "$HARNESS" exec "$STATEDIR" "$@"; }
copy_in() { "$HARNESS" copy-in "$STATEDIR" "$@"; }
install_socketd() {
  copy_in "$DAEMON" /usr/sbin/socketd &&
    copy_in "$SRC/systemd/socketd.service" /etc/systemd/system/socketd.service
}
