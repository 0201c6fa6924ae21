"""Run every benchmark module and write docs/benchmarks.md.

    python -m bench.run --quick          # make bench: small sizes, short windows (a few minutes)
    python -m bench.run                  # make bench-full: full sizes
    python -m bench.run --only orders    # some modules only (comma-separated)
    python -m bench.run --save-before    # record this run as the "before" (bench/results/before.json)
    python -m bench.run --render         # rewrite docs/benchmarks.md from latest.json and before.json

Modules are the files ``bench/<name>.py`` defining ``async def run(ctx)``. Raw results go to
``bench/results/latest.json`` (``before.json`` with ``--save-before``), profiles beside them
under ``bench/results/latest/`` (``before/``). When ``before.json`` exists, the document shows
each figure beside its before value.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import importlib.metadata
import inspect
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.common import KAFKA_VERSION, REPO_ROOT, RESULTS_DIR, BenchContext, bench_context, configure_logging
from bench.report import figures_table, render

log = logging.getLogger("bench")

DOC = REPO_ROOT / "docs" / "benchmarks.md"
METHOD = Path(__file__).with_name("method.md")
LEVERS = Path(__file__).with_name("levers.md")  # measured by hand with bench/lever.py
NOT_MODULES = {"common", "run"}
PACKAGES = ["fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite",
            "aiokafka", "httptools", "uvloop", "py-spy"]


def discover() -> list[str]:
    """Names of the modules in bench/ that define ``async def run``."""
    names = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name in NOT_MODULES:
            continue
        module = importlib.import_module(f"bench.{name}")
        if inspect.iscoroutinefunction(getattr(module, "run", None)):
            names.append(name)
    return names


def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        ram_kib = 0
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram_kib / 1024 / 1024, "kernel": platform.release()}


async def versions(ctx: BenchContext) -> dict:
    found = {"Python": platform.python_version()}
    conn = await asyncpg.connect(ctx.postgres_admin_url)
    try:
        found["PostgreSQL"] = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    found["Kafka"] = KAFKA_VERSION
    import sqlite3

    found["SQLite"] = sqlite3.sqlite_version
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or "unknown", "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            # The bench's own outputs do not make the code measured "uncommitted".
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/benchmarks.md",
                              ":!bench/results"))}


async def run_all(args: argparse.Namespace) -> dict:
    names = discover()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - set(names)
        if unknown:
            raise SystemExit(f"no benchmark module {', '.join(sorted(unknown))}; there are {', '.join(names)}")
        names = [n for n in names if n in wanted]
    label = "before" if args.save_before else "latest"
    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    git, load_before = git_state(), os.getloadavg()
    results: dict = {"modules": {}, "sections": []}
    async with bench_context(quick=args.quick, postgres=args.postgres, kafka=args.kafka, label=label,
                             profile=not args.no_profile, keep=args.keep) as ctx:
        for old in ctx.results_dir.glob("profile-*.txt"):
            old.unlink()  # profiles of an earlier run would be mistaken for this one's
        for name in names:
            log.info("=== %s", name)
            module_started = time.monotonic()
            entry: dict = {"figures": [], "error": None}
            try:
                figures = await importlib.import_module(f"bench.{name}").run(ctx)
                entry["figures"] = [dataclasses.asdict(f) for f in figures]
                print(f"\n{name}:\n{figures_table(figures)}\n", flush=True)
            except Exception as exc:  # one failing module must not lose the others' figures
                log.error("module %s failed:\n%s", name, traceback.format_exc())
                entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["seconds"] = time.monotonic() - module_started
            results["modules"][name] = entry
        results["sections"] = [{"module": m, "title": t, "markdown": md} for m, t, md in ctx.sections]
        results["meta"] = {
            "started_at": started_at, "duration_s": time.monotonic() - started,
            "mode": "quick" if args.quick else "full",
            "command": "python -m bench.run " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "git": git, "machine": machine(), "versions": await versions(ctx),
            # Other work on the machine at the start and at the end (1, 5, 15 min averages).
            "load_average": {"start": load_before, "end": os.getloadavg()},
        }
    results["meta"]["duration_s"] = time.monotonic() - started
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and short windows (make bench)")
    parser.add_argument("--only", help="comma-separated module names")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to use instead of a private one")
    parser.add_argument("--kafka", help="bootstrap address of a broker to use instead of a private one")
    parser.add_argument("--save-before", action="store_true", help="record this run as bench/results/before.json")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles of missed targets")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (services' logs, SQLite files)")
    parser.add_argument("--render", action="store_true", help="only rewrite the document from the saved results")
    args = parser.parse_args()
    configure_logging()
    out = RESULTS_DIR / ("before.json" if args.save_before else "latest.json")
    if args.render:
        results = json.loads(out.read_text(encoding="utf-8"))
    else:
        results = asyncio.run(run_all(args))
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    before_file = RESULTS_DIR / "before.json"
    before = json.loads(before_file.read_text()) if before_file.is_file() else None
    if not args.no_doc:
        DOC.write_text(render(results, before, LEVERS.read_text(encoding="utf-8") + "\n\n"
                            + METHOD.read_text(encoding="utf-8")), encoding="utf-8")
        log.info("wrote %s", DOC.relative_to(REPO_ROOT))
    log.info("results in %s; the run took %.1f min", out.relative_to(REPO_ROOT), results["meta"]["duration_s"] / 60)
    failed = [name for name, m in results["modules"].items() if m["error"]]
    if failed:
        raise SystemExit(f"modules failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
