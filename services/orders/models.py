"""Tables of the orders service (and nothing else)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from shared.db.base import service_base
from shared.db.types import ExactDecimal, Money, UTCDateTime, utcnow
from shared.staff.directory import replica_table

Table = service_base("orders")


def new_id() -> str:
    return str(uuid.uuid4())


def _utc(nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime, nullable=nullable, index=index)


def _money(nullable: bool = False) -> sa.Column:
    return sa.Column(Money, nullable=nullable)


def _percent() -> sa.Column:
    return sa.Column(ExactDecimal(5, 2), nullable=False)


def _actor() -> sa.Column:
    # The token's subject, as the identity provider issued it: no length of ours can be assumed
    # (a bounded column turned a long subject into a database error).
    return sa.Column(sa.Text, nullable=False)


# ----- catalogue ------------------------------------------------------------------------------

class Product(Table, table=True):
    __tablename__ = "product"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=300)
    category: str = Field(max_length=64, index=True)
    unit_price: Decimal = Field(sa_column=_money())
    unit_cost: Decimal = Field(sa_column=_money())
    currency: str = Field(max_length=3)
    active: bool = Field(default=True, index=True)
    # Lower-cased sku and name: the free-text search runs on one column.
    search_text: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    price_effective_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class ProductPrice(Table, table=True):
    """Price and cost periods: a row per change, in force from ``effective_at`` until the next row."""

    __tablename__ = "product_price"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    product_id: str = Field(foreign_key="product.id", index=True, max_length=36)
    unit_price: Decimal = Field(sa_column=_money())
    unit_cost: Decimal = Field(sa_column=_money())
    currency: str = Field(max_length=3)
    effective_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    recorded_by: str = Field(sa_column=_actor())


# ----- customers, as far as orders need to know them -----------------------------------------

class CustomerReplica(Table, table=True):
    """What the customers service told us (events, or HTTP when no event had arrived yet).

    ``revision`` is the customer's revision (counted by the customers service under its row lock)
    of the newest state applied, ``state_at`` its instant: an older event never overwrites a newer
    one (by revision when both have one, else by instant); merged and erased are final, an erased
    customer keeps no name here, and ``merged_into_id`` stays set through an erasure.
    """

    __tablename__ = "customer_replica"

    customer_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16)  # active | merged | erased
    kind: str | None = Field(default=None, max_length=16)
    name: str | None = Field(default=None, max_length=300)
    segment: str | None = Field(default=None, max_length=64)
    manager_id: str | None = Field(default=None, max_length=64)
    # Indexed: a survivor's order history is found by walking the merges into it.
    merged_into_id: str | None = Field(default=None, max_length=64, index=True)
    source: str = Field(max_length=16)  # event | http
    state_at: datetime = Field(sa_column=_utc())
    revision: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


# ----- orders -----------------------------------------------------------------------------------

class Order(Table, table=True):
    __tablename__ = "sales_order"
    __table_args__ = (sa.Index("ix_sales_order_customer_placed", "customer_id", "placed_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    customer_id: str = Field(max_length=64)
    sales_employee_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    currency: str = Field(max_length=3)
    status: str = Field(default="placed", max_length=16, index=True)
    loyalty_tier: str | None = Field(default=None, max_length=64)
    discount_percent: Decimal = Field(sa_column=_percent())
    gross: Decimal = Field(sa_column=_money())
    discount: Decimal = Field(sa_column=_money())
    net: Decimal = Field(sa_column=_money())
    cost: Decimal = Field(sa_column=_money())
    returned_gross: Decimal = Field(sa_column=_money())
    returned_discount: Decimal = Field(sa_column=_money())
    returned_net: Decimal = Field(sa_column=_money())
    returned_cost: Decimal = Field(sa_column=_money())
    note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    payment_method: str | None = Field(default=None, max_length=32)
    payment_reference: str | None = Field(default=None, max_length=120)
    cancel_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    placed_by: str = Field(sa_column=_actor())
    placed_at: datetime = Field(default_factory=utcnow, sa_column=_utc(index=True))
    paid_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    fulfilled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


class OrderLine(Table, table=True):
    """A priced line: catalogue price and cost at placement, the discount rounded for this line."""

    __tablename__ = "order_line"
    __table_args__ = (sa.UniqueConstraint("order_id", "product_id", name="uq_order_line_order_product"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    order_id: str = Field(foreign_key="sales_order.id", index=True, max_length=36)
    line_no: int
    product_id: str = Field(foreign_key="product.id", index=True, max_length=36)
    sku: str = Field(max_length=64)
    name: str = Field(max_length=300)
    category: str = Field(max_length=64)
    quantity: int
    unit_price: Decimal = Field(sa_column=_money())
    unit_cost: Decimal = Field(sa_column=_money())
    discount_percent: Decimal = Field(sa_column=_percent())
    gross: Decimal = Field(sa_column=_money())
    discount: Decimal = Field(sa_column=_money())
    net: Decimal = Field(sa_column=_money())
    cost: Decimal = Field(sa_column=_money())
    returned_quantity: int = Field(default=0)
    returned_net: Decimal = Field(sa_column=_money())

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


class OrderReturn(Table, table=True):
    __tablename__ = "order_return"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    order_id: str = Field(foreign_key="sales_order.id", index=True, max_length=36)
    customer_id: str = Field(max_length=64)
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    gross: Decimal = Field(sa_column=_money())
    discount: Decimal = Field(sa_column=_money())
    net: Decimal = Field(sa_column=_money())
    cost: Decimal = Field(sa_column=_money())
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


class OrderReturnLine(Table, table=True):
    __tablename__ = "order_return_line"

    return_id: str = Field(foreign_key="order_return.id", primary_key=True, max_length=36)
    order_line_id: str = Field(foreign_key="order_line.id", primary_key=True, max_length=36)
    line_no: int
    product_id: str = Field(max_length=36)
    quantity: int
    gross: Decimal = Field(sa_column=_money())
    discount: Decimal = Field(sa_column=_money())
    net: Decimal = Field(sa_column=_money())
    cost: Decimal = Field(sa_column=_money())


# ----- loyalty ----------------------------------------------------------------------------------

class LoyaltyProgram(Table, table=True):
    """Every version of the program; the highest version is in force."""

    __tablename__ = "loyalty_program"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    currency: str = Field(max_length=3)
    qualifying_window: str = Field(max_length=16)  # lifetime | rolling
    window_months: int | None = Field(default=None)
    downgrade: str = Field(max_length=16)  # never | reevaluate
    # [{"name", "threshold", "discount_percent"}] with decimals as strings, ascending thresholds.
    tiers: list[dict] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str = Field(sa_column=_actor())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class LoyaltyAccount(Table, table=True):
    """One row per customer: the lock that serialises their ledger, and the tier last announced."""

    __tablename__ = "loyalty_account"

    customer_id: str = Field(primary_key=True, max_length=64)
    currency: str = Field(max_length=3)
    balance: Decimal = Field(sa_column=_money())  # the sum of the ledger (lifetime, after reversals)
    tier: str | None = Field(default=None, max_length=64)
    discount_percent: Decimal = Field(sa_column=_percent())
    merged_into_id: str | None = Field(default=None, max_length=64)
    tier_changed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


class LoyaltyEntry(Table, table=True):
    """A signed amount of qualifying spend; reversals are dated at the payment they reverse.

    The unique key (order, kind, ref) makes every accrual and reversal happen at most once.
    """

    __tablename__ = "loyalty_entry"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "kind", "ref", name="uq_loyalty_entry_order_id"),
        sa.Index("ix_loyalty_entry_customer_effective", "customer_id", "effective_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                                            primary_key=True, autoincrement=True))
    customer_id: str = Field(max_length=64)
    order_id: str = Field(max_length=36)
    kind: str = Field(max_length=16)  # accrual | return | cancellation
    ref: str = Field(default="", max_length=36)  # the return id for returns, else ""
    amount: Decimal = Field(sa_column=_money())
    currency: str = Field(max_length=3)
    effective_at: datetime = Field(sa_column=_utc())
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_utc())


# The staff directory as incentives publishes it: the sales employee of an order is checked against it.
StaffMember = replica_table(Table.metadata)

metadata = Table.metadata
