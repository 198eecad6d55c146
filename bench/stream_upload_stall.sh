#!/usr/bin/env bash
# How long a stream upload holds up other clients: one chat client's latency
# alone, then while socketd-bench uploads two 1 GiB files through
# stream-upload. socketd on CPU 0, both load tools on CPU 1.
#   bench/stream_upload_stall.sh BUILD_DIR UPLOAD_DIR
set -euo pipefail
build=$1 dir=$2
work=$(mktemp -d)
mkdir -p "$dir"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; find "$dir" -maxdepth 1 -name "upload-*" -delete' EXIT
cat > "$work/socketd.toml" <<TOML
[daemon]
log_level = "notice"
upload_dir = "$dir"
[services.stream]
mode = "stream-upload"
listen = "127.0.0.1:0"
max_upload_bytes = 0
min_free_bytes = 0
[services.chat]
mode = "chat"
listen = "127.0.0.1:0"
greeting = "success!"
TOML
taskset -c 0 "$build/daemon/socketd" --config "$work/socketd.toml" 2>"$work/stderr" &
pid=$!
for _ in $(seq 200); do grep -q "socketd started" "$work/stderr" && break; sleep 0.05; done
port() { grep "socketd started" "$work/stderr" | grep -o "$1 tcp 127.0.0.1:[0-9]*" | sed 's/.*://'; }
uptime
echo "-- chat alone"
taskset -c 1 "$build/bench/socketd-bench" chat -p "$(port chat)" -c 1 -d 3 -q | grep -A1 "^latency"
taskset -c 1 "$build/bench/socketd-bench" stream -p "$(port stream)" -c 1 -n 2 --file-size 1g \
  --timeout 60 -q > "$work/stream" &
upload=$!
sleep 1.5  # let the upload get going (a measurement window, not synchronisation)
echo "-- chat during the stream uploads"
taskset -c 1 "$build/bench/socketd-bench" chat -p "$(port chat)" -c 1 -d 4 -q | grep -A1 "^latency"
wait "$upload" || true
grep -E "^uploaded|^errors" "$work/stream"
