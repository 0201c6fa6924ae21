"""The measuring window and the result shape shared by the load generator and the baselines.

Both are closed loops: ``concurrency`` workers each start the next operation as soon as the last
one finished. Operations that finish inside the window (after the warm-up, for ``duration``
seconds) are counted. The load generator also ramps its workers up over the first half of the
warm-up, opens the window only once every worker has had an answer (then after one more warm-up),
and makes the window at least 3 median latencies long (at most twice the planned length): against a
service answering in seconds, a short window counts bursts, not a rate. CPU of the watched processes is read at
the window's two ends. With ``requests`` instead of a duration, exactly that many operations are
run and all are counted.
Standard library only: this module runs in the load generator's and the baselines' processes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (as numpy's default)."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass
class Window:
    """When to count: from ``start`` for ``duration`` seconds (perf_counter clock), or a fixed count."""

    warmup: float = 0.0
    duration: float | None = None
    requests: int | None = None
    start: float = 0.0
    end: float = float("inf")
    started: int = 0

    def open(self) -> None:
        now = time.perf_counter()
        if self.requests is not None:
            self.start, self.end = now, float("inf")
        else:
            assert self.duration is not None
            self.start = now + self.warmup
            self.end = self.start + self.duration

    def hold(self) -> None:
        """Keep the window from closing while its start is not yet fixed (see ``begin``)."""
        self.end = float("inf")

    def begin(self, at: float, duration: float | None = None) -> None:
        """Fix the window's start (no earlier than planned) and its length (by default the planned one)."""
        assert self.duration is not None
        self.duration = duration or self.duration
        self.start = max(self.start, at)
        self.end = self.start + self.duration

    def take(self) -> bool:
        """Whether a worker may start another operation."""
        if self.requests is not None:
            if self.started >= self.requests:
                return False
            self.started += 1
            return True
        return time.perf_counter() < self.end

    def counts(self, finished_at: float) -> bool:
        return self.requests is not None or self.start <= finished_at < self.end


@dataclass
class Outcome:
    completed: int  # successful operations counted
    errors: dict[str, int]  # failed operations counted, by HTTP status or exception name
    elapsed: float  # seconds the counted operations took, end to end
    throughput: float  # completed / elapsed
    p50_ms: float
    p99_ms: float
    mean_ms: float
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the window: "self", pids, "postgres"
    warmup: float = 0.0  # seconds from the first request to the window's start

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def generator_share(results: list[Outcome]) -> str:
    """How much of a core the load generator (or baseline) process itself used, as a note."""
    shares = [r.cpu.get("self", 0.0) / r.elapsed for r in results if r.elapsed > 0]
    if not shares:
        return ""
    warmup, window = max(r.warmup for r in results), max(r.elapsed for r in results)
    return (f"load generator at {100 * max(shares):.0f} % of a core at most; warm-up up to {warmup:.1f} s, "
            f"window up to {window:.1f} s")


def paired_ratios(ours: list[float], theirs: list[float]) -> str:
    """Each repetition's ratio (service and baseline ran back to back): the spread behind the medians."""
    pairs = [f"{a / b:.2f}x" for a, b in zip(ours, theirs, strict=False) if b]
    return "per repetition: " + ", ".join(pairs) if pairs else ""


def outcome(latencies: list[float], errors: dict[str, int], elapsed: float, cpu: dict[str, float],
            warmup: float = 0.0) -> Outcome:
    ordered = sorted(latencies)
    return Outcome(
        completed=len(ordered), errors=errors, elapsed=elapsed,
        throughput=len(ordered) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(ordered, 0.50) * 1000, p99_ms=percentile(ordered, 0.99) * 1000,
        mean_ms=(sum(ordered) / len(ordered) * 1000) if ordered else float("nan"), cpu=cpu, warmup=warmup,
    )
