#!/usr/bin/env python3
"""Checks socketd's udp-log records in the journal.

usage: journalctl -u socketd SOCKETD_SERVICE=udp -o json | check_udp_journal.py PAYLOAD...

PAYLOADs are given like to `clients.py udp` (\\xHH escapes decoded). Passes
(exit 0) if there is exactly one record per payload, in order, each with the
datagram MESSAGE_ID, SOCKETD_SERVICE=udp, SOCKETD_PEER=127.0.0.1:PORT,
SOCKETD_BYTES = the payload's size, a single-line MESSAGE ending in the
escaped payload, and SOCKETD_PAYLOAD = the escaped payload.
With --count-only it prints the number of records and exits 0.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import decode_arg, escape  # noqa: E402

DATAGRAM_ID = "8d0b4b1f6a2e4f0c9f3c1a7e5d2b6c08"


def text(value):
    """journalctl -o json gives non-printable fields as arrays of bytes."""
    if isinstance(value, list):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def main(argv):
    records = [json.loads(line) for line in sys.stdin if line.strip()]
    if argv[1:2] == ["--count-only"]:
        print(len(records))
        return 0
    payloads = [decode_arg(p) for p in argv[1:]]
    problems = []
    if len(records) != len(payloads):
        problems.append("%d records for %d datagrams sent" % (len(records), len(payloads)))
    for i, (rec, payload) in enumerate(zip(records, payloads)):
        msg = text(rec.get("MESSAGE", ""))
        want = escape(payload)
        where = "record %d (%r)" % (i + 1, msg)
        if "\n" in msg or "\r" in msg:
            problems.append(where + ": MESSAGE spans several lines")
        if not msg.endswith(": " + want):
            problems.append(where + ": does not end with the escaped payload %r" % want)
        if rec.get("MESSAGE_ID") != DATAGRAM_ID:
            problems.append(where + ": MESSAGE_ID=%r" % rec.get("MESSAGE_ID"))
        if rec.get("SOCKETD_SERVICE") != "udp":
            problems.append(where + ": SOCKETD_SERVICE=%r" % rec.get("SOCKETD_SERVICE"))
        if not re.fullmatch(r"127\.0\.0\.1:[0-9]+", text(rec.get("SOCKETD_PEER", ""))):
            problems.append(where + ": SOCKETD_PEER=%r" % rec.get("SOCKETD_PEER"))
        if rec.get("SOCKETD_BYTES") != str(len(payload)):
            problems.append(where + ": SOCKETD_BYTES=%r, sent %d" % (rec.get("SOCKETD_BYTES"), len(payload)))
        if text(rec.get("SOCKETD_PAYLOAD", "")) != want:
            problems.append(where + ": SOCKETD_PAYLOAD=%r" % rec.get("SOCKETD_PAYLOAD"))
        if rec.get("_SYSTEMD_UNIT") != "socketd.service":
            problems.append(where + ": _SYSTEMD_UNIT=%r" % rec.get("_SYSTEMD_UNIT"))
    for p in problems:
        print("journal: " + p)
    if not problems:
        print("journal: %d udp records, fields and escaping as expected" % len(records))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
