"""HTTP to the five services for the seed: retries on outages, a request counter, optional fields probed.

Each POST that takes an Idempotency-Key gets one derived from the seed and the entity's plan key, so a
re-run after a crash gets the first answer back instead of a second entity.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("customers", "orders", "feedback", "incentives", "analytics")
DEFAULT_URLS = {name: f"http://127.0.0.1:{8001 + n}" for n, name in enumerate(SERVICES)}
# Optional instants the services may not take yet (another change adds some): dropped when a service's
# OpenAPI document does not list them, so the seed still runs, with "now" instead of history.
BACKDATING = {
    ("customers", "CustomerCreate"): ("registered_at",),
    ("orders", "OrderCreate"): ("placed_at",),
    ("orders", "PaymentCreate"): ("paid_at",),
    ("orders", "CancelRequest"): ("cancelled_at",),
    ("orders", "ReturnCreate"): ("returned_at",),
    ("feedback", "CaseCreate"): ("received_at",),
    ("feedback", "ResponseCreate"): ("occurred_at",),
    ("feedback", "ResolveRequest"): ("occurred_at",),
    ("feedback", "RatingCreate"): ("occurred_at",),
}
RETRYABLE = {429, 502, 503, 504}


class SeedError(Exception):
    """The seed stopped; the message says where and why."""


class Unreachable(SeedError):
    """A service does not answer at all."""


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Services:
    urls: dict[str, str]
    token: str
    seed: int
    timeout: float = 30.0
    requests: int = 0
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    supported: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    async def __aenter__(self) -> Services:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        for name, url in self.urls.items():
            self.clients[name] = httpx.AsyncClient(base_url=url, timeout=self.timeout, limits=limits,
                                                   headers={"Authorization": f"Bearer {self.token}"})
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def check_reachable(self) -> None:
        """Every service answers /readyz, and what optional fields each input takes is known."""
        missing: list[str] = []
        for name, client in self.clients.items():
            try:
                ready = await client.get("/readyz")
                document = (await client.get("/openapi.json")).json()
            except httpx.HTTPError as exc:
                missing.append(f"{name} at {client.base_url} ({type(exc).__name__})")
                continue
            if ready.status_code != 200:
                missing.append(f"{name} at {client.base_url} (readyz {ready.status_code})")
                continue
            schemas = document.get("components", {}).get("schemas", {})
            for (service, schema), _fields in BACKDATING.items():
                if service == name:
                    self.supported[(service, schema)] = set(schemas.get(schema, {}).get("properties", {}))
        if missing:
            raise Unreachable("not reachable: " + "; ".join(missing) + ". Start the system with `pelanggan run`, "
                              "or give the URLs (--customers-url ...).")

    def fit(self, service: str, schema: str, body: dict) -> dict:
        """The body without the optional instants this service's input does not know."""
        known = self.supported.get((service, schema))
        dropped = [f for f in BACKDATING.get((service, schema), ()) if known is not None and f not in known]
        return {k: v for k, v in body.items() if k not in dropped}

    def key(self, entity: str) -> str:
        return f"pelanggan-seed-{self.seed}-{entity}"

    async def call(self, service: str, method: str, path: str, *, json: Any = None, params: dict | None = None,
                   idempotency: str | None = None, accept: tuple[int, ...] = (200, 201),
                   attempts: int = 8) -> Answer:
        headers = {"Idempotency-Key": self.key(idempotency)} if idempotency else None
        client = self.clients[service]
        delay = 0.2
        for attempt in range(attempts):
            self.requests += 1
            try:
                answer = await client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == attempts - 1:
                    raise Unreachable(f"{service} stopped answering ({method} {path}: {type(exc).__name__})") from exc
            else:
                if answer.status_code in accept:
                    return Answer(answer.status_code, answer.json() if answer.content else None)
                if answer.status_code not in RETRYABLE:
                    raise SeedError(f"{service} refused {method} {path}: {answer.status_code} {answer.text[:400]}")
                retry_after = answer.headers.get("Retry-After", "")
                delay = max(delay, float(retry_after)) if retry_after.isdigit() else delay
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise SeedError(f"{service} kept answering {method} {path} with an outage after {attempts} attempts")

    async def until_known(self, service: str, method: str, path: str, *, json: Any = None,
                          timeout: float = 120.0) -> Answer:
        """Send until the service has heard of the entity through the bus (404 meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answer = await self.call(service, method, path, json=json, accept=(200, 201, 404))
            if answer.status != 404:
                return answer
            if loop.time() > deadline:
                raise SeedError(f"{service} did not hear of {path} within {timeout:.0f} s: {answer.body}")
            await asyncio.sleep(0.5)

    async def all_pages(self, service: str, path: str, params: dict | None = None) -> list[dict]:
        items: list[dict] = []
        query = {**(params or {}), "limit": 200}
        while True:
            page = (await self.call(service, "GET", path, params=query)).body
            items.extend(page["items"])
            if not page.get("next_cursor"):
                return items
            query["cursor"] = page["next_cursor"]
