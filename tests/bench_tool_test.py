#!/usr/bin/env python3
"""socketd-bench's command line and reports, against real sockets on loopback.

bench_tool_test.py SOCKETD SOCKETD_BENCH SOURCE_DIR
  --version; durations with units (-d 300ms, -d 1s) and bad ones; HOST:PORT
  (and its conflicts with --host/--port); --hgrm writes HdrHistogram's
  percentile distribution, consistent with the run's own counts; and connects
  whose SYN was dropped by a full accept queue are counted as SYN
  retransmits, with the hint about the backlog.
Exit status 0 when every check passed, 1 otherwise.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

DAEMON, BENCH, SRC = sys.argv[1:4]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f"\n     {detail}"))
    if not ok:
        failures.append(name)


def bench(*args, timeout=60):
    return subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=timeout)


def project_version():
    text = open(os.path.join(SRC, "CMakeLists.txt")).read()
    return re.search(r"project\(socketd\s+VERSION\s+([0-9.]+)", text).group(1)


# ---- a socketd with an echo service on a free port
work = tempfile.mkdtemp(prefix="bench-tool-test.")
config = os.path.join(work, "socketd.toml")
with open(config, "w") as f:
    f.write('[daemon]\nlog_level = "notice"\nupload_dir = "%s"\n'
            '[services.echo]\nmode = "echo"\nlisten = "127.0.0.1:0"\nbacklog = 512\n' % work)
daemon = subprocess.Popen([DAEMON, "--config", config], stderr=subprocess.PIPE, text=True)
port = None
for line in daemon.stderr:  # the start record names the bound port
    m = re.search(r"socketd started: echo tcp 127\.0\.0\.1:(\d+)", line)
    if m:
        port = int(m.group(1))
        break
threading.Thread(target=lambda: daemon.stderr.read(), daemon=True).start()
try:
    check("socketd started", port is not None)

    r = bench("--version")
    check("--version prints socketd-bench VERSION", r.returncode == 0 and r.stdout == f"socketd-bench {project_version()}\n",
          repr(r.stdout))

    # Durations with units. 300ms must mean 0.3 s, not 300 s (the run would
    # then hit the test's timeout) and not 0.
    r = bench("echo", f"127.0.0.1:{port}", "-c", "2", "-d", "300ms", "--json", "-q")
    ok = r.returncode == 0
    summary = json.loads(r.stdout) if ok else {}
    check("-d 300ms runs (closed loop, HOST:PORT target)", ok and summary["operations"] > 0, r.stderr)
    check("-d 300ms: elapsed well under 10 s (the default) and above 0", ok and 0.2 < summary["elapsed_s"] < 9,
          str(summary.get("elapsed_s")))
    check("HOST:PORT is the target", ok and summary["target"] == f"127.0.0.1:{port}", str(summary.get("target")))
    check("no SYN retransmit against a server with a big backlog", ok and summary["syn_retransmits"] == 0,
          str(summary.get("syn_retransmits")))
    for bad in ("10x", "ms", "-1s", "1..5s"):
        r = bench("echo", f"127.0.0.1:{port}", "-d", bad)
        check(f"-d {bad} is a usage error (2)", r.returncode == 2 and "duration" in r.stderr, r.stderr)
    r = bench("echo", f"127.0.0.1:{port}", "--timeout", "1500ms", "--ramp", "0.1s", "-n", "10", "-q")
    check("--timeout 1500ms --ramp 0.1s accepted", r.returncode == 0, r.stderr)
    for bad in ("127.0.0.1", "127.0.0.1:0", "[::1]7", "::1:7", "host:port"):
        r = bench("echo", bad)
        check(f"target '{bad}' is a usage error (2)", r.returncode == 2 and "HOST:PORT" in r.stderr, r.stderr)
    r = bench("echo", f"127.0.0.1:{port}", "--port", str(port))
    check("HOST:PORT with --port is a usage error", r.returncode == 2, r.stderr)

    # --hgrm: HdrHistogram's percentile distribution of the run's latencies.
    hgrm = os.path.join(work, "echo.hgrm")
    r = bench("echo", f"127.0.0.1:{port}", "-c", "4", "-n", "3000", "--json", "-q", "--hgrm", hgrm)
    check("--hgrm run", r.returncode == 0, r.stderr)
    summary = json.loads(r.stdout)
    lines = open(hgrm).read().splitlines()
    check(".hgrm header", re.fullmatch(r"\s+Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)", lines[0]) is not None
          and lines[1] == "", lines[0])
    rows = [l.split() for l in lines[2:] if l and not l.startswith("#")]
    values = [float(r[0]) for r in rows]
    levels = [float(r[1]) for r in rows]
    counts = [int(r[2]) for r in rows]
    check(".hgrm percentiles rise from 0 to 1", levels[0] == 0.0 and levels[-1] == 1.0
          and all(a < b for a, b in zip(levels, levels[1:])), str(levels[:8]))
    check(".hgrm values and counts never fall", all(a <= b for a, b in zip(values, values[1:]))
          and all(a <= b for a, b in zip(counts, counts[1:])))
    check(".hgrm: 5 lines per halving (0.1 steps to 0.5, then 0.05 ...)", levels[:7] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55],
          str(levels[:7]))
    check(".hgrm 1/(1-P) column", all(abs(float(r[3]) - 1 / (1 - float(r[1]))) < 0.01 for r in rows[:-1]))
    latency = summary["latency_ns"]
    check(".hgrm last line: max and total count of the run", abs(values[-1] - latency["max"] / 1e6) < 0.001
          and counts[-1] == latency["count"], f"{rows[-1]} vs {latency}")
    footer = "\n".join(l for l in lines if l.startswith("#["))
    m = re.search(r"Total count\s+=\s+(\d+)", footer)
    check(".hgrm footer (Mean, Max, Total count, Buckets)", m is not None and int(m.group(1)) == latency["count"]
          and "#[Mean    =" in footer and "#[Buckets =" in footer, footer)
    p50_row = next(r for r in rows if float(r[1]) >= 0.5)
    check(".hgrm p50 agrees with the summary's (within a bucket, 1%)",
          abs(float(p50_row[0]) - latency["p50"] / 1e6) <= 0.01 * latency["p50"] / 1e6 + 0.001,
          f"{p50_row[0]} ms vs {latency['p50']} ns")
    r = bench("echo", f"127.0.0.1:{port}", "-n", "10", "-q", "--hgrm", os.path.join(work, "no/such/dir/x.hgrm"))
    check("--hgrm into a missing directory: exit 3", r.returncode == 3 and "cannot write" in r.stderr, r.stderr)
finally:
    daemon.terminate()
    daemon.wait(timeout=30)

# ---- SYN retransmits: a listener with a full accept queue drops SYNs.
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(0)  # room for one queued connection; further SYNs are dropped
lport = listener.getsockname()[1]
accepted = []


def syn_sent_to(port):
    """Client sockets in SYN_SENT towards `port` (their SYN got no answer)."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "02" and int(fields[2].split(":")[1], 16) == port:
                n += 1
    return n


