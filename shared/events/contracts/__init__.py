"""Every published event contract, grouped by the producing service."""

from shared.events.contracts import customers  # noqa: F401
from shared.events.contracts import orders  # noqa: F401
