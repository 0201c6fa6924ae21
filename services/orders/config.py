"""Settings of the orders service (env prefix ``ORDERS_``)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.staff.settings import StaffDirectorySettings


class OrdersSettings(ServiceSettings, StaffDirectorySettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    service_name: str = "orders"
    port: int = 8002
    default_currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$",
                                  description="the catalogue's default currency and the loyalty program's")
    customers_url: str = Field(default="http://127.0.0.1:8001",
                               description="asked about customers the local replica has not heard of yet")
    customers_timeout_seconds: float = Field(default=2.0, gt=0, le=30, description="bound on one question to the "
                                                                                   "customers service")
    customers_token: str | None = Field(
        default=None, description="bearer token for the customers service; by default one is minted with "
                                  "this service's JWT secret and the role 'service'")

    @field_validator("customers_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _can_ask_customers(self) -> OrdersSettings:
        if not self.jwt_secret and not self.customers_token:
            # With tokens from an identity provider (JWKS) there is no secret to mint one with.
            raise ValueError("set ORDERS_CUSTOMERS_TOKEN: without a JWT secret no token for the customers "
                             "service can be minted")
        return self
