from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class CustomersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMERS_", extra="ignore")

    service_name: str = "customers"
    port: int = 8001
    default_phone_region: str = Field(default="ID", description="region (ISO 3166) of phone numbers given "
                                                                "without a country code")
