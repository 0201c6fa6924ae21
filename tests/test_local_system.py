"""`pelanggan run`'s plan: ports checked up front with a message naming what moves them; SQLite single-process."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pelanggan import local_system as system
from shared.testing.apps import free_port


@pytest.fixture
def occupied() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _plan(**overrides: object) -> system.Plan:
    values: dict[str, object] = {"only": None, "ports": {}, "data_dir": None, "kafka_port": free_port(),
                                 "gateway_port": None, "workers": 1, "postgres_port": None, "seed": False,
                                 "start_kafka": False}
    values.update(overrides)
    return system.plan(**values)  # type: ignore[arg-type]


def test_a_port_in_use_names_the_service_the_option_and_the_setting(occupied: int) -> None:
    plan = _plan(ports={"orders": occupied})
    with pytest.raises(system.StartError) as refused:
        system.check_ports(plan, kafka_running=False)
    message = str(refused.value)
    assert f"port {occupied} (orders) is in use" in message
    assert "--port orders=<port>" in message and "ORDERS_PORT" in message


def test_the_broker_port_in_use_names_its_option(occupied: int) -> None:
    plan = _plan(kafka_port=occupied, start_kafka=True, ports={s.name: free_port() for s in _plan().services})
    with pytest.raises(system.StartError, match="--kafka-port"):
        system.check_ports(plan, kafka_running=False)


def test_free_ports_pass() -> None:
    plan = _plan(ports={s.name: free_port() for s in _plan().services})
    system.check_ports(plan, kafka_running=False)


def test_several_workers_need_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in _plan().services:
        monkeypatch.delenv(f"{spec.spec.env_prefix}DATABASE_URL", raising=False)
    with pytest.raises(system.StartError, match="SQLite stays single-process"):
        _plan(workers=2)
    assert _plan(workers=2, postgres_port=free_port()).workers == 2


def test_unknown_services_are_refused() -> None:
    with pytest.raises(system.StartError, match="not built or unknown"):
        _plan(only=["billing"])
    with pytest.raises(system.StartError, match="--port names a service"):
        _plan(only=["customers"], ports={"orders": 9999})


def test_each_service_is_told_where_the_others_are() -> None:
    plan = _plan(ports={"customers": 18001, "orders": 18002})
    orders = plan.service("orders")
    assert orders is not None
    env = system.service_env(plan, orders, {})
    assert env["ORDERS_CUSTOMERS_URL"] == "http://127.0.0.1:18001"
    assert env["ORDERS_PORT"] == "18002"
