"""Settings of the feedback service (env prefix ``FEEDBACK_``)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.staff.settings import StaffDirectorySettings


class FeedbackSettings(ServiceSettings, StaffDirectorySettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")

    service_name: str = "feedback"
    port: int = 8003
    default_currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$",
                                  description="currency of compensation amounts when a resolution names none")
    customers_url: str = Field(default="http://127.0.0.1:8001",
                               description="asked about customers the local replica has not heard of yet")
    customers_token: str | None = Field(
        default=None, description="bearer token for the customers service; by default one is minted with this "
                                  "service's JWT secret and the role 'service'")
    orders_url: str = Field(default="http://127.0.0.1:8002",
                            description="asked about orders and products the local replica has not heard of yet")
    orders_token: str | None = Field(
        default=None, description="bearer token for the orders service; by default one is minted like the "
                                  "customers token")
    owner_timeout_seconds: float = Field(default=2.0, gt=0, le=30,
                                         description="bound on one question to the customers or orders service")
    breach_check_max_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="longest sleep of the breach detector: it wakes at the next deadline, or after this long to "
                    "see deadlines set by other replicas")
    breach_detector_enabled: bool = Field(default=True, description="run the breach detector in this process "
                                                                    "(any number of replicas may)")
    breach_batch_size: int = Field(default=100, ge=1, le=10_000, description="cases the breach detector marks "
                                                                             "per transaction")

    @field_validator("customers_url", "orders_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _can_ask_the_owners(self) -> FeedbackSettings:
        if not self.jwt_secret and not (self.customers_token and self.orders_token):
            # With tokens from an identity provider (JWKS) there is no secret to mint one with.
            raise ValueError("set FEEDBACK_CUSTOMERS_TOKEN and FEEDBACK_ORDERS_TOKEN: without a JWT secret no "
                             "token for the owners can be minted")
        return self
