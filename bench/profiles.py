"""Reading py-spy's collapsed stacks (``--format raw``): where a service process spends its CPU.

Each line is ``frame;frame;...;frame COUNT`` with frames as ``function (path/file.py:line)``,
outermost first. Summarised three ways: by package of the innermost frame (self time), the
functions with most self time, and the project's own functions (``services/``, ``shared/``) by
inclusive time: what a request path costs, with everything it calls.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
PROJECT_ROOTS = ("services/", "shared/")


@dataclass
class ProfileSummary:
    samples: int
    by_package: list[tuple[str, int]] = field(default_factory=list)
    top_self: list[tuple[str, int]] = field(default_factory=list)
    top_project: list[tuple[str, int]] = field(default_factory=list)

    def markdown(self, title: str, path: str, *, wall_clock: bool = False) -> str:
        def pct(count: int) -> str:
            return f"{100 * count / self.samples:.1f} %" if self.samples else "-"

        kind = ("wall-clock samples of every thread, running or waiting (the event loop's waits included)"
                if wall_clock else "on-CPU samples")
        lines = [f"**{title}**: {self.samples} {kind}; collapsed stacks in `{path}` "
                 "(open with speedscope or flamegraph.pl). Native code (uvloop, asyncpg's Cython protocol, "
                 "pydantic-core, the JSON encoder) is charged to the innermost Python frame that called it: "
                 "`Runner.run` is the event loop itself.", "",
                 "| package (innermost frame) | share |", "|---|---|"]
        lines += [f"| {name} | {pct(count)} |" for name, count in self.by_package[:10]]
        lines += ["", "| function (self time) | share |", "|---|---|"]
        lines += [f"| `{name}` | {pct(count)} |" for name, count in self.top_self[:12]]
        lines += ["", "| project function (inclusive time) | share |", "|---|---|"]
        lines += [f"| `{name}` | {pct(count)} |" for name, count in self.top_project[:15]]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"samples": self.samples, "by_package": self.by_package[:15], "top_self": self.top_self[:20],
                "top_project": self.top_project[:25]}


def _parse_frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match.group("function"), match.group("file")


def package_of(path: str) -> str:
    if not path:
        return "(native / unknown)"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    path = path.lstrip("/")
    if path.startswith(PROJECT_ROOTS):
        return "/".join(path.split("/")[:2])  # services/orders, shared/bus, ...
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def summarise(path: Path) -> ProfileSummary:
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    project: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_parse_frame(f) for f in stack.split(";")]
        # py-spy prefixes process and thread pseudo-frames without a file: drop them.
        frames = [(fn, file) for fn, file in frames if file]
        if not frames:
            continue
        total += count
        leaf_function, leaf_file = frames[-1]
        by_package[package_of(leaf_file)] += count
        self_time[f"{leaf_function} ({_short(leaf_file)})"] += count
        seen = set()
        for function, file in frames:
            short = _short(file)
            if short.startswith(PROJECT_ROOTS):
                key = f"{function} ({short})"
                if key not in seen:
                    seen.add(key)
                    project[key] += count
    return ProfileSummary(samples=total, by_package=by_package.most_common(), top_self=self_time.most_common(),
                          top_project=project.most_common())


def _short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    for root in PROJECT_ROOTS:
        marker = f"/{root}"
        if marker in path:
            return root + path.split(marker, 1)[1]
    return path.split("/lib/python3.11/", 1)[-1]
