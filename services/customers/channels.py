"""How an announcement reaches a customer on a channel.

Which channel is tried first and at which address are pure rules (no I/O). The shipped adapter
records and logs the delivery; a real SMS gateway, mailer or messenger bot implements the same
protocol and is passed to ``create_app``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from services.customers.models import Customer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    detail: str | None = None


class ChannelAdapter(Protocol):
    async def deliver(self, *, channel: str, customer_id: str, address: str | None, title: str,
                      body: str) -> Delivery: ...


class RecordingAdapter:
    """Delivers nothing: the delivery row and this log line are the record."""

    async def deliver(self, *, channel: str, customer_id: str, address: str | None, title: str,
                      body: str) -> Delivery:
        if not address:  # a leaflet needs a postal address as much as an e-mail needs an e-mail address
            return Delivery(ok=False, detail=f"no {channel} address on file")
        log.info("announcement delivered", extra={"channel": channel, "customer_id": customer_id})
        return Delivery(ok=True, detail="recorded (no gateway configured)")


def channel_order(*, allowed: list[str], consents: dict[str, bool], preferred: str | None) -> list[str]:
    """The allowed channels the customer consented to, in the announcement's order, the preferred one first."""
    ordered = [channel for channel in allowed if consents.get(channel)]
    if preferred in ordered:
        ordered.remove(preferred)
        ordered.insert(0, preferred)
    return ordered


def choose_channel(*, allowed: list[str], consents: dict[str, bool], preferred: str | None) -> str | None:
    """The preferred channel when allowed and consented, else the first allowed channel with consent."""
    ordered = channel_order(allowed=allowed, consents=consents, preferred=preferred)
    return ordered[0] if ordered else None


def address_for(customer: Customer, channel: str) -> str | None:
    """Where a delivery on ``channel`` goes: the first e-mail or phone, or the postal address on one line."""
    if channel == "email":
        return customer.emails[0] if customer.emails else None
    if channel in ("phone", "sms", "messenger"):
        return customer.phones[0] if customer.phones else None
    if channel == "post" and customer.address:
        parts = [customer.address.get(k) for k in ("line1", "line2", "city", "region", "postal_code", "country")]
        return ", ".join(p for p in parts if p) or None
    return None
