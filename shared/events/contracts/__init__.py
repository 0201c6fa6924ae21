"""Every published event contract, grouped by the producing service."""

from shared.events.contracts import (
    analytics,  # noqa: F401
    customers,  # noqa: F401
    feedback,  # noqa: F401
    incentives,  # noqa: F401
    orders,  # noqa: F401
)
