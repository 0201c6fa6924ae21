"""`pelanggan`: run the system locally and operate it (broker, tokens, dead letters, contracts)."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pelanggan import local_system as system
from shared.infra import REPO_ROOT, InfraError
from shared.infra.kafka import LocalKafka
from shared.infra.postgres import LocalPostgres

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
    port: Annotated[list[str] | None, typer.Option(
        "--port", help="move a service: NAME=PORT (repeatable), e.g. --port feedback=8013")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where the SQLite files live (default: data/)")] = None,
    kafka: Annotated[bool, typer.Option(help="start the local broker (else use PELANGGAN_KAFKA_BOOTSTRAP)")] = True,
    kafka_port: Annotated[int, typer.Option(help="the local broker's port (its controller uses the next)")] = 9092,
    gateway: Annotated[bool, typer.Option(help="start the nginx gateway when nginx is installed")] = True,
    gateway_port: Annotated[int, typer.Option(help="the gateway's port")] = 8080,
    workers: Annotated[int, typer.Option(help="worker processes per service (PostgreSQL only)")] = 1,
    postgres: Annotated[bool, typer.Option(help="run on a local PostgreSQL (pelanggan postgres) instead of SQLite")]
    = False,
    postgres_port: Annotated[int, typer.Option(help="the local PostgreSQL's port")] = 55432,
    seed_demo: Annotated[bool, typer.Option("--seed/--no-seed", help="load the demo company on first start")]
    = True,
    seed_customers: Annotated[int, typer.Option(help="customers of the demo company loaded on first start")] = 2000,
    seed_months: Annotated[int, typer.Option(help="months of history of the demo company")] = 24,
) -> None:
    """Start the broker and every service on this machine (embedded SQLite databases under data/)."""
    from shared.config import ServiceSettings
    from shared.http.auth import issue_token

    ports: dict[str, int] = {}
    for item in port or []:
        name, _, value = item.partition("=")
        if not value.isdigit():
            _fail(f"--port takes NAME=PORT, e.g. --port feedback=8013 (got {item!r})")
        ports[name.strip()] = int(value)
    try:
        plan = system.plan(only=[s.strip() for s in services.split(",")] if services else None, ports=ports,
                           data_dir=data_dir, kafka_port=kafka_port, gateway_port=gateway_port if gateway else None,
                           workers=workers, postgres_port=postgres_port if postgres else None, seed=seed_demo,
                           start_kafka=kafka)
    except system.StartError as exc:
        _fail(str(exc))
    broker = LocalKafka(port=plan.kafka_port, controller_port=plan.kafka_port + 1)
    try:
        system.check_ports(plan, kafka_running=broker.is_running())
    except system.StartError as exc:
        _fail(str(exc))

    children: dict[str, subprocess.Popen[bytes]] = {}
    local_pg: LocalPostgres | None = None
    gateway_proc: system.Gateway | None = None
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        if kafka:
            console.print(f"starting kafka on 127.0.0.1:{plan.kafka_port} ...")
            broker.start()
        database_urls: dict[str, str] = {}
        if plan.postgres_port is not None:
            local_pg = LocalPostgres(port=plan.postgres_port)
            console.print(f"starting postgresql on 127.0.0.1:{plan.postgres_port} ...")
            local_pg.start()
            for service in plan.services:
                local_pg.create_database(service.name)
                database_urls[service.name] = local_pg.url(service.name)
        for service in plan.services:
            # A session of its own: Ctrl-C reaches only this process, which stops each service once
            # (a second SIGINT would make uvicorn abort instead of shutting down cleanly).
            children[service.name] = subprocess.Popen(system.server_command(service, plan.workers), cwd=REPO_ROOT,
                                                      env=system.service_env(plan, service, database_urls),
                                                      start_new_session=True)
        console.print(f"waiting for {len(plan.services)} service(s) to answer /readyz ...")
        system.wait_ready(plan.services, children,
                          on_ready=lambda s: console.print(f"  [green]ready[/green] {s.name} on {s.url}"))
        if plan.seed:
            console.print(system.seed_on_first_start(plan, customers=seed_customers, months=seed_months,
                                                     console=console))
        if plan.gateway_port is not None and system.nginx_available():
            gateway_proc = system.Gateway(plan.gateway_port, {s.name: f"127.0.0.1:{s.port}" for s in plan.services})
            gateway_proc.start()
        settings = ServiceSettings()
        token = issue_token(secret=settings.jwt_secret or "", subject="local-admin", roles=["admin"],
                            ttl=timedelta(hours=12)) if settings.jwt_secret else None
        _print_running(plan, gateway_proc, token)
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    err.print(f"[red]{name} exited with code {child.returncode}[/red]")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except InfraError as exc:
        err.print(f"[red]error:[/red] {exc}")
        stopping = True
        raise typer.Exit(1) from exc
    finally:
        console.print("stopping ...")
        if gateway_proc is not None:
            gateway_proc.stop()
        system.stop_children(children)
        if kafka:
            broker.stop()
        if local_pg is not None:
            local_pg.stop()
        console.print("stopped")


def _print_running(plan: system.Plan, gateway: system.Gateway | None, token: str | None) -> None:
    console.print("[bold]Pelanggan is running[/bold]")
    for service in plan.services:
        through = f"   via the gateway: {gateway.url}/{service.name}/docs" if gateway is not None else ""
        console.print(f"  {service.name:<11} API docs: {service.url}/docs{through}", soft_wrap=True)
    analytics = plan.service("analytics")
    if analytics is not None:
        dashboard = f"{gateway.url}/dashboard" if gateway is not None else f"{analytics.url}/dashboard"
        console.print(f"  dashboard:  {dashboard}", soft_wrap=True)
    if gateway is not None:
        console.print(f"  gateway:    {gateway.url} (every API under /<service>/)", soft_wrap=True)
    elif plan.gateway_port is not None:
        console.print("  gateway:    not started (install nginx to get every API under one origin)")
    console.print(f"  data:       {plan.data_dir}", soft_wrap=True)
    if token:
        console.print("admin token (12 h) for the docs' Authorize button and the dashboard:")
        typer.echo(token)
    console.print("Ctrl-C stops everything.")


# ----- seed -------------------------------------------------------------------------------------


@app.command("seed")
def seed(
    seed_value: Annotated[int, typer.Option("--seed", help="the same seed builds the same company")] = 42,
    customers: Annotated[int, typer.Option(min=1, help="how many customers")] = 2000,
    months: Annotated[int, typer.Option(min=1, max=120, help="months of order history, up to last month")] = 24,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="requests in flight")] = 12,
    customers_url: Annotated[str | None, typer.Option(help="default: the local port of `pelanggan run`")] = None,
    orders_url: Annotated[str | None, typer.Option()] = None,
    feedback_url: Annotated[str | None, typer.Option()] = None,
    incentives_url: Annotated[str | None, typer.Option()] = None,
    analytics_url: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Load the example company (staff, catalogue, customers, two years of history) through the HTTP APIs.

    Exit codes: 0 loaded (or already there: nothing is sent twice), 1 a service refused a request,
    2 a service is not reachable.
    """
    from pelanggan.seed.client import DEFAULT_URLS, SeedError, Unreachable
    from pelanggan.seed.loader import AlreadySeeded
    from pelanggan.seed.runner import run_seed, service_token, summary_table

    given = {"customers": customers_url, "orders": orders_url, "feedback": feedback_url,
             "incentives": incentives_url, "analytics": analytics_url}
    urls = {name: (given[name] or DEFAULT_URLS[name]).rstrip("/") for name in DEFAULT_URLS}
    try:
        outcome = run_seed(urls=urls, token=service_token(), seed=seed_value, customers=customers, months=months,
                           concurrency=concurrency, console=console)
    except AlreadySeeded as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        return
    except Unreachable as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except SeedError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(summary_table(outcome))


