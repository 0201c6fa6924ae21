"""Running service apps in tests: in-process through ASGI, or on a real loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from shared.config import LOCAL_JWT_SECRET
from shared.http.auth import issue_token
from shared.http.server import server_config


def bearer(role: str, subject: str = "tester", secret: str = LOCAL_JWT_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret=secret, subject=subject, roles=[role])}"}


@asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (migrations, relay, consumers) and a client talking ASGI to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def served(app: FastAPI, port: int | None = None, **config: Any) -> AsyncIterator[str]:
    """The app served on 127.0.0.1 as in production (``server_config``); yields its base URL.

    Stopping it is a real outage. ``config`` overrides the server configuration (e.g. a short
    ``header_read_timeout`` for a test of it).
    """
    port = port or free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, **{"log_level": "warning", **config}))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
