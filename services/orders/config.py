from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    service_name: str = "orders"
    port: int = 8002
    default_currency: str = Field(default="IDR", pattern=r"^[A-Z]{3}$",
                                  description="catalogue default and the loyalty program's currency")
    customers_url: str = Field(default="http://127.0.0.1:8001",
                               description="asked for customers the local replica has not seen yet")
    customers_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    customers_token: str | None = Field(
        default=None, description="bearer token for the customers service; by default one is minted with "
                                  "this service's JWT secret and the role 'service'")

    @field_validator("customers_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
