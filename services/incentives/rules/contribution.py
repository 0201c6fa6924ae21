"""Weighted personal contribution: what each sale, return and cancellation counts, and where.

A **movement** is one counted order line: a sale (+), a return (-) or a cancellation (-).

- A sale line counts ``net`` and ``points = round(net x weight)`` where ``weight`` (and the
  locomotive flag) are those in force for the product **when the order was paid**; it counts in
  the period of the payment.
- A return or cancellation line is **always negative** (clawback): ``-|net|`` and
  ``-round(|net| x weight)``, with the weight the sale counted with (in force at the payment), in
  the period in which the return or cancellation **happens**, also when the sale counted in an
  earlier period. It is never a positive line, whatever sign a producer gives its amounts
  (OCA/commission settled credit notes as positive lines and paid agents twice).
- A cancellation takes back what is left of each line after earlier returns:
  ``net - round(net x returned_quantity / quantity)``, the figure the orders service's cumulative
  pro-rating leaves.
- A movement whose period is already closed counts in the next open period instead, marked as an
  adjustment with its original period; a closed period is never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from services.incentives.rules.money import ONE, ZERO, round_cents
from services.incentives.rules.periods import Period, period_of

MovementKind = Literal["sale", "return", "cancellation"]


@dataclass(frozen=True)
class WeightInForce:
    weight: Decimal
    locomotive: bool
    effective_at: datetime | None = None  # None: the neutral default, no weight was ever set


NEUTRAL = WeightInForce(weight=ONE, locomotive=False)


def weight_at(history: Sequence[WeightInForce], at: datetime) -> WeightInForce:
    """The weight in force at ``at``: the latest change effective at or before it (neutral before any)."""
    current = NEUTRAL
    for version in sorted((v for v in history if v.effective_at is not None), key=lambda v: v.effective_at):
        assert version.effective_at is not None
        if version.effective_at <= at:
            current = version
        else:
            break
    return current


@dataclass(frozen=True)
class Line:
    """An order line as the order's events describe it."""

    line_no: int
    product_id: str
    category: str
    net: Decimal
    quantity: int = 1
    returned_quantity: int = 0


@dataclass(frozen=True)
class Movement:
    employee_id: str
    order_id: str
    kind: MovementKind
    ref: str  # the return id for returns, else ""
    line_no: int
    product_id: str
    category: str
    net: Decimal  # signed
    weight: Decimal
    locomotive: bool
    points: Decimal  # signed
    happened_at: datetime
    natural_period: Period

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What makes the movement unique: one per order, kind, return and line, whoever redelivers it."""
        return (self.order_id, self.kind, self.ref, self.line_no)


def line_points(net: Decimal, weight: Decimal) -> Decimal:
    return round_cents(net * weight)


WeightLookup = Callable[[str, datetime], WeightInForce]


def _movement(*, employee_id: str, order_id: str, kind: MovementKind, ref: str, line: Line, amount: Decimal,
              weight: WeightInForce, happened_at: datetime, zone: ZoneInfo) -> Movement:
    sign = ONE if kind == "sale" else -ONE
    magnitude = abs(amount)
    return Movement(employee_id=employee_id, order_id=order_id, kind=kind, ref=ref, line_no=line.line_no,
                    product_id=line.product_id, category=line.category, net=sign * magnitude,
                    weight=weight.weight, locomotive=weight.locomotive,
                    points=sign * line_points(magnitude, weight.weight), happened_at=happened_at,
                    natural_period=period_of(happened_at, zone))


def sale_movements(*, employee_id: str, order_id: str, paid_at: datetime, lines: Iterable[Line],
                   weights: WeightLookup, zone: ZoneInfo) -> list[Movement]:
    """The lines of a paid order, each with the weight in force at the payment, in the payment's period."""
    return [_movement(employee_id=employee_id, order_id=order_id, kind="sale", ref="", line=line, amount=line.net,
                      weight=weights(line.product_id, paid_at), happened_at=paid_at, zone=zone)
            for line in lines if line.net != ZERO]


def return_movements(*, employee_id: str, order_id: str, return_id: str, returned_at: datetime,
                     order_paid_at: datetime, lines: Iterable[Line], weights: WeightLookup,
                     zone: ZoneInfo) -> list[Movement]:
    """Negative lines in the period of the return, with the weight the sale counted with."""
    return [_movement(employee_id=employee_id, order_id=order_id, kind="return", ref=return_id, line=line,
                      amount=line.net, weight=weights(line.product_id, order_paid_at), happened_at=returned_at,
                      zone=zone)
            for line in lines if line.net != ZERO]


def remaining_after_returns(line: Line) -> Decimal:
    """What a cancellation takes back of a line: its net less what returns took (pro-rated cumulatively)."""
    if line.quantity <= 0:
        return ZERO
    returned = round_cents(line.net * line.returned_quantity / line.quantity)
    return line.net - returned


def cancellation_movements(*, employee_id: str, order_id: str, cancelled_at: datetime, order_paid_at: datetime,
                           lines: Iterable[Line], weights: WeightLookup, zone: ZoneInfo) -> list[Movement]:
    """Negative lines for what a cancelled paid order still held, in the period of the cancellation."""
    movements = []
    for line in lines:
        remaining = remaining_after_returns(line)
        if remaining != ZERO:
            movements.append(_movement(employee_id=employee_id, order_id=order_id, kind="cancellation", ref="",
                                       line=line, amount=remaining, weight=weights(line.product_id, order_paid_at),
                                       happened_at=cancelled_at, zone=zone))
    return movements


def counting_period(natural: Period, closed: Callable[[Period], bool]) -> Period:
    """Where a movement counts: its own period, or the next open one after it when that one is closed."""
    period = natural
    while closed(period):
        period = period.next()
    return period


@dataclass
class Totals:
    """One employee's running figures in one period."""

    net_sales: Decimal = ZERO
    points: Decimal = ZERO
    locomotive_sales: Decimal = ZERO
    locomotive_points: Decimal = ZERO
    adjustment_points: Decimal = ZERO
    lines: int = 0
    by_category: dict[str, Decimal] = field(default_factory=dict)

    def add(self, movement: Movement, *, adjustment: bool) -> None:
        self.net_sales += movement.net
        self.points += movement.points
        if movement.locomotive:
            self.locomotive_sales += movement.net
            self.locomotive_points += movement.points
        if adjustment:
            self.adjustment_points += movement.points
        self.lines += 1
        self.by_category[movement.category] = self.by_category.get(movement.category, ZERO) + movement.points


def fold(movements: Iterable[Movement], closed: Callable[[Period], bool] = lambda _p: False,
         ) -> dict[tuple[str, Period], Totals]:
    """Totals per (employee, counting period), each movement counted once by its key."""
    totals: dict[tuple[str, Period], Totals] = {}
    seen: set[tuple[str, str, str, int]] = set()
    for movement in movements:
        if movement.key in seen:
            continue
        seen.add(movement.key)
        period = counting_period(movement.natural_period, closed)
        totals.setdefault((movement.employee_id, period), Totals()).add(
            movement, adjustment=period != movement.natural_period)
    return totals
