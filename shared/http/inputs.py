"""The base of every request model: unknown fields refused, NUL characters refused.

PostgreSQL text cannot hold U+0000; refusing it here gives the client a 422 naming the field
instead of a database error. (Path and query values are checked by the request middleware.)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def holds_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (keys included) holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        if holds_nul(data):
            raise ValueError("text may not contain the NUL character (U+0000)")
        return data
