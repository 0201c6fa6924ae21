"""Asking the customers service about a customer the local replica has not heard of yet.

The replica (fed by customers events) answers almost every question; this is the fallback for a
customer registered a moment ago whose event is still on its way. It never guesses: an answer it
cannot get (owner down, slow, answering an error) is ``DependencyUnavailable`` (503), and the
order is refused rather than accepted for a customer nobody verified. "No such customer" is a
problem+json 404 naming that customer, or a validation 422 about the id in the path alone (an id
the customers service could never have issued).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from services.orders.config import OrdersSettings
from shared.events.types import UtcDatetime
from shared.http.auth import issue_token
from shared.http.errors import DependencyUnavailable
from shared.observability.context import current_correlation_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerFacts:
    """What orders keeps of a customer; ``revision`` (when the answer has one), else ``observed_at``,
    orders it against events."""

    customer_id: str
    status: Literal["active", "merged", "erased"]
    kind: str | None
    name: str | None
    segment: str | None
    manager_id: str | None
    merged_into_id: str | None
    observed_at: datetime
    revision: int | None = None


class CustomerDirectory(Protocol):
    async def lookup(self, customer_id: str) -> CustomerFacts | None:
        """The customer as its owner knows it; None when the owner says there is no such customer."""
        ...


class _CustomerAnswer(BaseModel):
    """The part of the customers API's ``CustomerPublic`` this service reads."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: Literal["active", "merged", "erased"]
    kind: str | None = None
    name: str | None = None
    segment: str | None = None
    manager_id: str | None = None
    merged_into_id: str | None = None
    updated_at: UtcDatetime
    revision: int | None = None


class HttpCustomerDirectory:
    """``GET {customers_url}/customers/{id}`` with a service token and a short, total timeout."""

    def __init__(self, settings: OrdersSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = settings.customers_url
        self.timeout = settings.customers_timeout_seconds
        self._static_token = settings.customers_token
        self._secret = settings.jwt_secret
        self._subject = settings.service_name
        self._transport = transport

    def _token(self) -> str:
        if self._static_token:
            return self._static_token
        if not self._secret:
            raise DependencyUnavailable("no credentials to ask the customers service: set ORDERS_CUSTOMERS_TOKEN")
        return issue_token(secret=self._secret, subject=self._subject, roles=["service"],
                           ttl=timedelta(minutes=5))

    async def lookup(self, customer_id: str) -> CustomerFacts | None:
        unavailable = f"the customers service could not confirm customer {customer_id}; try again shortly"
        headers = {"Authorization": f"Bearer {self._token()}", "X-Request-ID": current_correlation_id(),
                   "Accept": "application/json"}
        try:
            # One client per lookup: the fallback is rare, and nothing is left open at shutdown.
            async with (
                asyncio.timeout(self.timeout * 2),
                httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, transport=self._transport,
                                  follow_redirects=False) as client,
            ):
                response = await client.get(f"/customers/{quote(customer_id, safe='')}", headers=headers)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            log.warning("customers service unreachable", extra={"customer_id": customer_id, "error": repr(exc)})
            raise DependencyUnavailable(unavailable, customer_id=customer_id, dependency="customers") from exc
        if response.status_code == 404 and self._says_no_such_customer(response, customer_id):
            return None
        if response.status_code == 422 and self._refuses_the_id(response):
            return None  # an id the customers service could never have issued
        if response.status_code != 200:
            log.warning("customers service answered an error",
                        extra={"customer_id": customer_id, "status": response.status_code})
            raise DependencyUnavailable(unavailable, customer_id=customer_id, dependency="customers",
                                        dependency_status=response.status_code)
        try:
            answer = _CustomerAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise DependencyUnavailable("the customers service answered something this service cannot read",
                                        customer_id=customer_id, dependency="customers") from exc
        if answer.id != customer_id:
            raise DependencyUnavailable("the customers service answered about another customer",
                                        customer_id=customer_id, dependency="customers")
        return CustomerFacts(customer_id=answer.id, status=answer.status, kind=answer.kind, name=answer.name,
                             segment=answer.segment, manager_id=answer.manager_id,
                             merged_into_id=answer.merged_into_id, observed_at=answer.updated_at,
                             revision=answer.revision)

    @staticmethod
    def _says_no_such_customer(response: httpx.Response, customer_id: str) -> bool:
        """A 404 problem about this very customer; a bare 404 (a wrong URL, a proxy) proves nothing."""
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("customer_id") == customer_id

    @staticmethod
    def _refuses_the_id(response: httpx.Response) -> bool:
        """A validation problem about the path's customer id, and about nothing else."""
        try:
            body = response.json()
        except ValueError:
            return False
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list) or not errors:
            return False
        return all(isinstance(e, dict) and e.get("loc") == ["path", "customer_id"] for e in errors)
