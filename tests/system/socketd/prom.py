#!/usr/bin/env python3
"""Helpers for prometheus_test.sh, run inside the private namespaces.

  prom.py echo PORT CONNECTIONS BYTES
      CONNECTIONS echo clients on 127.0.0.1:PORT, each sends BYTES bytes and
      reads them all back (the traffic the test then expects to see counted)
  prom.py get URL
      prints the body of an HTTP GET (fails on a status other than 200)
  prom.py wait-up API JOB SECONDS
      polls API/api/v1/targets until the target of JOB reports health "up"
  prom.py wait-value API QUERY VALUE SECONDS
      polls API/api/v1/query?query=QUERY until it returns one sample equal to
      VALUE (compared as numbers)

The wait-* commands poll with a deadline (Prometheus scrapes once a second in
the test) and print the last answer when the deadline passes.
"""
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        if r.status != 200:
            fail(f"{url}: HTTP {r.status}")
        return r.read().decode()


def cmd_echo(port, connections, size):
    payload = bytes(i % 251 for i in range(int(size)))
    for _ in range(int(connections)):
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    fail(f"echo closed after {len(got)} of {len(payload)} bytes")
                got += chunk
            if got != payload:
                fail("echo returned other bytes")
    print(f"{connections} x {size} bytes echoed")


def poll(seconds, attempt):
    deadline = time.monotonic() + float(seconds)
    last = None
    while True:
        try:
            ok, last = attempt()
            if ok:
                print(last)
                return
        except (OSError, ValueError, KeyError) as e:  # not up yet, or no answer yet
            last = repr(e)
        if time.monotonic() >= deadline:
            fail(f"not within {seconds} s; last answer: {last}")
        time.sleep(0.2)


def cmd_wait_up(api, job, seconds):
    def attempt():
        targets = json.loads(get(api + "/api/v1/targets"))["data"]["activeTargets"]
        mine = [t for t in targets if t["labels"].get("job") == job]
        ok = len(mine) == 1 and mine[0]["health"] == "up"
        return ok, json.dumps(mine)
    poll(seconds, attempt)


def cmd_wait_value(api, query, value, seconds):
    def attempt():
        url = api + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
        result = json.loads(get(url))["data"]["result"]
        ok = len(result) == 1 and float(result[0]["value"][1]) == float(value)
        return ok, json.dumps(result)
    poll(seconds, attempt)


def main(argv):
    handlers = {"echo": cmd_echo, "get": lambda url: print(get(url), end=""),
                "wait-up": cmd_wait_up, "wait-value": cmd_wait_value}
    if len(argv) < 2 or argv[1] not in handlers:
        fail(__doc__)
    handlers[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
