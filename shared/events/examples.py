"""A valid example payload for any event contract, built from the model's own field types.

Used to put an example into every AsyncAPI message (outside consumers see what an event looks
like) and by the contract tests, which validate each example against the published schema: a
schema that drifts from its model fails there. The example is validated by the model itself
first, so it is always a payload a producer could really send.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

_INSTANT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# Strings whose contracts constrain their form.
_NAMED_STRINGS = {"period": "2026-11", "currency": "IDR", "case_number": "C-2026-000123", "series_start": "2024-01",
                  "series_end": "2026-10"}


def _value(annotation: Any, name: str) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _value(get_args(annotation)[0], name)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _value(options[0], name)
    if origin in (list, tuple, set, frozenset):
        return [_value(get_args(annotation)[0], name)]
    if origin is dict:
        return {"email": 1}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example_payload(annotation)
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 0.5
    if annotation is Decimal:
        return Decimal("1250.50")
    if annotation is datetime:
        return _INSTANT
    if annotation is date:
        return _INSTANT.date()
    if annotation is str:
        if name in _NAMED_STRINGS:
            return _NAMED_STRINGS[name]
        return f"{name}-1" if name.endswith("_id") or name == "id" else name.replace("_", " ")
    raise TypeError(f"no example for {annotation!r} (field {name})")


def example_payload(model: type[BaseModel]) -> dict[str, Any]:
    """A JSON-ready payload of ``model`` with every field set (optional ones too)."""
    hints = typing.get_type_hints(model, include_extras=True)
    values = {name: _value(hints[name], name) for name in model.model_fields}
    return model.model_validate(values).model_dump(mode="json")
