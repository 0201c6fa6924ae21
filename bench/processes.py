"""Processes of a benchmark: a service under uvicorn, the load generator, a baseline, a profiler.

Each runs apart from the bench's own process, so that the bench (seeding, polling, Kafka clients)
never competes inside the measured process, and the CPU read from /proc is the process's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from bench.measure import Outcome
from bench.procstat import rss_mib

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench")

# Settings of ours must not be overridden by a developer's environment.
_FOREIGN_PREFIXES = ("PELANGGAN_", "CUSTOMERS_", "ORDERS_", "FEEDBACK_", "INCENTIVES_", "ANALYTICS_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


@dataclass
class ServiceProcess:
    service: str
    url: str
    pid: int
    log_path: Path
    proc: asyncio.subprocess.Process

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def errors_logged(self) -> list[str]:
        """Error lines the service logged (JSON logs with level error, or tracebacks)."""
        found = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                if '"level": "error"' in line or line.startswith("Traceback"):
                    found.append(line[:300])
        return found


def serve_command(factory: str, workers: int = 1) -> list[str]:
    """How the Dockerfile starts a service: ``shared.http.server`` (uvicorn on the guarded h11 parser)
    where the code has it, else plain uvicorn (the code before that server existed)."""
    if (REPO_ROOT / "shared" / "http" / "server.py").is_file():
        return ["-m", "shared.http.server", factory, "--workers", str(workers)]
    return ["-m", "uvicorn", factory, "--factory", "--no-access-log"]


def _open_log(path: Path) -> BinaryIO:
    return path.open("wb")


async def start_service(service: str, *, settings: dict[str, str], work_dir: Path, label: str,
                        timeout: float = 120, workers: int = 1) -> ServiceProcess:
    """The service as the Dockerfile serves it (one worker process unless ``workers`` says more),
    on a free port; returns once ``/readyz`` answers 200. ``settings`` are the service's
    environment variables."""
    port = free_port()
    log_path = work_dir / f"{label}.log"
    command = [sys.executable, *serve_command(f"services.{service}.app:create_app", workers), "--host", "127.0.0.1",
               "--port", str(port)]
    log_file = _open_log(log_path)
    try:
        proc = await asyncio.create_subprocess_exec(*command, cwd=REPO_ROOT, env=clean_env(settings),
                                                    stdin=asyncio.subprocess.DEVNULL, stdout=log_file,
                                                    stderr=asyncio.subprocess.STDOUT)
    finally:
        log_file.close()  # the child has its own descriptor
    svc = ServiceProcess(service=service, url=f"http://127.0.0.1:{port}", pid=proc.pid, log_path=log_path, proc=proc)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"{label} exited during start-up:\n{svc.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{svc.url}/readyz")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                await stop_service(svc)
                raise RuntimeError(f"{label} not ready after {timeout:.0f} s:\n{svc.log_tail()}")
            await asyncio.sleep(0.2)
    log.info("%s ready on %s (pid %d)", label, svc.url, svc.pid)
    return svc


async def stop_service(svc: ServiceProcess, timeout: float = 30) -> None:
    if svc.proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        svc.proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(svc.proc.wait(), timeout)
    except TimeoutError:
        log.warning("%s ignored SIGTERM for %.0f s; killing pid %d", svc.service, timeout, svc.pid)
        with contextlib.suppress(ProcessLookupError):
            svc.proc.kill()
        await svc.proc.wait()


@asynccontextmanager
async def running_service(service: str, *, settings: dict[str, str], work_dir: Path,
                          label: str) -> AsyncIterator[ServiceProcess]:
    svc = await start_service(service, settings=settings, work_dir=work_dir, label=label)
    try:
        yield svc
    finally:
        await stop_service(svc)


# ----- load generator and baselines -----------------------------------------------------------------

def write_spec(work_dir: Path, name: str, spec: dict) -> Path:
    path = work_dir / f"{name}.spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


async def _run_json(command: list[str], what: str, timeout: float) -> Outcome:
    proc = await asyncio.create_subprocess_exec(*command, cwd=REPO_ROOT, env=clean_env({}),
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{what} did not finish in {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    return Outcome(**data)


def _window_args(warmup: float, duration: float, requests: int | None) -> list[str]:
    if requests is not None:
        return ["--requests", str(requests)]
    return ["--warmup", str(warmup), "--duration", str(duration)]


async def load(url: str, spec: Path, *, concurrency: int, warmup: float = 1.0, duration: float = 5.0,
               requests: int | None = None, watch: list[int] = (), postmaster: int | None = None) -> Outcome:
    """Drive ``url`` from a load-generator process (``bench.loadgen``)."""
    command = [sys.executable, "-m", "bench.loadgen", "--url", url, "--spec", str(spec),
               "--concurrency", str(concurrency), *_window_args(warmup, duration, requests)]
    for pid in watch:
        command += ["--watch", str(pid)]
    if postmaster:
        command += ["--postmaster", str(postmaster)]
    return await _run_json(command, f"load generator on {url}", timeout=warmup + duration + 300)


async def baseline(kind: str, spec: Path, *, concurrency: int, dsn: str | None = None, path: Path | None = None,
                   query: str | None = None, warmup: float = 1.0, duration: float = 5.0,
                   requests: int | None = None, postmaster: int | None = None) -> Outcome:
    """Run a plain-driver baseline process (``bench.baselines``)."""
    command = [sys.executable, "-m", "bench.baselines", kind, "--spec", str(spec), "--concurrency", str(concurrency),
               *_window_args(warmup, duration, requests)]
    if dsn:
        command += ["--dsn", dsn]
    if path:
        command += ["--path", str(path)]
    if query:
        command += ["--query", query]
    if postmaster:
        command += ["--postmaster", str(postmaster)]
    return await _run_json(command, f"baseline {kind}", timeout=warmup + duration + 300)


# ----- profiles -------------------------------------------------------------------------------------

def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


async def profile_under_load(svc: ServiceProcess, spec: Path, *, concurrency: int, seconds: float,
                             out: Path, rate: int = 200, wall_clock: bool = False) -> Path | None:
    """Sample the service's Python stacks with py-spy (collapsed stacks) while the load generator drives it.

    ``--nonblocking`` reads the stacks without stopping the process, so the profile costs the
    service little. By default only on-CPU samples are kept (py-spy drops idle threads); with
    ``wall_clock`` every thread is sampled whether it runs or waits (``--idle``), which shows where
    a latency goes: waiting for a lock or a connection, or in the busy back-off of SQLite."""
    binary = py_spy()
    if binary is None:
        log.warning("py-spy not installed: no profile for %s", out.name)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        binary, "record", "--pid", str(svc.pid), "--duration", str(int(seconds)), "--rate", str(rate),
        "--format", "raw", "--output", str(out), "--nonblocking", *(["--idle"] if wall_clock else []),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    await asyncio.sleep(0.5)  # let py-spy attach before the load starts
    await load(svc.url, spec, concurrency=concurrency, warmup=0.0, duration=seconds + 1.0)
    output, _ = await asyncio.wait_for(spy.communicate(), seconds + 60)
    if spy.returncode != 0 or not await asyncio.to_thread(out.is_file):
        log.warning("py-spy failed (exit %s): %s", spy.returncode, output.decode(errors="replace")[-500:])
        return None
    return out


def service_settings(service: str, **values: object) -> dict[str, str]:
    """Environment variables for a service's settings class: ``ORDERS_DATABASE_URL=...`` and so on."""
    prefix = service.upper()
    return {f"{prefix}_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in values.items()}
