"""Local infrastructure for development and tests: a Kafka broker and a PostgreSQL server.

Both run as plain child processes from packages on the machine (a JDK plus Maven
Central jars for Kafka, the distribution's PostgreSQL server binaries), so
neither Docker nor a network beyond the package registries is needed.

    from shared.infra.kafka import LocalKafka
    from shared.infra.postgres import LocalPostgres
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["REPO_ROOT", "InfraError", "run_sync"]

#: Repository root (this file is <repo>/shared/infra/__init__.py). Local
#: state lives under <repo>/.local, which git ignores.
REPO_ROOT: Path = Path(__file__).resolve().parents[2]

T = TypeVar("T")


class InfraError(RuntimeError):
    """A local service could not be installed, started, stopped or reached.

    The message says what went wrong and, where it helps, what to install or
    which log to read.
    """


def run_sync(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code and return its result.

    The helpers have a synchronous API so scripts, CLIs and plain test fixtures
    can use them; when they are called from inside a running event loop (an
    async test, a FastAPI startup hook), ``asyncio.run`` is not allowed in this
    thread, so the coroutine gets a fresh loop in a worker thread instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()
