"""Every published event contract, grouped by the producing service."""

from shared.events.contracts import (
    customers,  # noqa: F401
    orders,  # noqa: F401
)
