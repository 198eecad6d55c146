#!/usr/bin/env python3
"""asyncio chat server (one event loop, one thread), for bench/compare.

asyncio Protocol (callbacks, no streams layer) on the default event loop.
Byte-compatible with socketd's chat mode, framing "chunk" (README.md):
greeting on accept; each data_received() is one message, answered with the
message bytes followed by a random integer in [1, 1000] as decimal digits, in
one write; a message equal to "exit" (one trailing \\n or \\r\\n ignored) closes.

usage: chat_asyncio.py PORT [GREETING [BACKLOG]]   (prints "ready PORT")
"""
import asyncio
import random
import signal
import sys

rnd = random.Random()  # seeded from os.urandom


class Chat(asyncio.Protocol):
    greeting = b"success!"

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.greeting)

    def data_received(self, data):
        word = data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data
        if word == b"exit":
            self.transport.close()
            return
        self.transport.write(data + str(rnd.randint(1, 1000)).encode())


async def main():
    port = int(sys.argv[1])
    Chat.greeting = (sys.argv[2] if len(sys.argv) > 2 else "success!").encode()
    backlog = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Chat, "127.0.0.1", port, backlog=backlog, reuse_address=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())
