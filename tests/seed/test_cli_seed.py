"""`pelanggan seed` as a command: a service that does not answer is exit code 2 and a message naming it."""

from __future__ import annotations

from typer.testing import CliRunner

from pelanggan.cli import app
from shared.testing.apps import free_port


def test_an_unreachable_service_is_exit_code_2_naming_it() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["seed", "--customers", "2", "--months", "1", "--customers-url", dead,
                                      "--orders-url", dead, "--feedback-url", dead, "--incentives-url", dead,
                                      "--analytics-url", dead])
    assert result.exit_code == 2, result.output
    assert "not reachable" in result.output and "customers at" in result.output and "pelanggan run" in result.output
