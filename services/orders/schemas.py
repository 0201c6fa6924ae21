"""Request and response models of the orders API (Create / Update / Public / Page per entity).

Money travels as a plain decimal string ("12500.00") both ways, so no amount is ever a float;
a request's amount has at most two decimals, and at most the currency's minor digits (checked
by the use cases: none for JPY).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.events.types import DecimalString
from shared.http.inputs import Input, MoneyInput, PastInstant, StrictBool, decimal_input
from shared.http.pagination import Page

OrderChannel = Literal["store", "phone", "email", "sms", "messenger", "web", "field", "post"]
OrderStatus = Literal["placed", "paid", "fulfilled", "cancelled"]
PaymentMethod = Literal["cash", "card", "bank_transfer", "e_wallet", "credit_account", "other"]

# Ids are sent to other services in URLs: letters, digits and a few separators only.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
ForeignId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN)]
# The customers service issues ids of at most 36 characters (UUIDs) and refuses longer ones.
CUSTOMER_ID_MAX = 36
CustomerRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CUSTOMER_ID_MAX,
                                               pattern=ID_PATTERN)]
EmployeeId = ForeignId
Sku = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# Amounts: plain decimal strings, non-negative, at most 18 integer digits; the currency decides the decimals.
Amount = MoneyInput
Percent = Annotated[decimal_input(decimals=2, integer_digits=3, example="12.5"), Field(le=100, description="0 to 100")]
Quantity = Annotated[int, Field(strict=True, gt=0, le=1_000_000)]


# ----- catalogue ------------------------------------------------------------------------------

class ProductBase(Input):
    sku: Sku
    name: Name
    category: Category
    unit_price: Amount
    unit_cost: Amount = Field(description="what one unit costs the company, for margins")
    active: StrictBool = True


class ProductCreate(ProductBase):
    currency: Currency | None = Field(default=None, description="defaults to the service's currency")


class ProductUpdate(Input):
    """Only the fields present change; a new price or cost starts a new price period."""

    sku: Sku | None = None
    name: Name | None = None
    category: Category | None = None
    unit_price: Amount | None = None
    unit_cost: Amount | None = None
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProductUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ProductPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sku: str
    name: str
    category: str
    unit_price: DecimalString
    unit_cost: DecimalString
    currency: str
    active: bool
    price_effective_at: datetime
    created_at: datetime
    updated_at: datetime


ProductsPage = Page[ProductPublic]


class ProductPricePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_price: DecimalString
    unit_cost: DecimalString
    currency: str
    effective_at: datetime
    recorded_by: str


# ----- orders -----------------------------------------------------------------------------------

class OrderLineCreate(Input):
    product_id: ForeignId
    quantity: Quantity


class OrderCreate(Input):
    customer_id: CustomerRef
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=200)
    channel: OrderChannel
    sales_employee_id: EmployeeId = Field(description="who made the sale")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    placed_at: PastInstant | None = Field(default=None, description=(
        "when the order was placed, for history recorded after the fact (an import from another system); "
        "default now. Prices and the loyalty discount are today's"))

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[OrderLineCreate]) -> list[OrderLineCreate]:
        products = [line.product_id for line in lines]
        if len(set(products)) != len(products):
            raise ValueError("each product may appear on one line; add up the quantities")
        return lines


class PaymentCreate(Input):
    method: PaymentMethod | None = None
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    paid_at: PastInstant | None = Field(default=None, description=(
        "when it was paid, for history recorded after the fact; default now; not before the order was placed. "
        "The loyalty accrual is dated at it"))


class CancelRequest(Input):
    reason: Reason | None = None
    cancelled_at: PastInstant | None = Field(default=None, description=(
        "when it was cancelled, for history recorded after the fact; default now; not before the order was "
        "placed or paid"))


class ReturnLineCreate(Input):
    product_id: ForeignId
    quantity: Quantity


class ReturnCreate(Input):
    """Without ``lines``, everything still returnable comes back (a whole-order return)."""

    lines: list[ReturnLineCreate] | None = Field(default=None, min_length=1, max_length=200)
    reason: Reason | None = None
    returned_at: PastInstant | None = Field(default=None, description=(
        "when the goods came back, for history recorded after the fact; default now; not before the payment"))

    @field_validator("lines")
    @classmethod
    def _one_line_per_product(cls, lines: list[ReturnLineCreate] | None) -> list[ReturnLineCreate] | None:
        if lines is not None:
            products = [line.product_id for line in lines]
            if len(set(products)) != len(products):
                raise ValueError("each product may appear on one line")
        return lines


class AmountsPublic(BaseModel):
    gross: DecimalString
    discount: DecimalString
    net: DecimalString
    cost: DecimalString
    margin: DecimalString


class OrderLinePublic(AmountsPublic):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    product_id: str
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: DecimalString
    unit_cost: DecimalString
    discount_percent: DecimalString
    returned_quantity: int


class OrderPublic(AmountsPublic):
    id: str
    customer_id: str
    sales_employee_id: str
    channel: str
    currency: str
    status: OrderStatus
    loyalty_tier: str | None
    discount_percent: DecimalString
    returned: AmountsPublic
    lines: list[OrderLinePublic]
    note: str | None
    payment_method: str | None
    payment_reference: str | None
    cancel_reason: str | None
    placed_by: str
    placed_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


OrdersPage = Page[OrderPublic]


class ReturnLinePublic(AmountsPublic):
    line_no: int
    product_id: str
    quantity: int


class ReturnPublic(AmountsPublic):
    id: str
    order_id: str
    customer_id: str
    reason: str | None
    lines: list[ReturnLinePublic]
    created_by: str
    created_at: datetime


# ----- loyalty ----------------------------------------------------------------------------------

class TierSpec(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    threshold: Amount = Field(description="cumulative net spend in the window from which the tier applies")
    discount_percent: Percent


class ProgramUpdate(Input):
    """The whole program; the first tier is the base tier (threshold 0), thresholds ascend."""

    tiers: list[TierSpec] = Field(min_length=1, max_length=20)
    qualifying_window: Literal["lifetime", "rolling"] = "lifetime"
    window_months: int | None = Field(default=None, strict=True, ge=1, le=120)
    downgrade: Literal["never", "reevaluate"] = "never"
    currency: Currency | None = Field(default=None, description="if given, must be the service's currency")


class TierPublic(BaseModel):
    name: str
    threshold: DecimalString
    discount_percent: DecimalString


class ProgramPublic(BaseModel):
    version: int
    currency: str
    qualifying_window: Literal["lifetime", "rolling"]
    window_months: int | None
    downgrade: Literal["never", "reevaluate"]
    tiers: list[TierPublic]
    created_by: str | None
    created_at: datetime | None


class LoyaltyStatusPublic(BaseModel):
    customer_id: str
    currency: str
    program_version: int
    qualifying_window: Literal["lifetime", "rolling"]
    window_months: int | None
    spend_in_window: DecimalString
    lifetime_spend: DecimalString
    tier: TierPublic
    discount_percent: DecimalString
    next_tier: TierPublic | None
    amount_to_next_tier: DecimalString | None
    tier_changed_at: datetime | None


class LedgerEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    order_id: str
    kind: Literal["accrual", "return", "cancellation"]
    return_id: str | None
    amount: DecimalString
    currency: str
    effective_at: datetime
    recorded_at: datetime


LedgerPage = Page[LedgerEntryPublic]


class ReevaluationPublic(BaseModel):
    accounts: int
    tier_changes: int
