"""CPU time and resident memory of processes, read from /proc (Linux), with the standard library only.

Imported by the load generator and the baselines too, which run as processes of their own and
read the CPU of the process under test over exactly the window they measure.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces: split after the last ")".
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid: int | str = "self", *, with_children: bool = False) -> float:
    """User + system CPU of every thread of ``pid`` so far (and of its reaped children)."""
    fields = _stat_fields(pid)
    # Fields 14-17 of proc(5): utime, stime, cutime, cstime; fields[0] is field 3 (state).
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(entry)[1]) == parent:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
    return found


def server_cpu_seconds(postmaster: int) -> float:
    """CPU of a whole PostgreSQL server: the postmaster, its exited children and the live backends."""
    total = cpu_seconds(postmaster, with_children=True)
    for pid in children(postmaster):
        try:
            total += cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
    return total


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for process {pid}")


class CpuWatch:
    """CPU seconds of a few processes between ``start()`` and ``stop()``."""

    def __init__(self, pids: list[int], postmaster: int | None = None) -> None:
        self.pids = pids
        self.postmaster = postmaster
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        values = {str(pid): cpu_seconds(pid) for pid in self.pids}
        values["self"] = cpu_seconds("self")
        if self.postmaster:
            values["postgres"] = server_cpu_seconds(self.postmaster)
        return values

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        self.used = {key: end[key] - self._start[key] for key in end}
        return self.used
