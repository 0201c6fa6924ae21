"""Normalising e-mails, phones and tax ids, so the same person is recognised however it is typed."""

from __future__ import annotations

import re

import phonenumbers

from shared.http.errors import Unprocessable


def normalise_email(raw: str) -> str:
    # The local part is case-sensitive in theory and never in practice; a CRM must treat
    # "Ana@Example.com" and "ana@example.com" as one person.
    return raw.strip().lower()


def normalise_phone(raw: str, *, default_region: str) -> str:
    """E.164 (+6281234567890); national numbers are read in ``default_region``."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise Unprocessable(f"not a phone number: {raw!r}", field="phones") from exc
    if not phonenumbers.is_valid_number(number):
        raise Unprocessable(f"not a valid phone number: {raw!r}", field="phones")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_tax_id(raw: str) -> str:
    """Digits and letters only, upper case: '01.234.567.8-901.000' and '012345678901000' are one id."""
    value = re.sub(r"[^0-9A-Za-z]", "", raw).upper()
    if len(value) < 5:
        raise Unprocessable(f"not a tax id: {raw!r}", field="tax_id")
    return value


def search_text(*, name: str, emails: list[str], phones: list[str]) -> str:
    digits = [re.sub(r"\D", "", p) for p in phones]
    return " ".join([name.lower(), *emails, *phones, *digits])


_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")


def phone_search_digits(query: str) -> str | None:
    """The digits to look for when a search looks like a phone number, else None.

    People type "0812-3456-7890" for what is stored as +6281234567890: without punctuation and
    the national trunk prefix ("0") the digits are a substring of the stored ones.
    """
    if not _PHONE_LIKE.match(query.strip()):
        return None
    digits = re.sub(r"\D", "", query).lstrip("0")
    return digits if len(digits) >= 3 else None
