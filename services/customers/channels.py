"""How an announcement reaches a customer on a channel.

The shipped adapter records and logs the delivery; a real SMS gateway, mailer or messenger bot
implements the same protocol and is passed to ``create_app``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

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
