"""Settings of the analytics service (env prefix ``ANALYTICS_``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore")

    service_name: str = "analytics"
    port: int = 8005
    time_zone: str = Field(
        default="Asia/Jakarta", description="the company's calendar: months and weeks of every figure are local ones"
    )
    currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$", description="the reporting currency (two minor digits)")
    detection_enabled: bool = Field(default=True, description="run the scoring and trend detection job")
    detection_debounce_seconds: float = Field(
        default=30.0, ge=0, description="quiet time after new data before the job runs"
    )
    detection_poll_seconds: float = Field(default=5.0, gt=0, description="how often the job looks for new data")
    detection_refresh_seconds: float = Field(
        default=3600.0, gt=0, description="the job also runs this often without new data (recency ages)"
    )
    trend_fdr: float = Field(default=0.05, gt=0, lt=1, description="Benjamini-Hochberg false discovery rate")
    trend_min_relative_change: float = Field(
        default=0.05, ge=0, description="smallest change per seasonal cycle worth flagging"
    )
    p_alive_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="a repeat buyer whose P(alive) falls under it is at risk"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
