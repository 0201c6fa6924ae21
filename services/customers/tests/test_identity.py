"""Normalising e-mails, phones and tax ids: the same person is recognised however it is typed."""

from __future__ import annotations

import pytest

from services.customers import identity
from shared.http.errors import Unprocessable


@pytest.mark.parametrize(("raw", "expected"), [
    ("ana@example.com", "ana@example.com"),
    ("  Ana.Wijaya@Example.COM ", "ana.wijaya@example.com"),
    ("ANA+crm@EXAMPLE.co.id", "ana+crm@example.co.id"),
])
def test_email_is_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert identity.normalise_email(raw) == expected


@pytest.mark.parametrize("raw", [
    "0812-3456-7890",
    "0812 3456 7890",
    "(0812) 3456 7890",
    "+62 812 3456 7890",
    "+62 (0) 812-3456-7890",
    "+6281234567890",
    "6281234567890",
    "81234567890",
    "tel:+62-812-3456-7890",
    "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10",  # full-width digits
])
def test_indonesian_mobile_numbers_typed_any_way_are_one_number(raw: str) -> None:
    assert identity.normalise_phone(raw, default_region="ID") == "+6281234567890"


@pytest.mark.parametrize(("raw", "expected"), [
    ("021-5551234", "+62215551234"),          # Jakarta landline, national format
    ("(021) 555 1234", "+62215551234"),
    ("+1 415 555 2671", "+14155552671"),      # an international number keeps its own country
    ("+44 20 7946 0958", "+442079460958"),
    ("+65 6123 4567", "+6561234567"),
])
def test_landlines_and_international_numbers(raw: str, expected: str) -> None:
    assert identity.normalise_phone(raw, default_region="ID") == expected


def test_national_numbers_are_read_in_the_default_region() -> None:
    assert identity.normalise_phone("(415) 555-2671", default_region="US") == "+14155552671"
    assert identity.normalise_phone("0812-3456-7890", default_region="ID") == "+6281234567890"


@pytest.mark.parametrize("raw", ["abc", "12", "08123", "+62", "+999 123 456", "0812-3456-7890-1234-5678", "---"])
def test_not_a_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        identity.normalise_phone(raw, default_region="ID")
    assert caught.value.status == 422
    assert caught.value.extensions["field"] == "phones"


@pytest.mark.parametrize("raw", [
    "01.234.567.8-901.000",
    "012345678901000",
    " 01 234 567 8 901 000 ",
    "01-234-567-8-901-000",
])
def test_tax_id_punctuation_and_spaces_are_ignored(raw: str) -> None:
    assert identity.normalise_tax_id(raw) == "012345678901000"


def test_tax_id_letters_are_upper_cased() -> None:
    assert identity.normalise_tax_id("de-123.456.789") == "DE123456789"


@pytest.mark.parametrize("raw", ["", "--..", "12-3", "a.b"])
def test_a_tax_id_too_short_to_be_one_is_refused(raw: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        identity.normalise_tax_id(raw)
    assert caught.value.extensions["field"] == "tax_id"


def test_search_text_holds_lower_case_name_emails_and_phone_digits() -> None:
    text = identity.search_text(name="Ana WIJAYA", emails=["ana@example.com"], phones=["+6281234567890"])
    assert "ana wijaya" in text
    assert "ana@example.com" in text
    assert "6281234567890" in text
    assert "+6281234567890" in text


@pytest.mark.parametrize(("query", "digits"), [
    ("0812-3456-7890", "81234567890"),
    ("+62 812 3456 7890", "6281234567890"),
    ("(021) 555 1234", "215551234"),
    ("812", "812"),
])
def test_a_search_that_looks_like_a_phone_looks_for_its_digits(query: str, digits: str) -> None:
    assert identity.phone_search_digits(query) == digits


@pytest.mark.parametrize("query", ["ana", "ana 0812", "12", "0", "+", "--", "a@b.c"])
def test_a_search_that_is_not_a_phone_number_has_no_digits_to_look_for(query: str) -> None:
    assert identity.phone_search_digits(query) is None
