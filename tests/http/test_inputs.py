"""The strict request types: what a client wrote is what is stored, or a 422 (PITFALLS 23, 24)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.events.types import DecimalString, UtcDatetime
from shared.http.errors import Unprocessable
from shared.http.history import happened_at
from shared.http.inputs import (
    MAX_JSON_DEPTH,
    Input,
    Instant,
    MoneyInput,
    QueryBool,
    SignedMoneyInput,
    StrictBool,
    decimal_input,
    holds_nul,
    json_depth_exceeds,
)


def refused(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


MONEY = TypeAdapter(MoneyInput)
SIGNED = TypeAdapter(SignedMoneyInput)


@pytest.mark.parametrize("text", ["0", "1250.50", "1250.5", "007", "999999999999999999.99"])
def test_money_is_a_plain_decimal_string(text: str) -> None:
    assert MONEY.validate_python(text) == Decimal(text)


@pytest.mark.parametrize("value", [
    "1e3", "1E+3", "1e-2", "NaN", "nan", "Infinity", "-Infinity", "inf", " 1", "1 ", "+1", "-1", "1.", ".5",
    "1.234", "1,5", "1_000", "", "0x10", "١٢٣",  # Arabic-Indic digits: Decimal() reads them, the pattern does not
    "1" * 19, 1000, 1000.5, 0, True, None, [], {},
])
def test_anything_else_is_not_money(value: Any) -> None:
    assert refused(MONEY, value)


def test_signed_money_allows_a_minus_and_never_a_plus() -> None:
    assert SIGNED.validate_python("-12.30") == Decimal("-12.30")
    assert refused(SIGNED, "+12.30") and refused(SIGNED, "--1") and refused(SIGNED, "-1e2")


def test_decimal_inputs_with_fewer_digits() -> None:
    whole = TypeAdapter(decimal_input(decimals=0, integer_digits=3))
    assert whole.validate_python("120") == Decimal(120)
    assert refused(whole, "1.0") and refused(whole, "1000")


def test_money_built_in_python_from_a_decimal_is_checked_the_same_way() -> None:
    assert MONEY.validate_python(Decimal("12.50")) == Decimal("12.50")
    assert refused(MONEY, Decimal("1.234")) and refused(MONEY, Decimal("NaN")) and refused(MONEY, Decimal("-1"))


def test_money_is_published_as_a_string_with_a_pattern() -> None:
    schema = MONEY.json_schema()
    assert schema["type"] == "string" and "anyOf" not in schema
    assert schema["pattern"] == r"^[0-9]{1,18}(\.[0-9]{1,2})?$"


@pytest.mark.parametrize("value", ["yes", "on", "1", "true", "True", 1, 0, None, "false"])
def test_a_body_boolean_is_a_json_boolean(value: Any) -> None:
    assert refused(TypeAdapter(StrictBool), value)


def test_a_query_boolean_is_true_or_false() -> None:
    query = TypeAdapter(QueryBool)
    assert query.validate_python("true") is True and query.validate_python("false") is False
    for lax in ("1", "0", "yes", "no", "on", "off", "True", "FALSE", "t", ""):
        assert refused(query, lax), lax


INSTANT = TypeAdapter(Instant)


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-03-01T09:30:00+07:00", datetime(2026, 3, 1, 2, 30, tzinfo=UTC)),
    ("2026-03-01T02:30:00Z", datetime(2026, 3, 1, 2, 30, tzinfo=UTC)),
    ("2026-03-01 02:30Z", datetime(2026, 3, 1, 2, 30, tzinfo=UTC)),
    ("2026-03-01T02:30:00.123456-01:00", datetime(2026, 3, 1, 3, 30, 0, 123456, tzinfo=UTC)),
])
def test_an_instant_is_iso_8601_with_an_offset_returned_in_utc(text: str, utc: datetime) -> None:
    parsed = INSTANT.validate_python(text)
    assert parsed == utc and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [
    0, 0.5, 1_700_000_000, "0", "0.5", "1700000000", "2026-03-01T02:30:00", "2026-03-01", "yesterday",
    "0001-01-01T00:00:00+05:00", "2026-13-01T00:00:00Z", True, None,
])
def test_unix_times_naive_and_impossible_instants_are_refused(value: Any) -> None:
    assert refused(INSTANT, value)


def test_history_happens_now_or_earlier_and_a_client_clock_a_little_ahead_counts_as_now() -> None:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert happened_at(None, now=now, field="paid_at") == now
    assert happened_at(now - timedelta(days=700), now=now, field="paid_at") == now - timedelta(days=700)
    assert happened_at(now + timedelta(minutes=4), now=now, field="paid_at") == now
    with pytest.raises(Unprocessable) as refused_step:
        happened_at(now + timedelta(minutes=6), now=now, field="paid_at")
    assert refused_step.value.status == 422 and "future" in str(refused_step.value)


def test_the_event_types_refuse_what_lax_parsing_would_misread() -> None:
    instant, decimal = TypeAdapter(UtcDatetime), TypeAdapter(DecimalString)
    assert refused(instant, 0) and refused(instant, "1700000000") and refused(instant, 1.5)
    assert instant.validate_python("2026-03-01T02:30:00Z") == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    for lax in ("1e3", "NaN", 12.5, True, " 1"):
        assert refused(decimal, lax), lax
    assert decimal.validate_python("-12.345") == Decimal("-12.345")
    assert decimal.validate_python(Decimal("1.5")) == Decimal("1.5") and decimal.validate_python(7) == 7


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_depth_is_measured_without_recursion() -> None:
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH))
    assert json_depth_exceeds(nested(MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds(nested(100_000))  # far beyond the interpreter's recursion limit
    assert not holds_nul(nested(100_000)) and holds_nul({"a": [nested(50_000), {"x\x00": 1}]})


class Note(Input):
    text: str
    extra: dict[str, Any] | None = None


def test_input_refuses_deep_json_nul_and_unknown_fields() -> None:
    Note.model_validate({"text": "ok", "extra": {"k": nested(MAX_JSON_DEPTH - 2)}})  # exactly the limit
    for data in ({"text": "ok", "extra": {"k": nested(MAX_JSON_DEPTH - 1)}},
                 {"text": "ok", "extra": nested(320)}, {"text": "ok", "extra": nested(100_000)},
                 {"text": "a\x00"}, {"text": "ok", "other": 1}):
        with pytest.raises(ValidationError):
            Note.model_validate(data)
