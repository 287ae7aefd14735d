"""A stand-in for `kubectl port-forward` / kr8s' forward: a TCP relay in its own process.

Usage: python tcp_relay.py TARGET_HOST TARGET_PORT [LOCAL_PORT] — prints the port it listens on
(LOCAL_PORT, or a free one), then relays
every connection to the target until killed. Killing it is how the tests drop "the forward".
"""

from __future__ import annotations

import asyncio
import sys


async def main(host: str, port: int, local_port: int = 0) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", local_port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0))
