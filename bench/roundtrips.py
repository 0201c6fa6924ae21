"""Counting what a client asks PostgreSQL: round trips on the wire, and statements by kind.

**Round trips** are counted by a TCP proxy between the client and the server: one round trip
each time the server answers after the client spoke (the client then waits for the server).
That is what costs latency, whatever the statement: a pool pre-ping, a ``BEGIN``, a prepare
(Parse/Describe before the first execution of a statement on a connection), an INSERT, a
pipelined ``executemany`` (one round trip for all its rows). Only the measuring pass goes
through the proxy; throughput is measured without it.

**Statements** come from ``pg_stat_statements`` (loaded by the bench on its own server, with
``track_utility`` so BEGIN/COMMIT/ROLLBACK count): calls per statement in one database between a
reset and a snapshot. It names what the round trips are spent on; it does not see an empty
query (the pre-ping's ``;``) or a prepare, which the proxy does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

import asyncpg


class RoundTripProxy:
    """``127.0.0.1:port`` forwarding to PostgreSQL at ``target``, counting round trips of every connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.round_trips = 0
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> RoundTripProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    def reset(self) -> None:
        self.round_trips = 0

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        # The last direction seen on this connection: a server answer after the client spoke is a round trip.
        state = {"client_spoke": False}

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_client: bool) -> None:
            try:
                while data := await reader.read(65536):
                    if from_client:
                        state["client_spoke"] = True
                    elif state["client_spoke"]:
                        state["client_spoke"] = False
                        self.round_trips += 1
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        tasks = [asyncio.create_task(pump(client_reader, server_writer, True)),
                 asyncio.create_task(pump(server_reader, client_writer, False))]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._tasks.difference_update(tasks)


def through_proxy(url: str, proxy: RoundTripProxy) -> str:
    """The same database URL with host and port replaced by the proxy's."""
    return re.sub(r"@[^/@]+/", f"@127.0.0.1:{proxy.port}/", url, count=1)


def host_port(url: str) -> tuple[str, int]:
    match = re.search(r"@([^/:@]+):(\d+)/", url)
    if match is None:
        raise ValueError(f"no host:port in {url}")
    return match.group(1), int(match.group(2))


@dataclass
class StatementCount:
    query: str
    calls: int


async def reset_statements(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def statements(admin_url: str, database: str) -> list[StatementCount]:
    """Calls per statement in ``database`` since the last reset, most called first."""
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch(
            "SELECT query, sum(calls)::bigint AS calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) GROUP BY query ORDER BY 2 DESC",
            database)
    finally:
        await conn.close()
    return [StatementCount(query=" ".join(r["query"].split()), calls=r["calls"]) for r in rows]


def statements_markdown(counts: list[StatementCount], per: int, limit: int = 25) -> str:
    lines = ["| calls per order | statement |", "|---:|---|"]
    for count in counts[:limit]:
        text = count.query if len(count.query) <= 160 else count.query[:157] + "..."
        text = text.replace("|", "\\|")
        lines.append(f"| {count.calls / per:.2f} | `{text}` |")
    return "\n".join(lines)
