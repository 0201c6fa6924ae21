"""How every service is served: uvicorn with bounded request headers, in time and in size.

uvicorn's httptools parser showed no header-size limit (unfinished 50 MB headers from
unauthenticated clients took a service from 143 to 642 MB), and uvicorn has no timeout for
reading a request's headers (``timeout_keep_alive`` covers only the idle time between requests,
and is cancelled by the first byte: uvicorn issue #157 lists ``--timeout-request-start`` as
never done). So services run on the h11 parser, whose buffer for an incomplete request head is
bounded, through :class:`GuardedH11Protocol`, which answers an oversized head with 431 and
closes a connection whose head is not complete within the header timeout (408 if it had begun).

Entry point (what ``pelanggan run`` and the Dockerfile start)::

    python -m shared.http.server services.customers.app:create_app --host 0.0.0.0 --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import h11
import uvicorn
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

log = logging.getLogger(__name__)

# A request head (request line and headers) larger than this is refused with 431. Bearer tokens
# from an identity provider run to a few kilobytes; nothing legitimate comes near 64 KiB.
MAX_HEADER_BYTES = 64 * 1024
# The whole head must arrive within this many seconds of the connection opening (or of the first
# byte of a later request on a kept-alive connection).
HEADER_READ_TIMEOUT_SECONDS = 10.0


def _plain_response(status: int, reason: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


class ServerConfig(uvicorn.Config):
    """``uvicorn.Config`` with the header-read timeout :class:`GuardedH11Protocol` enforces."""

    def __init__(self, app: Any, *, header_read_timeout: float = HEADER_READ_TIMEOUT_SECONDS, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_read_timeout = header_read_timeout


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head and a 431 for an oversized one."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_read_timeout = float(getattr(config, "header_read_timeout", HEADER_READ_TIMEOUT_SECONDS))
        self.header_deadline: asyncio.TimerHandle | None = None
        self.head_started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            if self.header_deadline is None:  # a later request on a kept-alive connection
                self._arm_header_deadline()
            self.head_started = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def send_400_response(self, msg: str) -> None:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        if len(self.conn.trailing_data[0]) > limit:
            # h11 stops buffering an incomplete head at the limit (its hint is 431, uvicorn sends 400).
            log.warning("request head too large", extra={"client": self.client, "limit_bytes": limit})
            self._refuse(431, "Request Header Fields Too Large", f"the request head exceeds {limit} bytes")
            return
        super().send_400_response(msg)

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
        self.header_deadline = self.loop.call_later(self.header_read_timeout, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None
        self.head_started = False

    def _header_deadline_passed(self) -> None:
        self.header_deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.head_started:
            log.info("request head not received in time", extra={"client": self.client,
                                                                 "timeout_seconds": self.header_read_timeout})
            self._refuse(408, "Request Timeout", "the request head did not arrive in time")
        else:  # opened and never used: nothing to answer
            self.transport.close()

    def _refuse(self, status: int, reason: str, text: str) -> None:
        self.transport.write(_plain_response(status, reason, text))
        self.transport.close()


def server_config(app: Any, *, host: str, port: int, factory: bool = False,
                  header_read_timeout: float = HEADER_READ_TIMEOUT_SECONDS,
                  max_header_bytes: int = MAX_HEADER_BYTES, **overrides: Any) -> ServerConfig:
    """The one server configuration of every service (tests' ``served()`` use it too)."""
    settings: dict[str, Any] = {
        "http": GuardedH11Protocol,
        "h11_max_incomplete_event_size": max_header_bytes,
        "lifespan": "on",
        # uvicorn's own records go to the root logger, which the services format as JSON lines.
        "log_config": None,
        "access_log": False,
        **overrides,
    }
    return ServerConfig(app, host=host, port=port, factory=factory, header_read_timeout=header_read_timeout,
                        **settings)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.http.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("factory", help="the app factory, e.g. services.customers.app:create_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port (PostgreSQL only: SQLite stays single-process)")
    args = parser.parse_args(argv)
    config = server_config(args.factory, host=args.host, port=args.port, factory=True, workers=args.workers)
    try:
        if config.workers > 1:
            # uvicorn's supervisor: one listening socket, N worker processes each running this config.
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on SIGINT, then re-raises the signal it captured: the stop was
        # asked for (Ctrl-C, `pelanggan run` stopping its children), not a crash worth a traceback.
        pass


if __name__ == "__main__":
    main()
