"""Events published by the orders service on topic ``orders.events``.

Kafka key: the customer id for order and loyalty events (one customer's purchases stay in
order), the product id for catalogue events. Money is a decimal string rounded to the
currency's minor unit; every amount of an order is the sum of its rounded lines.

No free text travels (version 2 of paid, cancelled and returned dropped the payment reference and
the reasons that version 1 carried): topics are kept for rebuilds long after a customer's erasure.
Version 1 classes stay registered to read old records and subclass version 2, so a consumer parsing
with the version-2 model reads both.

Order events carry everything incentives and analytics need (lines with product, category,
quantity, unit price and cost, discount, net, margin; the sales employee; the currency), so no
consumer has to call the orders service back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events.registry import EventContract, contract
from shared.events.types import DecimalString, UtcDatetime

OrderStatus = Literal["placed", "paid", "fulfilled", "cancelled"]
TierChangeReason = Literal["accrual", "return", "cancellation", "program_changed", "reevaluation", "merge"]


# ----- catalogue ---------------------------------------------------------------------------------

class ProductSnapshot(EventContract):
    """A product as it stands after the change; ``price_effective_at`` is when price and cost took effect."""

    product_id: str
    sku: str
    name: str
    category: str
    unit_price: DecimalString
    unit_cost: DecimalString
    currency: str
    active: bool
    price_effective_at: UtcDatetime


@contract("orders.product.created", 1)
class ProductCreatedV1(ProductSnapshot):
    pass


@contract("orders.product.updated", 1)
class ProductUpdatedV1(ProductSnapshot):
    """``changed_fields`` names what changed (``unit_price`` and ``unit_cost`` start a new price period)."""

    changed_fields: list[str]


# ----- orders --------------------------------------------------------------------------------------

class Amounts(BaseModel):
    """Gross (list price x quantity), discount, net (gross - discount), cost and margin (net - cost)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    gross: DecimalString
    discount: DecimalString
    net: DecimalString
    cost: DecimalString
    margin: DecimalString


class OrderLineV1(Amounts):
    line_no: int
    product_id: str
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: DecimalString
    unit_cost: DecimalString
    discount_percent: DecimalString
    returned_quantity: int = 0


class OrderSnapshot(EventContract, Amounts):
    """The whole order: header, loyalty discount in force at placement, lines and totals."""

    order_id: str
    customer_id: str
    sales_employee_id: str
    channel: str
    currency: str
    status: OrderStatus
    loyalty_tier: str | None
    discount_percent: DecimalString
    lines: list[OrderLineV1]
    placed_at: UtcDatetime
    returned: Amounts | None = None  # what returns took back so far (None when nothing was returned)


@contract("orders.order.placed", 1)
class OrderPlacedV1(OrderSnapshot):
    placed_by: str


@contract("orders.order.paid", 2)
class OrderPaidV2(OrderSnapshot):
    """The sale counts from here: incentives and loyalty accrue the net amount."""

    paid_at: UtcDatetime
    payment_method: str | None


@contract("orders.order.paid", 1)
class OrderPaidV1(OrderPaidV2):
    """Retired: ``payment_reference`` was free text (a transfer reference often names the payer)."""

    payment_reference: str | None


@contract("orders.order.fulfilled", 1)
class OrderFulfilledV1(OrderSnapshot):
    fulfilled_at: UtcDatetime


@contract("orders.order.cancelled", 2)
class OrderCancelledV2(OrderSnapshot):
    """``reversed`` is what the cancellation takes back from a paid order (the order minus earlier
    returns); zero amounts when the order had not been paid."""

    cancelled_at: UtcDatetime
    was_paid: bool
    reversed: Amounts


@contract("orders.order.cancelled", 1)
class OrderCancelledV1(OrderCancelledV2):
    """Retired: ``reason`` was free text."""

    reason: str | None


class ReturnedLineV1(Amounts):
    line_no: int
    product_id: str
    sku: str
    category: str
    quantity: int


@contract("orders.order.returned", 2)
class OrderReturnedV2(EventContract, Amounts):
    """One return of goods from a paid order: amounts pro-rated exactly from the lines' recorded net."""

    return_id: str
    order_id: str
    customer_id: str
    sales_employee_id: str
    channel: str
    currency: str
    lines: list[ReturnedLineV1]
    returned_at: UtcDatetime
    order_paid_at: UtcDatetime
    fully_returned: bool


@contract("orders.order.returned", 1)
class OrderReturnedV1(OrderReturnedV2):
    """Retired: ``reason`` was free text."""

    reason: str | None


# ----- loyalty ---------------------------------------------------------------------------------------

@contract("orders.loyalty.tier_changed", 1)
class LoyaltyTierChangedV1(EventContract):
    """A customer's cumulative-discount tier changed (up on spend, down on returns or expiry)."""

    customer_id: str
    previous_tier: str | None
    previous_discount_percent: DecimalString | None
    tier: str
    discount_percent: DecimalString
    spend_in_window: DecimalString
    currency: str
    program_version: int
    reason: TierChangeReason
    order_id: str | None
    changed_at: UtcDatetime
