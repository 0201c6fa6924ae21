"""A write transaction retried once a replica miss has been learnt from the fact's owner.

A hot-path write (POST /orders, POST /cases) reads the local replicas inside its transaction, in
one go, instead of asking every owner first: the replicas, fed by events, almost always know. When
one has not heard of an id yet (its event still on its way), the transaction raises a *miss*, is
rolled back, and :func:`retry_after_learning` asks the owner and runs the transaction again:

- the owner is asked outside any transaction (``learn``): no database lock is held while another
  service is waited for (on SQLite that would stop every writer), and its answer is kept in the
  replica in a transaction of its own (see :mod:`shared.clients.owner_lookup` and
  :class:`shared.staff.directory.StaffDirectory`); whatever ``learn`` raises (the owner knows no
  such id: a 4xx; the owner down: 503 with Retry-After) is the request's answer;
- each kind of miss is learnt once: the same miss again after learning means the answer could not
  be kept (or was overtaken), and asking again would not help; the request ends with the
  fallback's ``exhausted`` error (a 503 with Retry-After, say), or the miss itself when there is
  none (a miss that is already a 4xx problem).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=Exception)


@dataclass(frozen=True)
class ReplicaFallback(Generic[E]):
    """How one kind of replica miss (the exception ``miss``) is learnt, and what a second one means."""

    miss: type[E]
    learn: Callable[[E], Awaitable[None]]
    # The error that ends the request when the miss comes again after learning; None: the miss itself.
    exhausted: Callable[[E], Exception] | None = None


async def retry_after_learning(transaction: Callable[[], Awaitable[T]], *fallbacks: ReplicaFallback[Any]) -> T:
    """``transaction()``'s result, run again after each miss is learnt (once per fallback).

    The first fallback whose ``miss`` the raised exception is an instance of handles it (the order
    of ``except`` clauses); any other exception, a replay's answer or a conflict say, passes through.
    """
    misses = tuple(fallback.miss for fallback in fallbacks)
    learnt: set[int] = set()
    while True:
        try:
            return await transaction()
        except misses as miss:
            index = next(i for i, fallback in enumerate(fallbacks) if isinstance(miss, fallback.miss))
            fallback = fallbacks[index]
            if index in learnt:
                if fallback.exhausted is None:
                    raise
                raise fallback.exhausted(miss) from miss
            # Still inside the except clause: an error of the owner's answer keeps the miss as its context.
            await fallback.learn(miss)
            learnt.add(index)
