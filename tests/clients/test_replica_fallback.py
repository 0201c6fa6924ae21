"""The retry of a write transaction after a replica miss: learnt once per kind, outside the transaction."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.clients.replica_fallback import ReplicaFallback, retry_after_learning
from shared.http.errors import DependencyUnavailable, Unprocessable


class CustomerMiss(Unprocessable):
    """A miss that is already the request's 4xx (as orders' CustomerUnknown is)."""


class StaffMiss(Exception):
    def __init__(self, employee_id: str) -> None:
        super().__init__(employee_id)
        self.employee_id = employee_id


class FakeTransaction:
    """Raises the scripted misses one per run, then commits; records what happened, in order."""

    def __init__(self, log: list[str], *misses: Exception) -> None:
        self.log, self.misses = log, list(misses)

    async def __call__(self) -> str:
        self.log.append("transaction")
        if self.misses:
            raise self.misses.pop(0)
        return "committed"


def learner(log: list[str], name: str, fails_with: Exception | None = None) -> Callable[[Exception], object]:
    async def learn(miss: Exception) -> None:
        log.append(f"learn {name}: {miss}")
        if fails_with is not None:
            raise fails_with

    return learn


def unavailable(miss: Exception) -> DependencyUnavailable:
    return DependencyUnavailable("could not be kept; try again", dependency="incentives")


async def test_a_transaction_that_misses_nothing_runs_once_and_asks_no_owner() -> None:
    log: list[str] = []
    result = await retry_after_learning(FakeTransaction(log), ReplicaFallback(StaffMiss, learn=learner(log, "staff")))
    assert (result, log) == ("committed", ["transaction"])


async def test_a_miss_is_learnt_between_the_attempts_and_the_transaction_runs_again() -> None:
    log: list[str] = []
    result = await retry_after_learning(FakeTransaction(log, StaffMiss("emp-7")),
                                        ReplicaFallback(StaffMiss, learn=learner(log, "staff")))
    assert (result, log) == ("committed", ["transaction", "learn staff: emp-7", "transaction"])


async def test_each_kind_of_miss_is_learnt_once_whatever_the_order() -> None:
    log: list[str] = []
    result = await retry_after_learning(
        FakeTransaction(log, StaffMiss("emp-7"), CustomerMiss("c-1")),
        ReplicaFallback(CustomerMiss, learn=learner(log, "customer")),
        ReplicaFallback(StaffMiss, learn=learner(log, "staff"), exhausted=unavailable))
    assert result == "committed"
    assert log == ["transaction", "learn staff: emp-7", "transaction", "learn customer: c-1", "transaction"]


async def test_the_same_miss_after_learning_ends_with_the_exhausted_error() -> None:
    log: list[str] = []
    second = StaffMiss("emp-7")
    with pytest.raises(DependencyUnavailable) as raised:
        await retry_after_learning(FakeTransaction(log, StaffMiss("emp-7"), second),
                                   ReplicaFallback(StaffMiss, learn=learner(log, "staff"), exhausted=unavailable))
    assert raised.value.__cause__ is second
    assert log == ["transaction", "learn staff: emp-7", "transaction"]  # the owner is asked once


async def test_without_an_exhausted_error_the_second_miss_is_the_answer() -> None:
    log: list[str] = []
    second = CustomerMiss("no customer c-1")
    with pytest.raises(CustomerMiss) as raised:
        await retry_after_learning(FakeTransaction(log, CustomerMiss("no customer c-1"), second),
                                   ReplicaFallback(CustomerMiss, learn=learner(log, "customer")))
    assert raised.value is second
    assert log == ["transaction", "learn customer: no customer c-1", "transaction"]


async def test_what_the_owner_answers_instead_of_the_fact_is_the_answer_and_nothing_is_retried() -> None:
    log: list[str] = []
    unknown = Unprocessable("emp-7 is not in the staff directory", field="sales_employee_id")
    first = StaffMiss("emp-7")
    with pytest.raises(Unprocessable) as raised:
        await retry_after_learning(FakeTransaction(log, first),
                                   ReplicaFallback(StaffMiss, learn=learner(log, "staff", fails_with=unknown)))
    assert raised.value is unknown and raised.value.__context__ is first
    assert log == ["transaction", "learn staff: emp-7"]


async def test_other_errors_pass_through_unlearnt() -> None:
    log: list[str] = []
    with pytest.raises(KeyError):
        await retry_after_learning(FakeTransaction(log, KeyError("taken")),
                                   ReplicaFallback(StaffMiss, learn=learner(log, "staff")))
    assert log == ["transaction"]


async def test_the_first_fallback_that_names_the_miss_handles_it() -> None:
    """As ``except`` clauses: a miss that is an instance of two fallbacks' types goes to the first."""
    log: list[str] = []
    result = await retry_after_learning(FakeTransaction(log, CustomerMiss("c-1")),
                                        ReplicaFallback(CustomerMiss, learn=learner(log, "customer")),
                                        ReplicaFallback(Exception, learn=learner(log, "anything")))
    assert (result, log) == ("committed", ["transaction", "learn customer: c-1", "transaction"])
