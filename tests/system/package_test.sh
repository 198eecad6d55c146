#!/bin/bash
# The Debian package, the way users meet it: `apt install ./socketd_*.deb` and
# socketd is running; an upgrade keeps an edited /etc/socketd/socketd.toml and
# restarts the daemon; `dpkg --purge` leaves nothing behind.
#
# Builds two packages from $SOCKETD_BUILD_DIR with packaging/build-deb (the
# project version and a higher one), checks them on the host (contents,
# Depends, conffiles, man pages cover every option and config key, lintian if
# installed), then boots a private systemd (tests/system/private-systemd) and
# installs, upgrades, removes and purges for real inside it.
#
# Environment: SOCKETD_BUILD_DIR (a built cmake tree, configured with
# packaging/), SOCKETD_SOURCE_DIR (the source tree).
# Exit status: 0 all passed, 1 a check failed, 77 skipped (not root, no
# systemd, a tool missing that cannot be installed, or the build tree lacks
# packaging/).
set -uo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
SRC="${SOCKETD_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}"
BUILD="${SOCKETD_BUILD_DIR:-$SRC/build}"
HARNESS="$HERE/private-systemd"
BUILD_DEB="$SRC/packaging/build-deb"
CONF=/etc/socketd/socketd.toml
T=/root/package-test # helper directory inside
export PRIVATE_SYSTEMD_EXEC_TIMEOUT=180

TEST_START=$SECONDS

source "$HERE/checks.sh"
finish() {
  echo "total: $((SECONDS - TEST_START)) s"
  counts_ok
}
skip() {
  echo "SKIP: $*"
  exit 77
}

# ---- preconditions
[[ $(id -u) == 0 ]] || skip "must run as root (boots systemd in private namespaces)"
[[ -x /lib/systemd/systemd ]] || skip "no /lib/systemd/systemd on this host"
[[ -x $BUILD/daemon/socketd ]] || skip "no daemon built at $BUILD/daemon/socketd"
[[ -f $BUILD/packaging/build-deb.env ]] ||
  skip "$BUILD was not configured with packaging/ (top-level CMakeLists.txt needs add_subdirectory(packaging))"

