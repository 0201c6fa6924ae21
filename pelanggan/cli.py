"""`pelanggan`: run the system locally and operate it (broker, tokens, dead letters, contracts)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pelanggan.infra import REPO_ROOT, InfraError
from pelanggan.infra.kafka import LocalKafka
from pelanggan.infra.postgres import LocalPostgres
from pelanggan.services import built_services

app = typer.Typer(help="Pelanggan CRM: local system and operations.", no_args_is_help=True)
kafka_app = typer.Typer(help="The local single-node Kafka broker (127.0.0.1:9092).", no_args_is_help=True)
postgres_app = typer.Typer(help="A local PostgreSQL server (127.0.0.1:55432), optional.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list and replay.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(postgres_app, name="postgres")
app.add_typer(dlq_app, name="dlq")

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


# ----- kafka ----------------------------------------------------------------------------------


@kafka_app.command("start")
def kafka_start(port: int = 9092, controller_port: int = 9093) -> None:
    """Fetch the jars if needed, format storage on first start, start and wait until it answers."""
    broker = LocalKafka(port=port, controller_port=controller_port)
    try:
        broker.start()
    except InfraError as exc:
        _fail(str(exc))
    console.print(f"kafka answering on [bold]{broker.bootstrap}[/bold]")


@kafka_app.command("stop")
def kafka_stop(port: int = 9092, controller_port: int = 9093) -> None:
    LocalKafka(port=port, controller_port=controller_port).stop()
    console.print("kafka stopped")


@kafka_app.command("status")
def kafka_status(port: int = 9092, controller_port: int = 9093) -> None:
    status = LocalKafka(port=port, controller_port=controller_port).status()
    console.print_json(json.dumps(status))
    if not status.get("answering"):
        raise typer.Exit(1)


# ----- postgres -------------------------------------------------------------------------------


@postgres_app.command("start")
def postgres_start(port: int = 55432) -> None:
    server = LocalPostgres(port=port)
    try:
        server.start()
    except InfraError as exc:
        _fail(str(exc))
    console.print(f"postgres running: {server.url('postgres')}")


@postgres_app.command("stop")
def postgres_stop(port: int = 55432) -> None:
    LocalPostgres(port=port).stop()
    console.print("postgres stopped")


@postgres_app.command("status")
def postgres_status(port: int = 55432) -> None:
    console.print_json(json.dumps(LocalPostgres(port=port).status(), default=str))


# ----- tokens ---------------------------------------------------------------------------------


@app.command("token")
def token(
    role: Annotated[list[str], typer.Option("--role", help="admin, manager, support, analyst or service")],
    sub: Annotated[str, typer.Option("--sub", help="subject: the employee or system id")] = "local-user",
    hours: Annotated[int, typer.Option(help="validity")] = 12,
) -> None:
    """Print a signed bearer token for local use (HS256 with the configured secret)."""
    from shared.config import ServiceSettings
    from shared.http.auth import ROLES, issue_token

    unknown = [r for r in role if r not in ROLES]
    if unknown:
        _fail(f"unknown role(s) {unknown}; choose from {', '.join(ROLES)}")
    settings = ServiceSettings()
    if not settings.jwt_secret:
        _fail("no JWT secret configured (PELANGGAN_JWT_SECRET); tokens from a JWKS provider come from it")
    typer.echo(issue_token(secret=settings.jwt_secret, subject=sub, roles=role, ttl=timedelta(hours=hours)))


# ----- run --------------------------------------------------------------------------------------


@app.command("run")
def run(
    services: Annotated[str | None, typer.Option(help="comma-separated subset, default: every built service")] = None,
    kafka: Annotated[bool, typer.Option(help="start the local broker (else use PELANGGAN_KAFKA_BOOTSTRAP)")] = True,
) -> None:
    """Start the broker and every service on this machine (embedded SQLite databases under data/)."""
    specs = built_services()
    if services:
        wanted = {s.strip() for s in services.split(",")}
        specs = [s for s in specs if s.name in wanted]
        if missing := wanted - {s.name for s in specs}:
            _fail(f"not built or unknown: {', '.join(sorted(missing))}")
    broker = LocalKafka()
    if kafka:
        console.print("starting kafka on 127.0.0.1:9092 ...")
        try:
            broker.start()
        except InfraError as exc:
            _fail(str(exc))
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for spec in specs:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            spec.app_factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(spec.port),
            "--no-access-log",
        ]
        children.append((spec.name, subprocess.Popen(cmd, cwd=REPO_ROOT, env=env)))
    table = Table(title="Pelanggan is running")
    table.add_column("service")
    table.add_column("API docs")
    table.add_column("readiness")
    for spec in specs:
        table.add_row(spec.name, f"http://127.0.0.1:{spec.port}/docs", f"http://127.0.0.1:{spec.port}/readyz")
    console.print(table)
    if any(spec.name == "analytics" for spec in specs):
        console.print("dashboard: [bold]http://127.0.0.1:8005/dashboard[/bold] "
                      "(paste a token from: pelanggan token --role analyst)")
    console.print("token for the docs' Authorize button: [bold]pelanggan token --role admin[/bold]")
    console.print("Ctrl-C stops everything.")

    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    err.print(f"[red]{name} exited with code {child.returncode}[/red]")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for _, child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if kafka:
            broker.stop()
        console.print("stopped")


# ----- dead letters -----------------------------------------------------------------------------


def _bootstrap(given: str | None) -> str:
    return given or os.environ.get("PELANGGAN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="dead-letter topic, e.g. customers.events.dlq")],
    bootstrap: Annotated[str | None, typer.Option()] = None,
    limit: int = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the dead letters of a topic with their error and original coordinates."""
    from shared.bus.dead_letters import read_dead_letters

    letters = asyncio.run(read_dead_letters(_bootstrap(bootstrap), topic, limit=limit))
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"partition": x.partition, "offset": x.offset, "event": x.event, "headers": x.headers}
                    for x in letters
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(letters)} dead letter(s) in {topic}")
    for column in ("offset", "event id", "type", "group", "attempts", "error"):
        table.add_column(column)
    for x in letters:
        table.add_row(
            f"{x.partition}/{x.offset}",
            str(x.event.get("event_id", "-")),
            str(x.event.get("type", "-")),
            x.headers.get("x-consumer-group", "-"),
            x.headers.get("x-attempts", "-"),
            x.headers.get("x-error", "-")[:80],
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="dead-letter topic, e.g. customers.events.dlq")],
    event_id: Annotated[list[str] | None, typer.Option("--event-id", help="replay only these (repeatable)")] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="replay every dead letter in the topic")] = False,
    bootstrap: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Republish dead letters to their original topic (consumers that already applied one skip it)."""
    from shared.bus.dead_letters import read_dead_letters, replay_dead_letters

    if not event_id and not all_letters:
        _fail("name --event-id ID (repeatable) or --all")
    letters = asyncio.run(read_dead_letters(_bootstrap(bootstrap), topic, limit=100_000))
    if event_id:
        letters = [x for x in letters if x.event.get("event_id") in set(event_id)]
    sent = asyncio.run(replay_dead_letters(_bootstrap(bootstrap), letters))
    console.print(f"replayed {sent} dead letter(s) from {topic}")


# ----- contracts --------------------------------------------------------------------------------


@app.command("asyncapi")
def asyncapi(
    out: Annotated[Path, typer.Option(help="where to write the document")] = REPO_ROOT / "docs" / "asyncapi.json",
) -> None:
    """Write the AsyncAPI document generated from the event contracts."""
    from shared.events.asyncapi import build_asyncapi

    out.write_text(json.dumps(build_asyncapi(), indent=2, default=str) + "\n")
    console.print(f"wrote {out}")


# ----- analytics ------------------------------------------------------------------------------

analytics_app = typer.Typer(help="The analytics service's read models.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


@analytics_app.command("rebuild")
def analytics_rebuild() -> None:
    """Drop analytics' read models and replay every topic from the beginning (stop analytics first)."""
    from services.analytics.cli import run_rebuild

    raise typer.Exit(run_rebuild(console))


if __name__ == "__main__":
    app()
