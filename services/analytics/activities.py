"""Activities that cost something to serve a customer, and their default unit costs (IDR).

Cost to serve = sum over activities of (count x unit cost). The defaults are a starting point for
the demo company (a stationery distributor); an admin sets real ones with ``PUT /cost-rates``.
"""

from __future__ import annotations

from decimal import Decimal

CHANNELS = ("phone", "email", "sms", "messenger", "post")
CASE_KINDS = ("complaint", "claim", "objection", "suggestion", "comment")

DEFAULT_RATES: dict[str, Decimal] = {
    "interaction.phone": Decimal("15000"),
    "interaction.email": Decimal("5000"),
    "interaction.sms": Decimal("1000"),
    "interaction.messenger": Decimal("3000"),
    "interaction.post": Decimal("20000"),
    "consultation": Decimal("150000"),
    "announcement.phone": Decimal("10000"),
    "announcement.email": Decimal("500"),
    "announcement.sms": Decimal("1000"),
    "announcement.messenger": Decimal("500"),
    "announcement.post": Decimal("12000"),
    "case.complaint": Decimal("100000"),
    "case.claim": Decimal("150000"),
    "case.objection": Decimal("50000"),
    "case.suggestion": Decimal("20000"),
    "case.comment": Decimal("10000"),
}
ACTIVITIES: tuple[str, ...] = tuple(DEFAULT_RATES)


def interaction(channel: str) -> str:
    return f"interaction.{channel}"


def announcement(channel: str) -> str:
    return f"announcement.{channel}"


def case(kind: str) -> str:
    return f"case.{kind}"
