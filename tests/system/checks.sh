# Shared by the system test scripts (source it after setting WORK): counters,
# PASS/FAIL lines, `check DESCRIPTION CMD...` (the command's output is kept in
# $WORK/out and shown, indented, when it fails), `eventually TIMEOUT CMD...`,
# and `counts_ok`, which prints the totals and succeeds only if something
# passed and nothing failed.
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
