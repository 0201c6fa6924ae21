"""Settings of the incentives service (env prefix ``INCENTIVES_``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class IncentivesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INCENTIVES_", extra="ignore")

    service_name: str = "incentives"
    port: int = 8004
    time_zone: str = Field(default="Asia/Jakarta",
                           description="the company's time zone: periods are its calendar months")
    currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$",
                          description="the company's currency: sales in other currencies are not counted")

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
