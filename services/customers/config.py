from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.staff.settings import StaffDirectorySettings


class CustomersSettings(ServiceSettings, StaffDirectorySettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMERS_", extra="ignore")

    service_name: str = "customers"
    port: int = 8001
    default_phone_region: str = Field(default="ID", description="region (ISO 3166) of phone numbers given "
                                                                "without a country code")
    follow_up_delay_hours: float = Field(default=72.0, gt=0, description=(
        "a paid order with a locomotive product schedules the manager's follow-up consultation this long "
        "after the payment"))
    follow_up_max_age_days: float = Field(default=30.0, gt=0, description=(
        "an order paid longer ago than this (history imported or replayed) schedules no follow-up: that "
        "moment has passed"))
    retention_call_delay_hours: float = Field(default=24.0, gt=0, description=(
        "a partnership analytics reports at risk gets a retention call due this long after the report"))
