#!/usr/bin/env python3
"""Thread-per-connection chat server: the classic design, for bench/compare.

socketserver.ThreadingTCPServer, one thread per client, blocking recv(1024).
Byte-compatible with socketd's chat mode, framing "chunk" (README.md):
greeting on accept; each recv() is one message, answered with the message
bytes followed by a random integer in [1, 1000] as decimal digits, in one
send; a message equal to "exit" (one trailing \\n or \\r\\n ignored) closes.

usage: chat_threaded.py PORT [GREETING [BACKLOG]]   (prints "ready PORT")
"""
import random
import socketserver
import sys


class ChatHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        rnd = random.Random()  # seeded from os.urandom
        sock.sendall(self.server.greeting)
        while True:
            try:
                data = sock.recv(1024)
            except OSError:
                return
            if not data:
                return
            word = data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data
            if word == b"exit":
                return
            try:
                sock.sendall(data + str(rnd.randint(1, 1000)).encode())
            except OSError:
                return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


def main():
    port = int(sys.argv[1])
    greeting = (sys.argv[2] if len(sys.argv) > 2 else "success!").encode()
    Server.request_queue_size = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
    with Server(("127.0.0.1", port), ChatHandler) as server:
        server.greeting = greeting
        print("ready", server.server_address[1], flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
