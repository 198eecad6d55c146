#!/usr/bin/env python3
"""Connects to socketd's TCP services over and over until STOPFILE exists, one
thread per service, and writes what every attempt saw to OUTFILE (JSON).

  connect_loop.py STOPFILE OUTFILE SPEC...
  (OUTFILE.ready appears once every service has answered one attempt)
  SPEC: PORT:greet:GREETING   connect, read GREETING, close
        PORT:upload           connect, send `quit`, read the durable `success`

Each attempt ends as one of: ok, refused (ECONNREFUSED), reset (ECONNRESET,
EPIPE), cut (the connection closed before the expected bytes: a process that
had accepted it died), timeout (nothing within 60 s), other. The JSON also has
the slowest attempt (ms) per service and every attempt over 0.5 s (start
time as seconds mod 1000, duration). Exit status 0 once written.
"""
import errno
import json
import os
import socket
import sys
import threading
import time

ATTEMPT_TIMEOUT = 60.0
PAUSE = 0.005


def attempt(port, kind, arg):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(ATTEMPT_TIMEOUT)
    try:
        s.connect(("127.0.0.1", port))
        if kind == "upload":
            s.sendall(b"quit")
            want = b"success"
        else:
            want = arg.encode()
        got = b""
        while len(got) < len(want):
            chunk = s.recv(len(want) - len(got))
            if not chunk:
                return "cut"
            got += chunk
        return "ok" if got == want else "other"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        if e.errno == errno.ECONNREFUSED:
            return "refused"
        if e.errno in (errno.ECONNRESET, errno.EPIPE):
            return "reset"
        return "other"
    finally:
        s.close()


def loop(stopfile, spec, results, answered):
    parts = spec.split(":", 2)
    port, kind = int(parts[0]), parts[1]
    arg = parts[2] if len(parts) > 2 else ""
    counts = {"ok": 0, "refused": 0, "reset": 0, "cut": 0, "timeout": 0, "other": 0}
    slowest = 0.0
    slow = []
    while not os.path.exists(stopfile):
        t0 = time.monotonic()
        outcome = attempt(port, kind, arg)
        took = time.monotonic() - t0
        slowest = max(slowest, took)
        if took > 0.5:
            slow.append("%.3f+%.1fs" % (time.time() % 1000, took))
        counts[outcome] += 1
        if outcome == "ok" and counts["ok"] == 1:
            answered.release()
        time.sleep(PAUSE)
    counts["slowest_ms"] = int(slowest * 1000)
    counts["slow"] = slow
    results[str(port)] = counts


def main():
    stopfile, outfile, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    results = {}
    answered = threading.Semaphore(0)
    threads = [threading.Thread(target=loop, args=(stopfile, spec, results, answered))
               for spec in specs]
    for t in threads:
        t.start()
    for _ in specs:
        answered.acquire(timeout=ATTEMPT_TIMEOUT)
    open(outfile + ".ready", "w").close()
    for t in threads:
        t.join()
    with open(outfile + ".tmp", "w") as f:
        json.dump(results, f)
    os.rename(outfile + ".tmp", outfile)


if __name__ == "__main__":
    main()
