"""Events published by the analytics service on topic ``analytics.events``.

Kafka key: the customer id for ``analytics.customer.at_risk``; ``<segment>:<category>`` (the
aggregate id) for trends. Analytics keeps ids and segments only, never names or contacts.
Statistics (p-values, slopes) are JSON numbers: they are estimates, not money.
"""

from __future__ import annotations

from typing import Literal

from shared.events.registry import EventContract, contract
from shared.events.types import UtcDatetime

TrendDirection = Literal["emerging", "declining"]


@contract("analytics.trend.detected", 1)
class TrendDetectedV1(EventContract):
    """A demand shift in a segment x product category, published once when first detected.

    ``method`` is ``seasonal_kendall`` (a monotonic trend beyond seasonality) or ``level_shift`` (a
    sudden change of level); ``adjusted_p_value`` is after the Benjamini-Hochberg correction over the
    whole segment x category grid. ``series_start``/``series_end`` are period labels (``YYYY-MM`` or
    ISO week ``YYYY-Www``).
    """

    trend_id: str
    segment: str
    category: str
    granularity: Literal["week", "month"]
    measure: Literal["quantity", "net_revenue"]
    direction: TrendDirection
    method: Literal["seasonal_kendall", "level_shift"]
    statistic: float
    sen_slope: float
    p_value: float
    adjusted_p_value: float
    series_start: str
    series_end: str
    first_seen_at: UtcDatetime


@contract("analytics.customer.at_risk", 1)
class CustomerAtRiskV1(EventContract):
    """A partnership moved into "at risk": published once per move, for the account manager to act."""

    customer_id: str
    manager_id: str | None
    segment: str | None
    reason: Literal["rfm_at_risk", "low_p_alive"]
    rfm_group: str | None
    p_alive: float | None
    last_purchase_at: UtcDatetime | None
    detected_at: UtcDatetime
