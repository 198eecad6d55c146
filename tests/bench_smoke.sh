#!/usr/bin/env bash
# Smoke test of socketd-bench itself (not a performance test): every mode runs
# briefly against a socketd on loopback and must report no errors and no
# starved connections (socketd-bench exits non-zero otherwise).
set -euo pipefail
daemon=$1 bench=$2
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/socketd.toml" <<TOML
[daemon]
log_level = "notice"
upload_dir = "$work/uploads"
[services.chat]
mode = "chat"
listen = "127.0.0.1:0"
greeting = "success!"
backlog = 512
[services.lines]
mode = "chat"
listen = "127.0.0.1:0"
framing = "line"
backlog = 512
[services.echo]
mode = "echo"
listen = "127.0.0.1:0"
backlog = 512
[services.banner]
mode = "banner"
listen = "127.0.0.1:0"
backlog = 512
[services.upload]
mode = "upload"
listen = "127.0.0.1:0"
[services.stream]
mode = "stream-upload"
listen = "127.0.0.1:0"
min_free_bytes = 0
[services.udp]
mode = "udp-log"
listen = "127.0.0.1:0"
TOML
"$daemon" --config "$work/socketd.toml" 2>"$work/stderr" &
pid=$!
for _ in $(seq 200); do grep -q "socketd started" "$work/stderr" && break; sleep 0.05; done
line=$(grep "socketd started" "$work/stderr")
port() { echo "$line" | grep -o "$1 $2 127.0.0.1:[0-9]*" | sed 's/.*://'; }
run() { echo "== socketd-bench $*"; "$bench" "$@" --quiet; }
run echo --port "$(port echo tcp)" -c 50 -d 1
run chat --port "$(port chat tcp)" -c 50 -d 1 --greeting 'success!'
run chat --port "$(port lines tcp)" -c 20 -d 1 --framing line --no-greeting
run connect --port "$(port banner tcp)" -c 4 -d 1 --expect 'success!'
run upload --port "$(port upload tcp)" -c 4 -n 20 --file-size 65536
run stream --port "$(port stream tcp)" -c 2 -n 6 --file-size 4m
run udp --port "$(port udp udp)" -d 1 --rate 20000
run hold --port "$(port echo tcp)" -c 200 -d 1
echo "all modes ok"
