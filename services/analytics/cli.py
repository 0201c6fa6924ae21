"""``pelanggan analytics rebuild``: the command's body, with a progress bar per topic (events, events/s)."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from services.analytics.config import AnalyticsSettings
from services.analytics.rebuild import RebuildRefused, rebuild


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s", style="progress.data.speed")


def run_rebuild(console: Console, settings: AnalyticsSettings | None = None) -> int:
    """Run the rebuild; 0 when the figures came back identical, 1 when they differ, 2 when refused."""
    settings = settings or AnalyticsSettings()
    with Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        EventsPerSecond(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, int] = {}
        total_task = bar.add_task("all topics", total=None)
        counts: dict[str, int] = {}

        def progress(topic: str, done: int, total: int) -> None:
            if topic not in tasks:
                tasks[topic] = bar.add_task(topic, total=total)
            bar.update(tasks[topic], completed=done)
            counts[topic] = done
            bar.update(
                total_task, completed=sum(counts.values()), total=sum(bar.tasks[t].total or 0 for t in tasks.values())
            )

        try:
            report = asyncio.run(rebuild(settings, progress=progress))
        except RebuildRefused as exc:
            console.print(f"[red]refused:[/red] {exc}")
            return 2
    console.print(
        f"replayed {sum(report.totals.values())} events: {report.applied} applied, "
        f"{report.skipped} not for analytics, {len(report.failed)} failed"
    )
    for failure in report.failed[:20]:
        console.print(f"  [yellow]failed[/yellow] {failure}")
    same = report.checksum_before == report.checksum_after
    console.print(
        f"read-model checksum before {report.checksum_before[:16]}, after {report.checksum_after[:16]}: "
        + (
            "[green]identical[/green]"
            if same
            else "[yellow]different[/yellow] (events had not all been applied before, or some failed)"
        )
    )
    return 0 if same else 1
