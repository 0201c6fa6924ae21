from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class CustomersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMERS_", extra="ignore")

    service_name: str = "customers"
    port: int = 8001
    default_phone_region: str = "ID"  # phone numbers without a country code are read as Indonesian
