#!/usr/bin/env python3
"""The classic socket-tutorial clients, as checks for socketd_systemd_test.sh.

Each subcommand behaves on the wire like the classic client it is named after
(see README.md, "Services and their wire protocols"), verifies what it receives,
prints one line saying what it saw, and exits 0 if everything matched, 1 otherwise.

  interactive PORT [GREETING] MSG...  chat: greeting, echo+digits, `exit` closes
  greet PORT GREETING                 connect and expect GREETING as first bytes
                                      (retries connecting until the deadline)
  udp PORT PAYLOAD...                 one datagram per argument (\\xHH escapes
                                      are decoded, so control bytes can be sent)
  send-file PORT FILE                 the classic file sender, then waits for the
                                      durable `success`
  refused PORT                        TCP connect must be refused
  closed PORT                         TCP connect is accepted, then closed with
                                      no byte sent (a refused PROXY peer)
  hold PORT GREETING READY GO         connect, read greeting, create READY, wait
                                      for GO to exist, then chat once and `exit`
  escape PAYLOAD                      print socketd's escaping of PAYLOAD
                                      (same decoding as `udp`)

With SOCKETD_CLIENT_SOURCE=ADDR in the environment, TCP clients bind to ADDR
(e.g. 127.0.0.2, another client than the proxies on 127.0.0.1) and end their
line with "from ADDR:PORT".
"""
import os
import re
import socket
import sys
import time

TIMEOUT = 10.0
SOURCE = os.environ.get("SOCKETD_CLIENT_SOURCE", "")


def fail(msg):
    print("client: " + msg)
    sys.exit(1)


def decode_arg(text):
    """Argument -> bytes; \\xHH, \\n, \\t, \\\\ are decoded."""
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1")


def escape(payload):
    """socketd's payload escaping (README: udp-log), for ASCII + valid UTF-8."""
    out = []
    text = payload.decode("utf-8", errors="surrogateescape")
    for ch in text:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif 0xDC80 <= o <= 0xDCFF:  # an undecodable byte
            out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0 or o in (0x2028, 0x2029):
            for b in ch.encode("utf-8"):
                out.append("\\x%02x" % b)
        else:
            out.append(ch)
    return "".join(out)


def connect(port, deadline=None):
    deadline = deadline or time.monotonic() + TIMEOUT
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            if SOURCE:
                s.bind((SOURCE, 0))
            s.connect(("127.0.0.1", port))
            return s
        except OSError as e:
            s.close()
            if time.monotonic() >= deadline:
                fail("cannot connect to 127.0.0.1:%d: %s" % (port, e))
            time.sleep(0.1)


def recv_exact(s, n, what):
    data = b""
    while len(data) < n:
        try:
            chunk = s.recv(1024)
        except socket.timeout:
            fail("timeout waiting for %s (got %r)" % (what, data))
        if not chunk:
            fail("connection closed while waiting for %s (got %r)" % (what, data))
        data += chunk
    return data


def expect_greeting(s, greeting):
    got = recv_exact(s, len(greeting), "the greeting")
    if got != greeting:
        fail("greeting %r, expected %r" % (got, greeting))


def chat_once(s, msg):
    """Send one message (no newline), check reply = message + digits in [1, 1000]."""
    s.sendall(msg)
    reply = recv_exact(s, len(msg) + 1, "the reply to %r" % msg)
    # The digits may in theory trail in a second segment: give them a moment.
    s.settimeout(0.2)
    try:
        while len(reply) < len(msg) + 4:
            more = s.recv(1024)
            if not more:
                break
            reply += more
    except socket.timeout:
        pass
    s.settimeout(TIMEOUT)
    if not reply.startswith(msg):
        fail("reply %r does not start with the message %r" % (reply, msg))
    digits = reply[len(msg):]
    if not re.fullmatch(rb"[0-9]+", digits) or not 1 <= int(digits) <= 1000:
        fail("reply %r: %r is not a number in [1, 1000]" % (reply, digits))
    return int(digits)


def expect_closed(s, what):
    try:
        rest = s.recv(1024)
    except socket.timeout:
        fail("%s did not close the connection" % what)
    except ConnectionResetError:
        fail("%s reset the connection instead of closing it" % what)
    if rest:
        fail("unexpected bytes after %s: %r" % (what, rest))


def origin(s):
    """" from ADDR:PORT" when the client binds to SOCKETD_CLIENT_SOURCE."""
    return " from %s:%d" % s.getsockname() if SOURCE else ""


def cmd_interactive(port, greeting, *msgs):
    s = connect(int(port))
    expect_greeting(s, greeting.encode())
    numbers = [chat_once(s, m.encode()) for m in msgs]
    s.sendall(b"exit")
    expect_closed(s, "exit")
    print("interactive %s: greeting %r, %d replies %s, exit closed%s"
          % (port, greeting, len(numbers), numbers, origin(s)))


def cmd_greet(port, greeting):
    s = connect(int(port), time.monotonic() + 20)
    expect_greeting(s, greeting.encode())
    s.sendall(b"exit")
    expect_closed(s, "exit")
    print("greet %s: %r" % (port, greeting))


def cmd_udp(port, *payloads):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in payloads:
        s.sendto(decode_arg(p), ("127.0.0.1", int(port)))
    print("udp %s: sent %d datagrams" % (port, len(payloads)))


def cmd_send_file(port, path):
    s = connect(int(port))
    lines = 0
    with open(path, "rb") as f:
        for line in f:  # line ending included, like the classic sender
            s.sendall(line)
            ack = s.recv(1024)
            if ack != b"success":
                fail("line %d: ack %r, expected b'success'" % (lines + 1, ack))
            lines += 1
    s.sendall(b"quit")
    ack = recv_exact(s, len(b"success"), "the durable acknowledgement")
    if ack != b"success":
        fail("durable ack %r" % ack)
    print("send-file %s: %d lines acked, upload durable%s" % (port, lines, origin(s)))


def cmd_refused(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect(("127.0.0.1", int(port)))
    except ConnectionRefusedError:
        print("refused %s: connection refused" % port)
        return
    fail("connect to %s was accepted, expected it to be refused" % port)


def cmd_closed(port):
    s = connect(int(port))
    expect_closed(s, "the server")
    print("closed %s: accepted, then closed without a byte%s" % (port, origin(s)))


def cmd_hold(port, greeting, ready, go):
    s = connect(int(port))
    expect_greeting(s, greeting.encode())
    with open(ready, "w") as f:
        f.write("%d\n" % os.getpid())
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            fail("no go file %s within 120 s" % go)
        time.sleep(0.05)
    n = chat_once(s, b"still here after the reload")
    s.sendall(b"exit")
    expect_closed(s, "exit")
    print("hold %s: the held connection still answered (%d) and closed on exit" % (port, n))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "escape":
        print(escape(decode_arg(args[0])))
        return 0
    handlers = {
        "interactive": cmd_interactive,
        "greet": cmd_greet,
        "udp": cmd_udp,
        "send-file": cmd_send_file,
        "refused": cmd_refused,
        "closed": cmd_closed,
        "hold": cmd_hold,
    }
    if cmd not in handlers:
        print(__doc__)
        return 2
    handlers[cmd](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
