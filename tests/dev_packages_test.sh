#!/bin/bash
# dev_packages_test.sh SOURCE_DIR: `./dev run` installs only what building and
# running socketd need (RUN_PACKAGES), not the test tools (TEST_PACKAGES: clang,
# haproxy, gtest, prometheus, lintian, ...), and builds without the tests.
#
# The real script runs (a copy of SOURCE_DIR/dev in a scratch directory, so its
# `cd "$(dirname "$0")"` lands there) with fakes first in PATH: dpkg-query says
# nothing is installed, apt-get, sudo and cmake record their arguments, and
# cmake leaves a stub socketd for the script's final exec. No network, no root,
# no package is installed. As a control, `./dev deps` under the same fakes must
# ask for the test packages, so a fake that saw nothing cannot pass.
# Exit status: 0 as described, 1 otherwise.
set -uo pipefail
SRC=${1:?usage: dev_packages_test.sh SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
fail() { echo "FAIL: $*"; rc=1; }

mkdir -p "$work/bin" "$work/tree/config"
cp "$SRC/dev" "$work/tree/dev"
log=$work/log
cat >"$work/bin/dpkg-query" <<'FAKE'
#!/bin/sh
exit 1
FAKE
cat >"$work/bin/apt-get" <<FAKE
#!/bin/sh
echo "\$*" >>"$log/apt-get"
FAKE
cat >"$work/bin/sudo" <<'FAKE'
#!/bin/sh
exec "$@"
FAKE
cat >"$work/bin/cmake" <<FAKE
#!/bin/sh
echo "\$*" >>"$log/cmake"
mkdir -p build-release/daemon
printf '#!/bin/sh\necho "\$*" >>"%s/socketd"\n' "$log" >build-release/daemon/socketd
chmod +x build-release/daemon/socketd
FAKE
chmod +x "$work/bin/"*

# run_dev VERB: runs the copy; prints the packages its apt-get install got.
run_dev() {
  rm -rf "$log" && mkdir -p "$log"
  (cd /tmp && PATH="$work/bin:$PATH" "$work/tree/dev" "$1") >"$work/out" 2>&1 ||
    { fail "./dev $1 exited $?:"; cat "$work/out"; }
  grep -E '(^| )install ' "$log/apt-get" 2>/dev/null | tr ' ' '\n' | grep -vE '^(-|install$|$)' | sort -u
}

deps=$(run_dev deps)
[[ -n $deps ]] || fail "./dev deps installed nothing: the fakes are not in use"
run=$(run_dev run)
[[ -n $run ]] || fail "./dev run installed nothing"
echo "./dev run installs: $(echo $run)"

# Building and running need these...
for p in cmake g++ make pkg-config libsystemd-dev libtomlplusplus-dev libssl-dev; do
  grep -qx -- "$p" <<<"$run" || fail "./dev run does not install $p (the build needs it)"
done
# ...and none of what only the tests, the package check or the benchmarks use
# (each is in the control's list, so a typo here cannot make this pass).
for p in clang libclang-rt-14-dev libtsan2 haproxy libgtest-dev libgmock-dev libbenchmark-dev \
         prometheus lintian debhelper dpkg-dev scdoc python3 man-db; do
  grep -qx -- "$p" <<<"$deps" || fail "control: ./dev deps does not install $p"
  grep -qx -- "$p" <<<"$run" && fail "./dev run installs $p, which only the tests need"
done
# Whatever run installs, deps installs too.
extra=$(comm -23 <(echo "$run") <(echo "$deps"))
[[ -z $extra ]] || fail "./dev run installs what ./dev deps does not: $extra"

# Without the test packages the build must not want them: tests and benchmarks off.
configure=$(head -n1 "$log/cmake" 2>/dev/null)
for flag in -DSOCKETD_BUILD_TESTS=OFF -DSOCKETD_BUILD_BENCH=OFF; do
  grep -q -- "$flag" <<<"$configure" || fail "./dev run configures without $flag: $configure"
done
grep -q -- '--target socketd' "$log/cmake" || fail "./dev run does not build only the socketd target"
grep -q -- '--config config/socketd.toml' "$log/socketd" 2>/dev/null ||
  fail "./dev run does not start socketd on config/socketd.toml"

[[ $rc -eq 0 ]] && echo "ok"
exit $rc
