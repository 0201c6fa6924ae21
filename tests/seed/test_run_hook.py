"""`pelanggan run`'s first-start hook: seeds only a whole system, and can be switched off."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from pelanggan import local_system as system
from pelanggan.cli import app


def test_a_partial_system_is_not_seeded_and_says_why() -> None:
    plan = system.plan(only=["customers", "orders"], ports={}, data_dir=None, kafka_port=9092, gateway_port=None,
                       workers=1, postgres_port=None, seed=True, start_kafka=False)
    said = system.seed_on_first_start(plan, customers=5, months=1, console=Console(file=io.StringIO()))
    assert "needs every service" in said and "feedback" in said and "incentives" in said


def test_run_offers_no_seed_and_the_sizes() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--no-seed" in result.output and "--seed-customers" in result.output and "--seed-months" in result.output
