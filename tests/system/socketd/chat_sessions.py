#!/usr/bin/env python3
"""Holds N chat sessions open across an upgrade and checks they go on.

  chat_sessions.py PORT GREETING N READY GO RESULT

Opens N connections to 127.0.0.1:PORT, reads GREETING on each and chats once
("before-I", reply = the message then decimal digits), creates READY, waits
for GO to exist, then chats once more on every session ("after-I") and writes
RESULT: "answered A of N" plus one line per failure. Exit 0 if all answered.
"""
import os
import re
import socket
import sys
import time

TIMEOUT = 30.0


def chat(s, msg):
    s.sendall(msg.encode())
    got = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        chunk = s.recv(1024)
        if not chunk:
            break
        got += chunk
        if re.fullmatch(re.escape(msg.encode()) + rb"[0-9]+", got) and len(got) > len(msg):
            return True
    return False


def main():
    port, greeting, n, ready, go, result = sys.argv[1:7]
    port, n = int(port), int(n)
    sessions = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if s.recv(len(greeting)) != greeting.encode():
            print("no greeting on session %d" % i)
            return 1
        if not chat(s, "before-%d" % i):
            print("no reply before, session %d" % i)
            return 1
        sessions.append(s)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    answered, failures = 0, []
    for i, s in enumerate(sessions):
        try:
            if chat(s, "after-%d" % i):
                answered += 1
            else:
                failures.append("session %d: no reply after" % i)
        except OSError as e:
            failures.append("session %d: %s" % (i, e))
    with open(result, "w") as f:
        f.write("answered %d of %d\n" % (answered, n))
        for line in failures:
            f.write(line + "\n")
    return 0 if answered == n else 1


if __name__ == "__main__":
    sys.exit(main())
