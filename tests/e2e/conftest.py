"""The whole system for end-to-end stories: five service processes, a broker, PostgreSQL, the gateway.

Started the way `pelanggan run --postgres` starts it (`pelanggan.local_system`): each service is its own
process served by `shared.http.server`, with a database of its own on the session's PostgreSQL, a
private Kafka broker (so the story's topics hold the story's events only) and Debian's nginx running
the repository's gateway configuration in front. Each service's log goes to a file of its own, so a
correlation id can be followed through the services' JSON logs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pelanggan import local_system as system
from pelanggan.services import built_services
from shared.bus.kafka import ensure_topics
from shared.events.registry import dead_letter_topic, service_topic
from shared.infra.kafka import LocalKafka
from shared.testing.apps import bearer, free_port
from shared.testing.infra import PostgresServer, outage_broker

ADMIN = bearer("admin", subject="e2e-admin")


@dataclass
class RunningSystem:
    gateway: str
    services: dict[str, system.Service]
    bootstrap: str
    database_urls: dict[str, str]
    logs: dict[str, Path]
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.services[service].url

    def log_lines(self, service: str) -> list[dict[str, Any]]:
        lines = []
        for raw in self.logs[service].read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return lines


@pytest.fixture(scope="session")
def e2e_broker() -> Iterator[LocalKafka]:
    broker = outage_broker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.home, ignore_errors=True)


@pytest.fixture(scope="session")
async def running_system(e2e_broker: LocalKafka, postgres: PostgresServer,
                         tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    assert system.nginx_available(), "the gateway test needs Debian's nginx (apt-get install nginx)"
    specs = built_services()
    topics = [service_topic(s.name) for s in specs]
    await ensure_topics(e2e_broker.bootstrap, topics + [dead_letter_topic(t) for t in topics])
    logs_dir = tmp_path_factory.mktemp("e2e-logs")
    plan = system.plan(only=None, ports={s.name: free_port() for s in specs}, data_dir=logs_dir / "data",
                       kafka_port=e2e_broker.port, gateway_port=free_port(), workers=1, postgres_port=None,
                       seed=False, start_kafka=False)
    database_urls = {s.name: postgres.async_url(await postgres.create_database(prefix=f"e2e_{s.name}"))
                     for s in specs}
    running = RunningSystem(gateway="", services={s.name: s for s in plan.services}, bootstrap=e2e_broker.bootstrap,
                            database_urls=database_urls, logs={})
    gateway: system.Gateway | None = None
    try:
        for service in plan.services:
            env = system.service_env(plan, service, database_urls)
            env["PELANGGAN_KAFKA_BOOTSTRAP"] = e2e_broker.bootstrap
            env[f"{service.spec.env_prefix}RELAY_IDLE_SECONDS"] = "0.2"
            env[f"{service.spec.env_prefix}CONSUMER_BACKOFF_SECONDS"] = "0.1"
            running.logs[service.name] = logs_dir / f"{service.name}.log"
            running.children[service.name] = await asyncio.to_thread(
                _start_service, service, env, running.logs[service.name])
        await asyncio.to_thread(system.wait_ready, plan.services, running.children)
        gateway = system.Gateway(plan.gateway_port or free_port(),
                                 {s.name: f"127.0.0.1:{s.port}" for s in plan.services})
        await asyncio.to_thread(gateway.start)
        running.gateway = gateway.url
        yield running
    finally:
        if gateway is not None:
            await asyncio.to_thread(gateway.stop)
        await asyncio.to_thread(system.stop_children, running.children)


def _start_service(service: system.Service, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(system.server_command(service, 1), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
async def gateway(running_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running_system.gateway, timeout=30) as client:
        yield client


async def eventually(check: Any, *, timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll ``check`` (a callable, sync or async, returning a truthy value when done) until it holds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s; last: {last!r}")
