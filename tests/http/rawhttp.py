"""HTTP/1.1 over a raw socket, for what a client library hides: kept-alive connections, unfinished heads."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11

READ_TIMEOUT = 30.0


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ConnectionClosedByServer(AssertionError):
    pass


class RawConnection:
    """One TCP connection; each ``request`` must come back on it (the server may not close it)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, base_url: str) -> RawConnection:
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def request(self, method: str, target: str, *, headers: dict[str, str] | None = None,
                      json_body: Any = None) -> RawResponse:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = [("Host", "testserver"), ("Content-Length", str(len(body))), *(headers or {}).items()]
        if json_body is not None:
            head.append(("Content-Type", "application/json"))
        self.writer.write(self.conn.send(h11.Request(method=method, target=target, headers=head)))
        self.writer.write(self.conn.send(h11.Data(data=body)) or b"")
        self.writer.write(self.conn.send(h11.EndOfMessage()) or b"")
        await self.writer.drain()
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await asyncio.wait_for(self.reader.read(65536), READ_TIMEOUT))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionClosedByServer("the server closed the connection instead of answering")
        assert response is not None
        headers_out = {name.decode().lower(): value.decode() for name, value in response.headers}
        if self.conn.their_state is h11.MUST_CLOSE:
            raise ConnectionClosedByServer(f"the server answered {response.status_code} and closes the connection")
        return RawResponse(response.status_code, headers_out, b"".join(chunks))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
