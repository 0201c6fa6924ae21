"""Asking customers and orders about ids the replicas have not heard of yet (shared OwnerClient).

The answers are kept in the replicas by the router, in a transaction of their own, before the
request's transaction is tried again. ``OwnerDirectory`` is the port: tests replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from services.feedback.config import FeedbackSettings
from shared.clients.owner_lookup import OwnerClient, OwnerResource
from shared.events.types import UtcDatetime


@dataclass(frozen=True)
class CustomerFacts:
    customer_id: str
    status: Literal["active", "merged", "erased"]
    segment: str | None
    merged_into_id: str | None
    observed_at: datetime
    revision: int | None = None


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    customer_id: str
    status: str
    lines: list[dict[str, object]]  # [{"line_no": 1, "product_id": "..."}]
    observed_at: datetime


@dataclass(frozen=True)
class ProductFacts:
    product_id: str
    name: str
    category: str | None
    active: bool
    observed_at: datetime


class OwnerDirectory(Protocol):
    async def customer(self, customer_id: str) -> CustomerFacts | None: ...

    async def order(self, order_id: str) -> OrderFacts | None: ...

    async def product(self, product_id: str) -> ProductFacts | None: ...


class _CustomerAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    status: Literal["active", "merged", "erased"]
    segment: str | None = None
    merged_into_id: str | None = None
    updated_at: UtcDatetime
    revision: int | None = None


class _OrderLineAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    line_no: int
    product_id: str


class _OrderAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    customer_id: str
    status: str
    lines: list[_OrderLineAnswer]
    updated_at: UtcDatetime


class _ProductAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    category: str | None = None
    active: bool
    updated_at: UtcDatetime


CUSTOMER = OwnerResource(name="customer", path="/customers/{id}", id_field="customer_id", model=_CustomerAnswer)
ORDER = OwnerResource(name="order", path="/orders/{id}", id_field="order_id", model=_OrderAnswer)
PRODUCT = OwnerResource(name="product", path="/products/{id}", id_field="product_id", model=_ProductAnswer)


class HttpOwnerDirectory:
    def __init__(self, settings: FeedbackSettings) -> None:
        common = {"timeout_seconds": settings.owner_timeout_seconds, "jwt_secret": settings.jwt_secret,
                  "subject": settings.service_name}
        self.customers = OwnerClient(owner="customers", base_url=settings.customers_url,
                                     token=settings.customers_token, **common)  # type: ignore[arg-type]
        self.orders = OwnerClient(owner="orders", base_url=settings.orders_url, token=settings.orders_token,
                                  **common)  # type: ignore[arg-type]

    async def customer(self, customer_id: str) -> CustomerFacts | None:
        answer = await self.customers.fetch(CUSTOMER, customer_id)
        if answer is None:
            return None
        return CustomerFacts(customer_id=answer.id, status=answer.status, segment=answer.segment,
                             merged_into_id=answer.merged_into_id, observed_at=answer.updated_at,
                             revision=answer.revision)

    async def order(self, order_id: str) -> OrderFacts | None:
        answer = await self.orders.fetch(ORDER, order_id)
        if answer is None:
            return None
        return OrderFacts(order_id=answer.id, customer_id=answer.customer_id, status=answer.status,
                          lines=[{"line_no": li.line_no, "product_id": li.product_id} for li in answer.lines],
                          observed_at=answer.updated_at)

    async def product(self, product_id: str) -> ProductFacts | None:
        answer = await self.orders.fetch(PRODUCT, product_id)
        if answer is None:
            return None
        return ProductFacts(product_id=answer.id, name=answer.name, category=answer.category, active=answer.active,
                            observed_at=answer.updated_at)
