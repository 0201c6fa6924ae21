"""Domain rules that need no I/O: choosing the channel, and what the request schemas accept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.customers.channels import RecordingAdapter, channel_order, choose_channel
from services.customers.schemas import (
    AnnouncementCreate,
    ConsentsUpdate,
    ConsultationCreate,
    CustomerCreate,
    CustomerUpdate,
    InteractionCreate,
    MergeRequest,
)

# ----- choosing the channel of an announcement ------------------------------------------------


def test_the_preferred_channel_wins_when_allowed_and_consented() -> None:
    consents = {"email": True, "sms": True}
    assert choose_channel(allowed=["email", "sms"], consents=consents, preferred="sms") == "sms"


def test_without_a_preference_the_first_allowed_consented_channel_is_used() -> None:
    consents = {"email": True, "sms": True}
    assert choose_channel(allowed=["sms", "email"], consents=consents, preferred=None) == "sms"
    assert choose_channel(allowed=["email", "sms"], consents=consents, preferred=None) == "email"


def test_a_preferred_channel_that_is_not_allowed_falls_back_to_the_allowed_order() -> None:
    consents = {"email": True, "sms": True, "post": True}
    assert choose_channel(allowed=["post", "email"], consents=consents, preferred="sms") == "post"


def test_a_preferred_channel_without_consent_is_never_used() -> None:
    consents = {"email": True, "sms": False}
    assert choose_channel(allowed=["sms", "email"], consents=consents, preferred="sms") == "email"


def test_withdrawn_or_missing_consent_means_no_channel() -> None:
    assert choose_channel(allowed=["email", "sms"], consents={"email": False}, preferred="email") is None
    assert choose_channel(allowed=["email"], consents={}, preferred=None) is None
    assert choose_channel(allowed=["email"], consents={"post": True}, preferred="post") is None


def test_the_channels_to_try_are_the_consented_ones_preferred_first() -> None:
    consents = {"email": True, "sms": True, "post": False, "phone": True}
    assert channel_order(allowed=["email", "sms", "post"], consents=consents, preferred="sms") == ["sms", "email"]
    assert channel_order(allowed=["email", "sms"], consents=consents, preferred="phone") == ["email", "sms"]
    assert channel_order(allowed=["post"], consents=consents, preferred=None) == []


async def test_the_recording_adapter_needs_an_address_on_every_channel() -> None:
    adapter = RecordingAdapter()
    for channel in ("phone", "email", "sms", "messenger", "post"):
        missing = await adapter.deliver(channel=channel, customer_id="c", address=None, title="t", body="b")
        assert not missing.ok and "address" in (missing.detail or "")
        present = await adapter.deliver(channel=channel, customer_id="c", address="somewhere", title="t", body="b")
        assert present.ok


# ----- CustomerCreate -----------------------------------------------------------------------

def create(**fields: Any) -> CustomerCreate:
    return CustomerCreate.model_validate({"kind": "person", "name": "Ana", **fields})


def error_text(caught: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(e["msg"] for e in caught.value.errors())


def test_a_customer_needs_an_email_phone_or_tax_id() -> None:
    with pytest.raises(ValidationError) as caught:
        create()
    assert "at least one e-mail, phone or tax id" in error_text(caught)
    assert create(emails=["ana@example.com"]).emails == ["ana@example.com"]
    assert create(phones=["0812-3456-7890"]).phones == ["0812-3456-7890"]
    assert create(kind="company", tax_id="01.234.567.8-901.000").tax_id == "01.234.567.8-901.000"


def test_a_tax_id_is_for_companies_only() -> None:
    with pytest.raises(ValidationError) as caught:
        create(emails=["ana@example.com"], tax_id="012345678901000")
    assert "companies only" in error_text(caught)


def test_strings_are_trimmed_tags_and_segments_lower_cased() -> None:
    customer = create(name="  Ana Wijaya ", emails=["ana@example.com"], tags=[" VIP ", "Back-To-School"],
                      segment=" Wholesale ", address={"line1": "Jl. Merdeka 1", "city": "Bandung", "country": "id"})
    assert customer.name == "Ana Wijaya"
    assert customer.tags == ["vip", "back-to-school"]
    assert customer.segment == "wholesale"
    assert customer.address is not None and customer.address.country == "ID"


@pytest.mark.parametrize(("fields", "where"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 301}, "name"),
    ({"kind": "robot"}, "kind"),
    ({"emails": ["not-an-email"]}, "emails"),
    ({"emails": [f"a{i}@example.com" for i in range(11)]}, "emails"),
    ({"phones": ["1"]}, "phones"),
    ({"tags": ["no/slashes"]}, "tags"),
    ({"tags": ["x" * 65]}, "tags"),
    ({"first_contact_channel": "pigeon"}, "first_contact_channel"),
    ({"notes": "x" * 5001}, "notes"),
    ({"address": {"line1": "Jl. Merdeka 1", "city": "Bandung", "country": "IDN"}}, "address"),
    ({"address": {"line1": "Jl. Merdeka 1", "country": "ID"}}, "address"),
    ({"unknown": 1}, "unknown"),
    ({"name": 12}, "name"),
    ({"emails": "ana@example.com"}, "emails"),
])
def test_invalid_fields_are_refused(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        create(**{"emails": ["ana@example.com"], **fields})
    assert any(where in map(str, e["loc"]) for e in caught.value.errors()), caught.value.errors()


# ----- CustomerUpdate -----------------------------------------------------------------------

def test_an_update_must_change_something() -> None:
    with pytest.raises(ValidationError) as caught:
        CustomerUpdate.model_validate({})
    assert "nothing to change" in error_text(caught)


@pytest.mark.parametrize("field", ["kind", "name", "emails", "phones", "tags"])
def test_required_fields_cannot_be_cleared_with_null(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CustomerUpdate.model_validate({field: None})
    assert f"{field} cannot be null" in error_text(caught)


@pytest.mark.parametrize("field", ["tax_id", "address", "segment", "source", "notes", "preferred_channel"])
def test_optional_fields_can_be_cleared_with_null(field: str) -> None:
    update = CustomerUpdate.model_validate({field: None})
    assert update.model_fields_set == {field}


def test_an_update_knows_which_fields_were_sent() -> None:
    update = CustomerUpdate.model_validate({"name": " Budi ", "segment": "Retail"})
    assert update.model_fields_set == {"name", "segment"}
    assert (update.name, update.segment) == ("Budi", "retail")


def test_an_update_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        CustomerUpdate.model_validate({"status": "erased"})


# ----- consents -----------------------------------------------------------------------------

def consent(channel: str, granted: bool = True) -> dict[str, Any]:
    return {"channel": channel, "granted": granted, "source": "signed form"}


def test_consents_one_per_channel() -> None:
    with pytest.raises(ValidationError) as caught:
        ConsentsUpdate.model_validate({"consents": [consent("email"), consent("email", False)]})
    assert "each channel may appear once" in error_text(caught)
    ok = ConsentsUpdate.model_validate({"consents": [consent(c) for c in ("phone", "email", "sms", "messenger",
                                                                          "post")]})
    assert len(ok.consents) == 5


@pytest.mark.parametrize("body", [
    {"consents": []},
    {"consents": [consent("fax")]},
    {"consents": [{"channel": "email", "granted": True}]},  # where it was given is required
    {"consents": [{"channel": "email", "granted": True, "source": " "}]},
    {"consents": [{"channel": "email", "granted": "maybe", "source": "form"}]},
    {"consents": [consent("email")], "preferred_channel": "fax"},
])
def test_invalid_consents_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ConsentsUpdate.model_validate(body)


# ----- times, merges, announcements --------------------------------------------------------

def test_interaction_times_must_carry_a_time_zone_and_are_kept_in_utc() -> None:
    base = {"channel": "phone", "direction": "in", "summary": "asked about A4 paper"}
    with pytest.raises(ValidationError):
        InteractionCreate.model_validate({**base, "occurred_at": "2026-03-01T09:00:00"})
    interaction = InteractionCreate.model_validate({**base, "occurred_at": "2026-03-01T16:00:00+07:00"})
    assert interaction.occurred_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert interaction.occurred_at.tzinfo == UTC


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+05:00"])
def test_instants_out_of_range_in_utc_are_invalid_not_crashes(instant: str) -> None:
    with pytest.raises(ValidationError):
        ConsultationCreate.model_validate({"topic": "follow-up", "due_at": instant})


def test_merge_request_needs_a_duplicate_id() -> None:
    with pytest.raises(ValidationError):
        MergeRequest.model_validate({"duplicate_id": ""})
    with pytest.raises(ValidationError):
        MergeRequest.model_validate({})


def test_announcement_channels_are_deduplicated_in_order() -> None:
    announcement = AnnouncementCreate.model_validate(
        {"title": "New catalogue", "body": "See the new paper range", "channels": ["sms", "email", "sms"]})
    assert announcement.channels == ["sms", "email"]
    assert announcement.segments is None


@pytest.mark.parametrize("body", [
    {"title": "t", "body": "b", "channels": []},
    {"title": "t", "body": "b", "channels": ["fax"]},
    {"title": "t", "body": "b", "channels": ["email"], "segments": []},
    {"title": "", "body": "b", "channels": ["email"]},
    {"title": "t", "body": "b"},
])
def test_invalid_announcements_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AnnouncementCreate.model_validate(body)


def test_strings_with_nul_characters_are_refused() -> None:
    # PostgreSQL cannot store U+0000: it must be a 422, never a database error.
    with pytest.raises(ValidationError):
        create(name="Ana\x00", emails=["ana@example.com"])
    with pytest.raises(ValidationError):
        create(emails=["ana@example.com"], tags=["vip\x00"])
    with pytest.raises(ValidationError):
        create(emails=["ana@example.com"], address={"line1": "a\x00", "city": "b", "country": "ID"})
