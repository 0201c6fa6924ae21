"""The whole system on one machine (`pelanggan run`, README's first command).

Starts the local broker, every built service as its own process (embedded SQLite files, or a
local PostgreSQL with ``--postgres``, which ``--workers`` needs), waits until each answers
``/readyz``, loads the demo company on first start, starts the gateway when nginx is installed,
and prints where everything is. Every port is checked before anything starts, so a port in use
is a clear message naming the setting that moves it, not a half-started system.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pelanggan.services import ServiceSpec, built_services
from shared.infra import REPO_ROOT, InfraError

GATEWAY_CONFIG = REPO_ROOT / "infra" / "gateway" / "nginx.conf"


class StartError(InfraError):
    """The system could not be started as asked; the message says why and what to change."""


@dataclass
class Service:
    spec: ServiceSpec
    port: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Plan:
    services: list[Service]
    data_dir: Path
    kafka_port: int = 9092
    gateway_port: int | None = 8080
    workers: int = 1
    postgres_port: int | None = None  # a local PostgreSQL instead of SQLite
    seed: bool = True
    start_kafka: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


def plan(*, only: list[str] | None, ports: dict[str, int], data_dir: Path | None, kafka_port: int,
         gateway_port: int | None, workers: int, postgres_port: int | None, seed: bool, start_kafka: bool) -> Plan:
    specs = built_services()
    if only:
        known = {s.name for s in specs}
        if unknown := sorted(set(only) - known):
            raise StartError(f"not built or unknown service(s): {', '.join(unknown)}; "
                             f"built: {', '.join(sorted(known))}")
        specs = [s for s in specs if s.name in only]
    if unknown := sorted(set(ports) - {s.name for s in specs}):
        raise StartError(f"--port names a service that is not started: {', '.join(unknown)}")
    if workers < 1:
        raise StartError("--workers is at least 1")
    if workers > 1 and postgres_port is None:
        sqlite = [s.name for s in specs if not os.environ.get(f"{s.env_prefix}DATABASE_URL")]
        if sqlite:
            raise StartError(
                f"--workers {workers} needs PostgreSQL: SQLite stays single-process by design (one writer per "
                f"file). Add --postgres, or set {', '.join(f'{n.upper()}_DATABASE_URL' for n in sqlite)}.")
    return Plan(services=[Service(s, ports.get(s.name, s.port)) for s in specs],
                data_dir=(data_dir or REPO_ROOT / "data").resolve(), kafka_port=kafka_port,
                gateway_port=gateway_port, workers=workers, postgres_port=postgres_port, seed=seed,
                start_kafka=start_kafka)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_ports(p: Plan, *, kafka_running: bool) -> None:
    """Refuse to start when a port is taken, naming the option and the setting that move it."""
    taken: list[str] = []
    for service in p.services:
        if port_in_use(service.port):
            taken.append(f"port {service.port} ({service.name}) is in use: move it with "
                         f"--port {service.name}=<port> (or {service.spec.env_prefix}PORT)")
    if p.start_kafka and not kafka_running:
        for port, what in ((p.kafka_port, "the Kafka broker"), (p.kafka_port + 1, "the Kafka controller")):
            if port_in_use(port):
                taken.append(f"port {port} ({what}) is in use: move the broker with --kafka-port <port> "
                             "(it also uses the next port), or use a running broker with --no-kafka and "
                             "PELANGGAN_KAFKA_BOOTSTRAP")
    if p.gateway_port is not None and shutil.which("nginx") and port_in_use(p.gateway_port):
        taken.append(f"port {p.gateway_port} (the gateway) is in use: move it with --gateway-port <port>, "
                     "or --no-gateway")
    if taken:
        raise StartError("cannot start:\n  " + "\n  ".join(taken))


def service_env(p: Plan, service: Service, database_urls: dict[str, str]) -> dict[str, str]:
    """The environment of one service process: its port and data, the broker, where the others are."""
    prefix = service.spec.env_prefix
    env = {**os.environ, **p.extra_env, "PYTHONPATH": str(REPO_ROOT),
           f"{prefix}PORT": str(service.port), f"{prefix}DATA_DIR": str(p.data_dir),
           "PELANGGAN_KAFKA_BOOTSTRAP": os.environ.get("PELANGGAN_KAFKA_BOOTSTRAP", f"127.0.0.1:{p.kafka_port}")}
    if service.name in database_urls:
        env[f"{prefix}DATABASE_URL"] = database_urls[service.name]
    for other in p.services:
        if other is not service:
            # Settings named <other>_url (ORDERS_CUSTOMERS_URL, FEEDBACK_ORDERS_URL, ...) point at the others.
            env.setdefault(f"{prefix}{other.name.upper()}_URL", other.url)
    return env


def server_command(service: Service, workers: int) -> list[str]:
    # The shared server: h11 with bounded request heads and a head-read timeout (shared/http/server.py).
    return [sys.executable, "-m", "shared.http.server", service.spec.app_factory, "--host", "127.0.0.1",
            "--port", str(service.port), "--workers", str(workers)]


def wait_ready(services: list[Service], children: dict[str, subprocess.Popen[bytes]], *,
               timeout: float = 180.0, on_ready: Callable[[Service], None] | None = None) -> None:
    """Until every service answers /readyz with 200; a service that exits meanwhile is an error."""
    pending = list(services)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for service in list(pending):
                child = children[service.name]
                if child.poll() is not None:
                    raise StartError(f"{service.name} exited with code {child.returncode} during start-up "
                                       "(its log is above)")
                try:
                    if client.get(f"{service.url}/readyz").status_code == 200:
                        pending.remove(service)
                        if on_ready:
                            on_ready(service)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise StartError(f"not ready after {timeout:.0f} s: {', '.join(s.name for s in pending)}")
            if pending:
                time.sleep(0.3)


@dataclass
class Gateway:
    """Debian's nginx on loopback, running the repository's gateway configuration."""

    port: int
    upstreams: dict[str, str]  # service name -> host:port
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pelanggan-gateway-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        shutil.copy(GATEWAY_CONFIG, self.prefix / "nginx.conf")
        lines = ["# Written by pelanggan for a loopback gateway."]
        for name in ("customers", "orders", "feedback", "incentives", "analytics"):
            # A service that is not running still gets an upstream (nginx needs every name): requests to it
            # are a 502 from the gateway, not a configuration error.
            address = self.upstreams.get(name, "127.0.0.1:9")
            lines.append(f"upstream {name} {{ server {address}; keepalive 16; }}")
        (self.prefix / "upstreams.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.prefix / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n", encoding="utf-8")

    def start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.write_config()
        command = [nginx, "-p", str(self.prefix), "-c", "nginx.conf", "-g", "daemon off;"]
        check = subprocess.run([*command[:-2], "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise StartError(f"the gateway configuration is refused by nginx:\n{check.stderr}")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_in_use(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise StartError(f"nginx did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        shutil.rmtree(self.prefix, ignore_errors=True)


def seed_on_first_start(p: Plan, *, customers: int, months: int, console: object) -> str:
    """Load the demo company through the APIs unless the system already holds data; says what happened."""
    from pelanggan.seed.client import SERVICES, SeedError
    from pelanggan.seed.loader import AlreadySeeded
    from pelanggan.seed.runner import run_seed, service_token, summary_table

    if missing := [name for name in SERVICES if p.service(name) is None]:
        return f"demo company not loaded: it needs every service ({', '.join(missing)} not started)"
    try:
        outcome = run_seed(urls={s.name: s.url for s in p.services}, token=service_token(), customers=customers,
                           months=months, console=console)
    except AlreadySeeded as exc:
        return f"demo company: {exc} (skipped)"
    except SeedError as exc:
        raise StartError(f"loading the demo company failed: {exc}") from exc
    console.print(summary_table(outcome))  # type: ignore[attr-defined]
    return "demo company loaded"


def nginx_available() -> bool:
    return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").is_file()


def stop_children(children: dict[str, subprocess.Popen[bytes]], timeout: float = 25.0) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
