#!/usr/bin/env bash
# Throughput of socketd's upload modes on loopback: socketd pinned to CPU 0,
# socketd-bench to CPU 1. Prints socketd-bench's summary line and socketd's own
# CPU time, so the figure can be read both as wall-clock MB/s and as MB per
# second of server CPU (what socketd would do with a core to itself; the
# build machine is shared), and how many uploads socketd itself recorded as
# finished or incomplete (the client's view can differ: see docs/perf/PERF-stream-upload.md).
#   bench/stream_upload_perf.sh BUILD_DIR UPLOAD_DIR MODE [socketd-bench options...]
# MODE: stream or upload. Example:
#   bench/stream_upload_perf.sh build-rel /dev/shm/x stream -c 1 -n 3 --file-size 1g
set -euo pipefail
build=$1 dir=$2 mode=$3
shift 3
work=$(mktemp -d)
mkdir -p "$dir"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; find "$dir" -maxdepth 1 -name "upload-*" -delete' EXIT
cat > "$work/socketd.toml" <<TOML
[daemon]
log_level = "info"
upload_dir = "$dir"
[services.stream]
mode = "stream-upload"
listen = "127.0.0.1:0"
max_upload_bytes = 0
min_free_bytes = 0
[services.upload]
mode = "upload"
listen = "127.0.0.1:0"
max_upload_bytes = 0
min_free_bytes = 0
TOML
taskset -c 0 "$build/daemon/socketd" --config "$work/socketd.toml" 2>"$work/stderr" &
pid=$!
for _ in $(seq 200); do grep -q "socketd started" "$work/stderr" && break; sleep 0.05; done
service=$([ "$mode" = stream ] && echo stream || echo upload)
port=$(grep "socketd started" "$work/stderr" | grep -o "$service tcp 127.0.0.1:[0-9]*" | sed 's/.*://')
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(ticks)
uptime
taskset -c 1 "$build/bench/socketd-bench" "$mode" --port "$port" --timeout 60 -q "$@" | tee "$work/out" || true
after=$(ticks)
hz=$(getconf CLK_TCK)
bytes=$(grep -o 'uploaded *[0-9.]* [KMG]B' "$work/out" || true)
awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "socketd CPU      %.2f s (user+sys)\n", t / hz }'
grep '^uploaded' "$work/out" | awk -v t=$((after - before)) -v hz="$hz" '
  { v = $2; u = $3; m = (u == "GB") ? 1000 : (u == "MB") ? 1 : (u == "kB" || u == "KB") ? 0.001 : 0;
    if (t > 0) printf "per server CPU   %.0f MB/s (uploaded bytes / socketd CPU seconds)\n", v * m / (t / hz) }'
sleep 0.2
echo "socketd log      $(grep -c ' finished, ' "$work/stderr" || true) uploads finished, $(grep -c ' incomplete, ' "$work/stderr" || true) incomplete"
