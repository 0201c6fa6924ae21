"""The pure rules: workflow table, default priority, SLA policy coverage (no I/O)."""

from __future__ import annotations

import pytest

from services.feedback import priority, sla_policy, workflow


def test_the_workflow_leads_where_the_issue_says() -> None:
    path = [("new", "assign", "assigned"), ("assigned", "start", "in_progress"),
            ("in_progress", "wait", "waiting_on_customer"), ("waiting_on_customer", "resume", "in_progress"),
            ("in_progress", "resolve", "resolved"), ("resolved", "close", "closed"),
            ("closed", "reopen", "in_progress"),
            ("resolved", "reopen", "in_progress"), ("waiting_on_customer", "resolve", "resolved"),
            ("waiting_on_customer", "customer_message", "in_progress"), ("new", "reply", "in_progress"),
            ("waiting_on_customer", "reply", "waiting_on_customer"), ("resolved", "note", "resolved")]
    for status, command, after in path:
        assert workflow.allows(status, command), (status, command)
        assert workflow.status_after(status, command) == after


@pytest.mark.parametrize(("status", "command"), [("new", "resolve"), ("new", "wait"), ("resolved", "reply"),
                                                 ("closed", "close"), ("in_progress", "reopen"),
                                                 ("waiting_on_customer", "wait"), ("assigned", "rate")])
def test_commands_a_status_refuses(status: str, command: str) -> None:
    assert not workflow.allows(status, command)


def test_a_rating_once_per_resolution() -> None:
    assert "rate" in workflow.allowed_commands("resolved")
    assert "rate" not in workflow.allowed_commands("resolved", rated=True)


@pytest.mark.parametrize(("kind", "segment", "expected"), [
    ("claim", "retail", "high"), ("claim", "wholesale", "high"), ("complaint", "retail", "normal"),
    ("complaint", "Wholesale ", "high"), ("objection", None, "normal"), ("suggestion", "corporate", "normal"),
    ("comment", "schools", "low")])
def test_default_priority(kind: str, segment: str | None, expected: str) -> None:
    assert priority.default_priority(kind, segment, priority.DEFAULT_RAISED_SEGMENTS) == expected


def test_the_default_policy_covers_every_kind_and_priority() -> None:
    assert sla_policy.uncovered(sla_policy.DEFAULT_POLICY.entries) == []
    for kind in sla_policy.KINDS:
        for level in priority.PRIORITIES:
            assert sla_policy.DEFAULT_POLICY.targets(kind, level).first_response is not None


def test_a_specific_entry_wins_over_the_any_kind_entry() -> None:
    specific = sla_policy.PolicyEntry("claim", "urgent", sla_policy.Target(60), None)
    policy = sla_policy.Policy(version=3, entries=(*sla_policy.DEFAULT_POLICY.entries, specific),
                               raise_priority_segments=())
    assert policy.targets("claim", "urgent") == specific
    assert policy.targets("complaint", "urgent").first_response == sla_policy.Target(3600)
    assert sla_policy.duplicates([specific, specific]) == ["claim/urgent"]
    assert "comment/low" in sla_policy.uncovered([specific])