# ----- dead letters -----------------------------------------------------------------------------


def _bootstrap(given: str | None) -> str:
    return given or os.environ.get("PELANGGAN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def _default_actor() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container, say)
        return "unknown"


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="dead-letter topic, e.g. customers.events.dlq")],
    bootstrap: Annotated[str | None, typer.Option()] = None,
    limit: int = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the dead letters of a topic with their error, original coordinates and replays."""
    from shared.bus.dead_letters import read_dead_letters, read_replays

    async def read() -> tuple[list, dict]:  # type: ignore[type-arg]
        return (await read_dead_letters(_bootstrap(bootstrap), topic, limit=limit),
                await read_replays(_bootstrap(bootstrap), topic))

    letters, replays = asyncio.run(read())
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"partition": x.partition, "offset": x.offset, "event": x.event, "headers": x.headers,
                     "replays": [{"at": r.replayed_at, "by": r.replayed_by, "to": r.republished_to}
                                 for r in replays.get(x.coordinates, [])]}
                    for x in letters
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(letters)} dead letter(s) in {topic}")
    for column in ("offset", "event id", "type", "group", "attempts", "error", "replayed"):
        table.add_column(column)
    for x in letters:
        done = replays.get(x.coordinates, [])
        table.add_row(
            f"{x.partition}/{x.offset}",
            str(x.event.get("event_id", "-")),
            str(x.event.get("type", "-")),
            x.headers.get("x-consumer-group", "-"),
            x.headers.get("x-attempts", "-"),
            x.headers.get("x-error", "-")[:80],
            f"{done[-1].replayed_at} by {done[-1].replayed_by}" + (f" ({len(done)}x)" if len(done) > 1 else "")
            if done else "-",
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="dead-letter topic, e.g. customers.events.dlq")],
    event_id: Annotated[list[str] | None, typer.Option("--event-id", help="replay only these (repeatable)")] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="replay every letter not replayed yet")] = False,
    again: Annotated[bool, typer.Option("--again", help="with --all: also letters replayed before")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who replays, for the record (default: $USER)")] = None,
    bootstrap: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Republish dead letters to their original topic and partition, and record who did it when."""
    from shared.bus.dead_letters import read_dead_letters, read_replays, replay_dead_letters

    if not event_id and not all_letters:
        _fail("name --event-id ID (repeatable) or --all")
    address = _bootstrap(bootstrap)

    async def replay() -> list:  # type: ignore[type-arg]
        letters = await read_dead_letters(address, topic, limit=100_000)
        if event_id:
            letters = [x for x in letters if x.event.get("event_id") in set(event_id)]
        elif not again:
            replayed = await read_replays(address, topic)
            letters = [x for x in letters if x.coordinates not in replayed]
        return await replay_dead_letters(address, letters, actor=actor or _default_actor())

    replays = asyncio.run(replay())
    for r in replays:
        console.print(f"{r.letter} -> {r.republished_to}")
    console.print(f"replayed {len(replays)} dead letter(s) from {topic}")


# ----- contracts and docs -----------------------------------------------------------------------


@app.command("openapi")
def openapi(
    out: Annotated[Path, typer.Option(help="folder for one document per service")] = REPO_ROOT / "docs" / "openapi",
) -> None:
    """Write each built service's OpenAPI document (what front-end teams generate clients from)."""
    from pelanggan.contracts import write_openapi_documents

    for path in write_openapi_documents(out):
        console.print(f"wrote {path}")


@app.command("settings-doc")
def settings_doc(
    write: Annotated[bool, typer.Option("--write", help="rewrite README's configuration table")] = False,
) -> None:
    """Print (or write into README.md) the configuration table generated from the settings classes."""
    from pelanggan import settings_doc as doc

    if write:
        changed = doc.write_readme()
        console.print("README.md updated" if changed else "README.md already current")
    else:
        typer.echo(doc.render())


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
