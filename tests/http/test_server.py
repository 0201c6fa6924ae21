"""The HTTP edges, against a real served app: bounded request heads (PITFALLS 25), no Host-built redirects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from shared.http.server import MAX_HEADER_BYTES, GuardedH11Protocol, server_config
from shared.testing.apps import served
from shared.testing.infra import PostgresServer
from tests.http.conftest import MANAGER, assert_problem, service_app
from tests.http.rawhttp import RawConnection

pytestmark = pytest.mark.integration

READ_LIMIT = 30.0  # seconds a test waits for an answer that must come much sooner


@pytest.fixture(scope="module")
async def app(postgres: PostgresServer) -> FastAPI:
    return service_app("customers", postgres.async_url(await postgres.create_database(prefix="hsrv")))


@pytest.fixture(scope="module")
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    # A short header timeout keeps the slow-client tests short; the production default is 10 s.
    async with served(app, header_read_timeout=1.0) as url:
        yield url


async def _open(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(base_url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes; a hang (the server waiting on) fails the test."""
    received = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), READ_LIMIT):
            received += chunk
    except ConnectionResetError:
        pass
    return received


async def _trickle(writer: asyncio.StreamWriter, seconds: float = READ_LIMIT) -> None:
    """One byte every 0.1 s, for far longer than the server's header timeout, until it hangs up."""
    try:
        for _ in range(int(seconds * 10)):
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.1)
    except (ConnectionResetError, BrokenPipeError):
        pass


def test_services_are_served_by_the_guarded_h11_protocol() -> None:
    config = server_config("services.customers.app:create_app", host="127.0.0.1", port=1, factory=True)
    assert config.http is GuardedH11Protocol
    assert config.h11_max_incomplete_event_size == MAX_HEADER_BYTES


async def test_a_request_head_over_the_limit_is_431_and_closed(base_url: str) -> None:
    reader, writer = await _open(base_url)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 4096))  # unfinished
    await writer.drain()
    answer = await _read_until_closed(reader)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    writer.close()


async def test_an_unfinished_50_mb_head_is_cut_off_long_before_50_mb(base_url: str) -> None:
    _reader, writer = await _open(base_url)
    writer.write(b"POST /customers HTTP/1.1\r\nHost: t\r\nX-Big: ")
    chunk, sent, cut_off = b"a" * 65536, 0, False
    try:
        while sent < 50 * 1024 * 1024:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        cut_off = True
    # A server that kept reading would take all 50 MB (into memory); this one hung up after its limit.
    assert cut_off, "the server read all 50 MB of an unfinished head"
    assert sent < 50 * 1024 * 1024
    writer.close()


async def test_a_head_trickled_slowly_is_cut_off(base_url: str) -> None:
    reader, writer = await _open(base_url)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    trickling = asyncio.create_task(_trickle(writer))
    answer = await _read_until_closed(reader)
    trickling.cancel()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    writer.close()


async def test_a_later_request_trickled_on_a_kept_alive_connection_is_cut_off_too(base_url: str) -> None:
    connection = await RawConnection.open(base_url)
    assert (await connection.request("GET", "/healthz")).status == 200
    connection.writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    trickling = asyncio.create_task(_trickle(connection.writer))
    answer = await _read_until_closed(connection.reader)
    trickling.cancel()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    await connection.close()


async def test_a_connection_that_never_sends_is_closed(base_url: str) -> None:
    reader, writer = await _open(base_url)
    assert await _read_until_closed(reader) == b""
    writer.close()


async def test_heads_that_arrive_in_time_are_served_as_usual(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        big_but_fine = {"X-Note": "n" * (MAX_HEADER_BYTES // 2)}
        assert (await client.get("/healthz", headers=big_but_fine)).status_code == 200
        assert (await client.get("/customers", headers=MANAGER)).status_code == 200


async def test_no_redirect_takes_its_location_from_the_host_header(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/customers/", headers={**MANAGER, "Host": "evil.example"})
    assert "location" not in response.headers
    assert_problem(response, 404)