def accept_after_drops():
    # Accept nothing until a SYN has been dropped (a client stays in SYN_SENT:
    # on loopback a handshake that is answered takes microseconds), then
    # everything, so the retransmitted SYNs get in.
    deadline = time.monotonic() + 20
    while syn_sent_to(lport) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    listener.settimeout(20)
    try:
        while len(accepted) < 8:
            accepted.append(listener.accept()[0])
    except OSError:
        pass


server = threading.Thread(target=accept_after_drops, daemon=True)
server.start()
r = bench("hold", f"127.0.0.1:{lport}", "-c", "8", "-d", "200ms", "--timeout", "15s", "--json", "-q")
server.join(timeout=30)
summary = json.loads(r.stdout) if r.stdout.startswith("{") else {}
check("hold against a listener with a full queue: every connect succeeded", summary.get("connects") == 8,
      r.stdout + r.stderr)
check("connects that needed a SYN retransmit are counted", summary.get("syn_retransmits", 0) >= 1,
      str(summary.get("syn_retransmits")))
for s in accepted:
    s.close()
listener.close()

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(0)
lport = listener.getsockname()[1]
accepted = []
server = threading.Thread(target=accept_after_drops, daemon=True)
server.start()
r = bench("hold", f"127.0.0.1:{lport}", "-c", "8", "-d", "200ms", "--timeout", "15s", "-q")
server.join(timeout=30)
check("the summary says the backlog is probably too small",
      re.search(r"syn retransmits\s+[1-8] connects", r.stdout) is not None and "backlog is probably too small" in r.stdout,
      r.stdout)
for s in accepted:
    s.close()
listener.close()

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