# Host tools: dpkg-dev builds the package, man-db renders the man pages (the
# namespace sees the host's /), python3 is the client. Installed if missing.
need_packages=()
for pair in dpkg-shlibdeps:dpkg-dev man:man-db python3:python3 strip:binutils; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_packages+=("${pair#*:}")
done
if ((${#need_packages[@]} > 0)); then
  echo "installing ${need_packages[*]} on the host"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need_packages[@]}"; } >/dev/null 2>&1 || skip "cannot install ${need_packages[*]}"
fi
# shellcheck source=/dev/null
. "$BUILD/packaging/build-deb.env"
if [[ $SOCKETD_HAVE_MAN != 1 ]]; then
  echo "man pages not built: installing scdoc and re-configuring $BUILD"
  if ! command -v scdoc >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq scdoc; } >/dev/null 2>&1 ||
      skip "scdoc is missing and cannot be installed"
  fi
  { cmake "$BUILD" && cmake --build "$BUILD" --target socketd-man; } >/dev/null || skip "cannot build the man pages in $BUILD"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socketd-package-test.XXXXXX")
STATEDIR="$WORK/systemd"
cleanup() {
  "$HARNESS" poweroff "$STATEDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- build the packages: this version, and a higher one for the upgrade
V1="$SOCKETD_PROJECT_VERSION"
V2="$V1+pkgtest1"
build_debs() {
  (cd "$WORK" && SOCKETD_VERSION="$V1" "$BUILD_DEB" --no-build "$BUILD" &&
    SOCKETD_VERSION="$V2" "$BUILD_DEB" --no-build "$BUILD")
}
check "build-deb builds $V1 and $V2" build_debs
DEB1=$(ls "$WORK"/socketd_"$V1"_*.deb 2>/dev/null)
DEB2=$(ls "$WORK"/socketd_"$V2"_*.deb 2>/dev/null)
if [[ ! -f $DEB1 || ! -f $DEB2 ]]; then
  finish
  exit 1
fi
check "dpkg --compare-versions $V2 gt $V1" dpkg --compare-versions "$V2" gt "$V1"

# ---- the package, seen from the host
deb_has() { dpkg-deb -c "$DEB1" | awk '{print $6}' | grep -qx "./$1"; }
for path in usr/sbin/socketd etc/socketd/socketd.toml "${SOCKETD_SYSTEMD_UNIT_DIR#/}/socketd.service" \
  "${SOCKETD_SYSTEMD_UNIT_DIR#/}/socketd.socket" usr/share/man/man8/socketd.8.gz \
  usr/share/man/man5/socketd.toml.5.gz usr/share/doc/socketd/copyright \
  usr/share/doc/socketd/changelog.gz usr/share/doc/socketd/README.md; do
  check "package contains /$path" deb_has "$path"
done
if [[ -x $BUILD/bench/socketd-bench ]]; then
  check "package contains /usr/bin/socketd-bench (it was built)" deb_has usr/bin/socketd-bench
fi
conffiles_ok() { dpkg-deb --ctrl-tarfile "$DEB1" | tar -xO ./conffiles | grep -qx "$CONF"; }
check "$CONF is a conffile" conffiles_ok
depends=$(dpkg-deb -f "$DEB1" Depends)
check "Depends has libsystemd0 (from dpkg-shlibdeps): $depends" grep -q 'libsystemd0' <<<"$depends"
check "Depends has init-system-helpers" grep -q 'init-system-helpers' <<<"$depends"

mkdir -p "$WORK/x"
dpkg-deb -x "$DEB1" "$WORK/x"
render() { MANWIDTH=100 man -l "$1" 2>/dev/null | col -b; }
render "$WORK/x/usr/share/man/man8/socketd.8.gz" >"$WORK/socketd.8.txt"
render "$WORK/x/usr/share/man/man5/socketd.toml.5.gz" >"$WORK/socketd.toml.5.txt"
# Every option of the usage text, every signal and exit status is in socketd(8).
covers_options() {
  local opt rc=0
  for opt in $("$BUILD/daemon/socketd" --help | grep -oE -- '(^|[ ,])-(-[a-z-]+|[a-zA-Z])\b' | tr -d ' ,' | sort -u); do
    grep -qwFe "$opt" "$WORK/socketd.8.txt" || { echo "missing option $opt"; rc=1; }
  done
  return $rc
}
check "socketd(8) documents every option of --help" covers_options
covers_words() { # FILE WORD...
  local file=$1 word rc=0
  shift
  for word in "$@"; do grep -qwe "$word" "$file" || { echo "missing $word"; rc=1; }; done
  return $rc
}
check "socketd(8) documents the signals" covers_words "$WORK/socketd.8.txt" SIGTERM SIGINT SIGHUP
exit_codes_documented() {
  sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$WORK/socketd.8.txt" >"$WORK/exit.txt"
  covers_words "$WORK/exit.txt" 0 1 2 6
}
check "socketd(8) documents exit statuses 0 1 2 6" exit_codes_documented
check "socketd(8) documents the files" covers_words "$WORK/socketd.8.txt" \
  /etc/socketd/socketd.toml socketd.service socketd.socket /var/lib/socketd/
# docs/configuration.md is the reference for the keys: each must be in socketd.toml(5).
doc_keys=$(grep -oE '^\| `\[[a-z.A-Z]+\]` \| `[a-z_]+`' "$SRC/docs/configuration.md" | grep -oE '`[a-z_]+`$' | tr -d '`' | sort -u)
check "docs/configuration.md lists keys ($(wc -w <<<"$doc_keys"))" test -n "$doc_keys"
# shellcheck disable=SC2086 # one word per key
check "socketd.toml(5) documents every key of docs/configuration.md" covers_words "$WORK/socketd.toml.5.txt" $doc_keys
if command -v lintian >/dev/null 2>&1; then
  lintian --allow-root --fail-on error "$DEB1" "$DEB2" >"$WORK/lintian.txt" 2>&1
  check "lintian on both packages: no errors" test $? = 0
  sed -e 's/^/    lintian: /' "$WORK/lintian.txt"
else
  echo "note: lintian not installed; not run (apt-get install lintian)"
fi

# ---- boot a private systemd and install for real
if ! "$HARNESS" boot "$STATEDIR" >"$WORK/out" 2>&1; then
  fail "boot private systemd"
  show_output
  finish
  exit 1
fi
pass "boot private systemd"
in_ns() { "$HARNESS" exec "$STATEDIR" "$@" </dev/null; }

cat >"$WORK/client.py" <<'EOF'
"""Classic clients for the package test: chat PORT GREETING | upload PORT | refused PORT."""
import re
import socket
import sys


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def chat(port, greeting):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        got = recv_exactly(s, len(greeting))
        assert got == greeting, f"greeting {got!r}, expected {greeting!r}"
        for message in (b"hello", b"a second message"):
            s.sendall(message)
            reply = b""
            # chunk framing: the message, then digits; read until the digits
            # are complete (a short pause with no more bytes).
            while not re.fullmatch(re.escape(message) + rb"\d+", reply):
                chunk = s.recv(1024)
                assert chunk, f"closed after {reply!r}"
                reply += chunk
            s.settimeout(0.2)
            try:
                reply += s.recv(1024)
            except socket.timeout:
                pass
            s.settimeout(5)
            m = re.fullmatch(re.escape(message) + rb"(\d+)", reply)
            assert m and 1 <= int(m.group(1)) <= 1000, f"reply {reply!r}"
        s.sendall(b"exit")
        assert s.recv(1024) == b"", "not closed after exit"
    print(f"chat on {port}: greeting {greeting!r}, echo + digits, exit: ok")


def upload(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"some file content")
        assert recv_exactly(s, 7) == b"success", "no ack"
        s.sendall(b"quit")
        assert recv_exactly(s, 7) == b"success", "no durable ack"
    print(f"upload on {port}: ok")


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        print(f"{port}: refused")
        return
    raise AssertionError(f"{port} still accepts connections")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "chat":
        chat(int(sys.argv[2]), sys.argv[3].encode())
    elif mode == "upload":
        upload(int(sys.argv[2]))
    else:
        refused(int(sys.argv[2]))
EOF
in_ns mkdir -p "$T"
for f in "$WORK/client.py" "$DEB1" "$DEB2"; do "$HARNESS" copy-in "$STATEDIR" "$f" "$T/"; done
B1="$T/$(basename "$DEB1")"
B2="$T/$(basename "$DEB2")"
# Docker images ship a policy-rc.d that forbids starting services from
# maintainer scripts; a real system has none. Removed inside only.
if in_ns test -e /usr/sbin/policy-rc.d; then
  in_ns rm -f /usr/sbin/policy-rc.d
  echo "note: removed the host's /usr/sbin/policy-rc.d inside the namespace"
fi
# man-db's trigger rebuilds its index on every install, which takes seconds
# here; man finds the pages without it.
in_ns sh -c 'echo "man-db man-db/auto-update boolean false" | debconf-set-selections'

active() { [[ $(in_ns systemctl is-active socketd.service) == active ]]; }
main_pid() { in_ns systemctl show -P MainPID socketd.service; }
conf_greeting_is() { in_ns grep -qx "greeting = \"$1\"" "$CONF"; }
chat_greets() { in_ns python3 "$T/client.py" chat 8889 "$1"; }
socket_active() { [[ $(in_ns systemctl is-active socketd.socket) == active ]]; }

# -- install
check "apt-get install ./$(basename "$DEB1")" in_ns apt-get install -y "$B1"
check "dpkg: socketd $V1 installed" test "$(in_ns dpkg-query -W -f='${Status} ${Version}' socketd)" = "install ok installed $V1"
check "socketd.service enabled" test "$(in_ns systemctl is-enabled socketd.service)" = enabled
check "socketd.service active" eventually 20 active
check "socketd.socket not enabled" test "$(in_ns systemctl is-enabled socketd.socket)" = disabled
check "/usr/sbin/socketd --version" test "$(in_ns socketd --version)" = "socketd $V1"
check "classic chat client on 8889 (greeting success!)" chat_greets 'success!'
check "classic upload client on 9999" in_ns python3 "$T/client.py" upload 9999
check "upload stored in the state directory" in_ns sh -c 'ls /var/lib/socketd/upload-* >/dev/null'
check "man socketd renders" eval 'in_ns env MANPAGER=cat MANWIDTH=80 man socketd | grep -q "socketd - small TCP"'
check "man 5 socketd.toml renders" eval 'in_ns env MANPAGER=cat MANWIDTH=80 man 5 socketd.toml | grep -q "drain_timeout"'
check "/usr/share/doc/socketd has README.md, changelog.gz, copyright" \
  in_ns test -f /usr/share/doc/socketd/README.md -a -f /usr/share/doc/socketd/changelog.gz -a -f /usr/share/doc/socketd/copyright

# -- edit the conffile, upgrade: the edit survives, the daemon is restarted on it
in_ns sed -i 's/^greeting = "success!"$/greeting = "edited greeting"/' "$CONF"
check "conffile edited" conf_greeting_is "edited greeting"
pid1=$(main_pid)
check "dpkg -i $(basename "$DEB2") (upgrade, no conffile prompt)" in_ns dpkg -i "$B2"
check "dpkg: socketd $V2 installed" test "$(in_ns dpkg-query -W -f='${Status} ${Version}' socketd)" = "install ok installed $V2"
check "edited conffile kept" conf_greeting_is "edited greeting"
check "no .dpkg-dist/.dpkg-new left" eval '! in_ns sh -c "ls /etc/socketd/*.dpkg-*" >/dev/null 2>&1'
check "socketd.service active after upgrade" eventually 20 active
pid2=$(main_pid)
check "socketd.service restarted (MainPID $pid1 -> $pid2)" test "$pid2" != 0 -a "$pid2" != "$pid1"
check "serves the edited greeting" chat_greets "edited greeting"
check "socketd.service still enabled, socketd.socket still not" \
  test "$(in_ns systemctl is-enabled socketd.service socketd.socket | tr '\n' ' ')" = "enabled disabled "

# -- an upgrade onto a file the new version rejects keeps the old daemon serving
in_ns sh -c "printf '\n[services.bad]\nmode = \"chat\"\nlisten = \"127.0.0.1:8899\"\nbogus_key = 1\n' >>$CONF"
in_ns dpkg -i "$B2" >"$WORK/reinstall.out" 2>&1
check "reinstall with an invalid conffile: dpkg succeeds" test $? = 0
check "... and says why it did not restart" grep -q "NOT restarted" "$WORK/reinstall.out"
check "... and the daemon was not restarted (MainPID $pid2)" test "$(main_pid)" = "$pid2"
check "... and still serves" chat_greets "edited greeting"
in_ns sed -i '/^\[services.bad\]$/,$d' "$CONF"

# -- the admin turns socket activation on; an upgrade keeps both units working
in_ns systemctl stop socketd.service
check "admin: systemctl enable --now socketd.socket" in_ns systemctl enable --now socketd.socket
check "admin: systemctl start socketd.service" in_ns systemctl start socketd.service
pid3=$(main_pid)
check "upgrade (dpkg -i) with socketd.socket active" in_ns dpkg -i "$B2"
check "socketd.socket active after upgrade" eventually 20 socket_active
check "socketd.service active after upgrade" eventually 20 active
check "socketd.service restarted (MainPID $pid3 -> $(main_pid))" test "$(main_pid)" != "$pid3"
check "socketd.socket still enabled" test "$(in_ns systemctl is-enabled socketd.socket)" = enabled
check "hello on 8888 (socket from socketd.socket)" in_ns python3 "$T/client.py" chat 8888 hello
check "chat on 8889 (bound by socketd)" chat_greets "edited greeting"

# -- remove: stopped, units gone, conffile kept
check "dpkg --remove socketd" in_ns dpkg --remove socketd
check "socketd.service stopped" eval '! in_ns systemctl is-active --quiet socketd.service'
check "socketd.socket stopped" eval '! socket_active'
check "nothing listens on 8888" in_ns python3 "$T/client.py" refused 8888
check "nothing listens on 8889" in_ns python3 "$T/client.py" refused 8889
check "unit files gone" in_ns test ! -e "$SOCKETD_SYSTEMD_UNIT_DIR/socketd.service" -a ! -e "$SOCKETD_SYSTEMD_UNIT_DIR/socketd.socket"
check "conffile kept after remove" conf_greeting_is "edited greeting"

# -- purge: config, state and enablement gone
check "dpkg --purge socketd" in_ns dpkg --purge socketd
check "dpkg: socketd purged" test "$(in_ns dpkg-query -W -f='${db:Status-Status}' socketd 2>/dev/null)" != installed
check "/etc/socketd gone" in_ns test ! -e /etc/socketd
check "state directory gone" in_ns test ! -e /var/lib/socketd -a ! -e /var/lib/private/socketd
check "enablement symlinks gone" in_ns test ! -e /etc/systemd/system/multi-user.target.wants/socketd.service \
  -a ! -e /etc/systemd/system/sockets.target.wants/socketd.socket
check "systemd no longer knows socketd.service" \
  eval '[[ $(in_ns systemctl show -P LoadState socketd.service) == not-found ]]'

check "poweroff" "$HARNESS" poweroff "$STATEDIR"
finish
