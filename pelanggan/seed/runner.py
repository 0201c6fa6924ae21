"""`pelanggan seed` as a command: build the plan, send it with a rich progress bar per phase, sum it up."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from pelanggan.seed.client import Services
from pelanggan.seed.loader import AlreadySeeded, Loader, existing_company
from pelanggan.seed.plan import build_plan, checksum


class RateColumn(ProgressColumn):
    """Items per second of the phase."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:7.1f}/s" if task.speed else "      -/s")


class RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.bar, self.tasks = progress, dict[str, TaskID]()

    def phase(self, name: str, total: int) -> None:
        self.tasks[name] = self.bar.add_task(name, total=max(total, 1))
        if total == 0:
            self.bar.update(self.tasks[name], completed=1)

    def advance(self, name: str, amount: int = 1) -> None:
        self.bar.advance(self.tasks[name], amount)


@dataclass
class Outcome:
    counts: dict[str, int]
    elapsed: float
    requests: int
    checksum: str

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def service_token(subject: str = "pelanggan-seed") -> str:
    """A token like `pelanggan token --role admin` mints, with the configured secret."""
    from shared.config import ServiceSettings
    from shared.http.auth import issue_token

    secret = ServiceSettings().jwt_secret
    if not secret:
        raise AlreadySeeded("no JWT secret configured (PELANGGAN_JWT_SECRET): cannot mint the seed's token")
    return issue_token(secret=secret, subject=subject, roles=["admin"], ttl=timedelta(hours=6))


async def seed_company(*, urls: dict[str, str], token: str, seed: int = 42, customers: int = 2000, months: int = 24,
                       concurrency: int = 12, until: date | None = None, console: Console | None = None) -> Outcome:
    """Raises AlreadySeeded when the system holds the company (or other data), Unreachable when a service
    does not answer, SeedError when a service refuses what the plan sends."""
    console = console or Console()
    # A thread: the default plan takes about a second to build, too long to hold the event loop.
    plan = await asyncio.to_thread(build_plan, seed=seed, customer_count=customers, months=months,
                                   until=until or datetime.now(UTC).date())
    started = time.monotonic()
    async with Services(urls=urls, token=token, seed=seed) as services:
        await services.check_reachable()
        if reason := await existing_company(services, plan):
            raise AlreadySeeded(f"not seeding: {reason}")
        with Progress(TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            counts = await Loader(services, plan, RichProgress(bar), concurrency=concurrency).run()
        return Outcome(counts=dict(counts), elapsed=time.monotonic() - started, requests=services.requests,
                       checksum=checksum(plan))


def summary_table(outcome: Outcome) -> Table:
    table = Table(title=f"demo company seeded in {outcome.elapsed:.1f} s "
                        f"({outcome.requests} requests, {outcome.rate:.0f}/s)")
    table.add_column("entity")
    table.add_column("count", justify="right")
    for name, count in outcome.counts.items():
        table.add_row(name, str(count))
    return table


def run_seed(**kwargs: object) -> Outcome:
    return asyncio.run(seed_company(**kwargs))  # type: ignore[arg-type]
