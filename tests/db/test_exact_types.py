"""Money stays exact and instants stay aware through SQLite, PostgreSQL and event JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shared.db.engine import Database
from shared.db.types import ExactDecimal, Money, UTCDateTime
from shared.events.registry import EventContract
from shared.events.types import DecimalString, UtcDatetime

metadata = sa.MetaData()
sample = sa.Table(
    "sample", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", Money()),
    sa.Column("rate", ExactDecimal(precision=9, scale=4)),
    sa.Column("at", UTCDateTime()),
)

BIG = Decimal("12345678901234567.89")
PLUS_EIGHT_WEST = timezone(timedelta(hours=-8))


class Priced(EventContract):
    amount: DecimalString
    at: UtcDatetime


async def roundtrip(db: Database) -> tuple[Decimal, Decimal, datetime]:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(sa.insert(sample).values(id=1, amount=BIG, rate=Decimal("0.1250"),
                                                    at=datetime(2026, 3, 1, 13, 30, tzinfo=PLUS_EIGHT_WEST)))
    async with db.engine.connect() as conn:
        row = (await conn.execute(sa.select(sample.c.amount, sample.c.rate, sample.c.at))).one()
    return row.amount, row.rate, row.at


def check(amount: Decimal, rate: Decimal, at: datetime) -> None:
    assert isinstance(amount, Decimal) and amount == BIG and str(amount) == "12345678901234567.89"
    assert rate == Decimal("0.1250")
    assert at.tzinfo is not None and at.utcoffset() == timedelta(0)
    assert at == datetime(2026, 3, 1, 21, 30, tzinfo=UTC)


async def test_sqlite_keeps_money_exact_and_time_aware(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'types.db'}")
    try:
        check(*await roundtrip(db))
    finally:
        await db.dispose()


@pytest.mark.integration
async def test_postgres_keeps_money_exact_and_time_aware(database_url: str) -> None:
    db = Database(database_url)
    try:
        check(*await roundtrip(db))
    finally:
        await db.dispose()


def test_event_json_keeps_money_exact_and_time_in_utc() -> None:
    event = Priced(amount=BIG, at=datetime(2026, 3, 1, 13, 30, tzinfo=PLUS_EIGHT_WEST))
    raw = event.model_dump_json()
    assert '"amount":"12345678901234567.89"' in raw
    back = Priced.model_validate_json(raw)
    assert back.amount == BIG and back.at == datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    assert Priced(amount=Decimal("1E+2"), at=back.at).model_dump(mode="json")["amount"] == "100"


async def test_naive_datetimes_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="time zone"):
        Priced(amount=Decimal(1), at=datetime(2026, 3, 1, 13, 30))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'naive.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            async with db.engine.begin() as conn:
                await conn.execute(sa.insert(sample).values(id=2, at=datetime(2026, 1, 1)))
    finally:
        await db.dispose()


@pytest.mark.parametrize("stored", [Decimal("12.5"), Decimal("12.500"), "12.5", "12.50", 12.5])
def test_a_stored_amount_comes_back_with_the_columns_scale(stored: object) -> None:
    # PostgreSQL's driver gives a Decimal (quantized as it is), SQLite text or a number.
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        value = Money().process_result_value(stored, dialect)
        assert isinstance(value, Decimal) and str(value) == "12.50"
    assert str(ExactDecimal(precision=9, scale=4).process_result_value(Decimal("-0.1"), None)) == "-0.1000"


def test_a_decimal_string_takes_a_decimal_as_it_is_and_still_refuses_floats_and_nan() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert Priced(amount=Decimal("0.10"), at=at).amount.as_tuple().exponent == -2
    for wrong in (0.1, True, "1e3", Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            Priced(amount=wrong, at=at)
