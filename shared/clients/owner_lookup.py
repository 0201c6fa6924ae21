"""Asking a fact's owner over HTTP when the local replica has not heard of it yet.

A replica fed by events answers almost every question; this is the fallback for an entity created
a moment ago whose event is still on its way (a customer registered a second ago, an order just
placed, an employee just hired). It never guesses:

- ``None`` ("no such thing") only on a problem+json 404 whose body names this very id in the
  resource's id field (``{"customer_id": "..."}``), or on a validation 422 whose every error is about
  the id in the path (an id the owner could never have issued);
- the owner's answer, validated against the resource's model, on a 200 about the same id;
- ``DependencyUnavailable`` (503 with Retry-After to the caller) for anything else: the owner down,
  slow, answering 5xx, a bare 404 from a proxy or a wrong URL, or a body it cannot read.

Callers ask outside their own database transaction (no lock is held while another service is
waited for) and keep the answer in their replica. One short-lived HTTP client per question: the
fallback is rare, and nothing stays open at shutdown. The token is the configured one, or one
minted with the service's JWT secret and the role ``service``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from shared.http.auth import issue_token
from shared.http.errors import DependencyUnavailable
from shared.observability.context import current_correlation_id

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
_TOKEN_TTL = timedelta(minutes=5)
_TOKEN_REUSE_SECONDS = 240.0


@dataclass(frozen=True)
class OwnerResource(Generic[M]):
    """One kind of entity an owner serves: ``GET {base}{path}`` with ``{id}`` in the path.

    ``id_field`` is the problem extension the owner's 404 names the id in (``customer_id``), and
    also, unless ``path_param`` says otherwise, the path parameter a 422 would point at. The
    answer's ``answer_id_field`` must equal the id asked about.
    """

    name: str
    path: str
    id_field: str
    model: type[M]
    path_param: str | None = None
    answer_id_field: str = "id"

    def url_path(self, entity_id: str) -> str:
        return self.path.replace("{id}", quote(entity_id, safe=""))


class OwnerClient:
    """Questions to one owning service (customers, orders, incentives, ...)."""

    def __init__(self, *, owner: str, base_url: str, timeout_seconds: float, token: str | None = None,
                 jwt_secret: str | None = None, subject: str = "service",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.owner = owner
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self._static_token = token
        self._secret = jwt_secret
        self._subject = subject
        self._transport = transport
        self._minted: tuple[str, float] | None = None

    def _token(self) -> str:
        if self._static_token:
            return self._static_token
        if not self._secret:
            raise DependencyUnavailable(f"no credentials to ask the {self.owner} service: configure its token",
                                        dependency=self.owner)
        if self._minted is None or time.monotonic() - self._minted[1] > _TOKEN_REUSE_SECONDS:
            token = issue_token(secret=self._secret, subject=self._subject, roles=["service"], ttl=_TOKEN_TTL)
            self._minted = (token, time.monotonic())
        return self._minted[0]

    async def fetch(self, resource: OwnerResource[M], entity_id: str) -> M | None:
        """The entity as its owner knows it; None when the owner says there is no such entity."""
        ids = {resource.id_field: entity_id, "dependency": self.owner}
        unavailable = f"the {self.owner} service could not confirm {resource.name} {entity_id}; try again shortly"
        headers = {"Authorization": f"Bearer {self._token()}", "X-Request-ID": current_correlation_id(),
                   "Accept": "application/json"}
        try:
            async with (
                asyncio.timeout(self.timeout * 2),
                httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, transport=self._transport,
                                  follow_redirects=False) as client,
            ):
                response = await client.get(resource.url_path(entity_id), headers=headers)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            log.warning("owner unreachable", extra={"owner": self.owner, "entity": resource.name,
                                                    "entity_id": entity_id, "error": repr(exc)})
            raise DependencyUnavailable(unavailable, **ids) from exc
        if response.status_code == 404 and _names_the_id(response, resource.id_field, entity_id):
            return None
        if response.status_code == 422 and _refuses_the_path_id(response, resource.path_param or resource.id_field):
            return None
        if response.status_code != 200:
            log.warning("owner answered an error", extra={"owner": self.owner, "entity": resource.name,
                                                         "entity_id": entity_id, "status": response.status_code})
            raise DependencyUnavailable(unavailable, dependency_status=response.status_code, **ids)
        try:
            answer = resource.model.model_validate_json(response.content)
        except ValidationError as exc:
            raise DependencyUnavailable(f"the {self.owner} service answered something this service cannot read",
                                        **ids) from exc
        if getattr(answer, resource.answer_id_field, None) != entity_id:
            raise DependencyUnavailable(f"the {self.owner} service answered about another {resource.name}", **ids)
        return answer


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _names_the_id(response: httpx.Response, id_field: str, entity_id: str) -> bool:
    """A 404 problem about this very entity; a bare 404 (a wrong URL, a proxy) proves nothing."""
    body = _json_body(response)
    return isinstance(body, dict) and body.get(id_field) == entity_id


def _refuses_the_path_id(response: httpx.Response, path_param: str) -> bool:
    """A validation problem about the id in the path, and about nothing else."""
    body = _json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return False
    return all(isinstance(e, dict) and e.get("loc") == ["path", path_param] for e in errors)
