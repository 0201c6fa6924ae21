"""A throwaway PostgreSQL server for development and tests, run from the machine's server binaries.

The data folder (default ``<repo>/.local/postgres/data-<port>``, git-ignored) is
created with ``initdb`` on first use. The server trades durability for speed
(fsync, synchronous_commit and full_page_writes are off): a crash may lose or
corrupt data, which is fine for data that tests recreate anyway.

Running as root: PostgreSQL refuses to run as root, so every server command then
runs as the ``postgres`` system user (created by Debian's postgresql package).
That user must be able to reach the data folder, so the folder is chowned to it
and every parent folder that it could not traverse gets the "others may
traverse" bit (o+x; not read, so listings stay private). That is what lets a
data folder under the repository or under pytest's 0700 tmp folders work
without moving it to /tmp.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg

from shared.infra import REPO_ROOT, InfraError, run_sync

__all__ = ["DEFAULT_ROOT", "LocalPostgres"]

logger = logging.getLogger(__name__)

DEFAULT_ROOT: Path = REPO_ROOT / ".local" / "postgres"
SERVER_USER = "postgres"
_INSTALL_HINT = "install the PostgreSQL server (Debian: apt-get install postgresql)"
# Unix socket paths are limited to 107 bytes (sun_path); deep tmp folders exceed it.
_MAX_SOCKET_PATH = 100
_SETTINGS_FILE = "pelanggan.conf"


class LocalPostgres:
    """Start, stop and inspect one local PostgreSQL server, and manage its databases.

    Every method is idempotent. The server keeps running after this process
    exits (``pg_ctl`` detaches it) until ``stop()`` is called.
    """

    def __init__(self, datadir: Path | None = None, port: int = 55432) -> None:
        self.port = port
        self.datadir = Path(datadir).resolve() if datadir is not None else DEFAULT_ROOT / f"data-{port}"
        # Inside the data folder, which the server user owns, so it can always write it.
        self.log_file = self.datadir / "server.log"
        self._bindir: Path | None = None

    def __repr__(self) -> str:
        return f"LocalPostgres(datadir={self.datadir.as_posix()!r}, port={self.port})"

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Create the cluster on first use, then start the server and wait until it accepts connections."""
        if not (self.datadir / "PG_VERSION").is_file():
            self._initdb()
        self._write_settings()
        if self.is_running():
            return
        logger.info("starting PostgreSQL on 127.0.0.1:%d (data: %s)", self.port, self.datadir)
        started = time.monotonic()
        result = self._run(
            [
                self._bin("pg_ctl"),
                "start",
                "-D",
                str(self.datadir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(max(1, int(timeout))),
            ],
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(
                f"PostgreSQL did not start on port {self.port} (pg_ctl exit {result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}\n"
                f"last lines of {self.log_file}:\n{self._log_tail()}"
            )
        logger.info("PostgreSQL ready on 127.0.0.1:%d after %.1f s", self.port, time.monotonic() - started)

    def stop(self, timeout: float = 60) -> None:
        """Stop the server with a fast shutdown (open sessions are disconnected)."""
        if not self.is_running():
            return
        logger.info("stopping PostgreSQL on 127.0.0.1:%d", self.port)
        wait_s = str(max(1, int(timeout)))
        self._run([self._bin("pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", wait_s])

    def reset(self) -> None:
        """Stop the server and delete its data folder."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    # -- inspection -----------------------------------------------------------------------------------

    def is_running(self) -> bool:
        """Whether a server is running on this data folder (``pg_ctl status``)."""
        if not (self.datadir / "PG_VERSION").is_file():
            return False
        # Exit 0: running, 3: not running, 4: no accessible data folder.
        result = self._run([self._bin("pg_ctl"), "status", "-D", str(self.datadir)], check=False)
        return result.returncode == 0

    def pid(self) -> int | None:
        """The postmaster's pid if the server is running, else None."""
        if not self.is_running():
            return None
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
        return None

    def status(self) -> dict[str, Any]:
        """``{"running", "pid", "port", "datadir", "url"}`` for logs, CLIs and health checks."""
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "port": self.port,
            "datadir": str(self.datadir),
            "url": self.url(),
        }

    def url(self, dbname: str = "postgres", driver: str | None = "asyncpg") -> str:
        """SQLAlchemy URL of a database, e.g. ``postgresql+asyncpg://postgres@127.0.0.1:55432/crm``.

        ``driver=None`` gives a plain libpq/asyncpg URL (``postgresql://...``).
        """
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    # -- databases ------------------------------------------------------------------------------------

    def create_database(self, name: str) -> bool:
        """Create database ``name`` unless it exists; return whether it was created."""
        return run_sync(lambda: self._create_database(name))

    def drop_database(self, name: str) -> bool:
        """Drop database ``name`` (disconnecting its sessions) if it exists; return whether it existed."""
        return run_sync(lambda: self._drop_database(name))

    async def _create_database(self, name: str) -> bool:
        conn = await self._connect()
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return False
            try:
                await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
            except asyncpg.DuplicateDatabaseError:
                return False  # created concurrently by another test process
            logger.info("created database %s on 127.0.0.1:%d", name, self.port)
            return True
        finally:
            await conn.close()

    async def _drop_database(self, name: str) -> bool:
        conn = await self._connect()
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return False
            # FORCE (PostgreSQL 13+) ends other sessions, e.g. a pool a test left open.
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
            logger.info("dropped database %s on 127.0.0.1:%d", name, self.port)
            return True
        finally:
            await conn.close()

    async def _connect(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(
                host="127.0.0.1", port=self.port, user=SERVER_USER, database="postgres", timeout=10
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise InfraError(f"cannot connect to PostgreSQL on 127.0.0.1:{self.port}: {exc}") from exc

    # -- internals ------------------------------------------------------------------------------------

    def _initdb(self) -> None:
        initdb = self._bin("initdb")  # before creating folders, in case PostgreSQL is missing
        self._prepare_datadir()
        logger.info("creating PostgreSQL cluster in %s", self.datadir)
        self._run(
            [
                initdb,
                "-D",
                str(self.datadir),
                "--username",
                SERVER_USER,
                "--auth",
                "trust",  # local, 127.0.0.1-only server for development and tests
                "--encoding",
                "UTF8",
                # The C locale exists everywhere and makes sorting independent of the machine.
                "--no-locale",
                "--no-sync",
            ]
        )

    def _prepare_datadir(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.datadir.chmod(0o700)  # initdb and the server insist on a private folder
        if os.geteuid() != 0:
            return
        user = self._server_user()
        os.chown(self.datadir, user.pw_uid, user.pw_gid)
        for parent in self.datadir.parents:
            mode = parent.stat().st_mode
            if not _can_traverse(parent, user):
                logger.info("adding o+x to %s so the %s user can reach its data folder", parent, SERVER_USER)
                parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)

    def _write_settings(self) -> None:
        """(Re)write the server settings, so a changed port or setting applies to an existing cluster."""
        socket_dir = str(self.datadir)
        if len(socket_dir) + len(f"/.s.PGSQL.{self.port}") > _MAX_SOCKET_PATH or "," in socket_dir:
            socket_dir = ""  # TCP only; every client here connects to 127.0.0.1 anyway
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            # Inside the data folder: /var/run/postgresql may not exist or be writable.
            "unix_socket_directories": socket_dir,
            # Test speed over durability (see the module docstring).
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        lines = ["# Written by shared.infra.postgres.LocalPostgres at every start; edits are lost."]
        lines += [f"{key} = {_quote_setting(value)}" for key, value in settings.items()]
        settings_file = self.datadir / _SETTINGS_FILE
        settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        main_conf = self.datadir / "postgresql.conf"
        include = f"include_if_exists = '{_SETTINGS_FILE}'"
        if include not in main_conf.read_text(encoding="utf-8"):
            with open(main_conf, "a", encoding="utf-8") as conf:
                conf.write(f"\n{include}\n")
        if os.geteuid() == 0:
            user = self._server_user()
            os.chown(settings_file, user.pw_uid, user.pw_gid)

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as the ``postgres`` user when we are root."""
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = self._server_user()
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            env = {**os.environ, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}
        else:
            env = dict(os.environ)
        # Our explicit arguments must win over a developer's PG* environment.
        for var in ("PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE"):
            env.pop(var, None)
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd="/",  # the server user may not be able to enter our working folder
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise InfraError(
                f"{Path(cmd[0]).name} failed (exit {result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )
        return result

    def _bin(self, name: str) -> str:
        return str(self._find_bindir() / name)

    def _find_bindir(self) -> Path:
        """Folder of initdb/pg_ctl: ``pg_config --bindir``, else the newest /usr/lib/postgresql/*/bin."""
        if self._bindir is not None:
            return self._bindir
        candidates: list[Path] = []
        pg_config = shutil.which("pg_config")
        if pg_config:
            result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(Path(result.stdout.strip()))
        # On Debian pg_config may come from libpq-dev and point at /usr/bin, which
        # has no initdb; the server binaries live in a versioned folder.
        versioned = glob.glob("/usr/lib/postgresql/*/bin")
        candidates += [Path(p) for p in sorted(versioned, key=_version_key, reverse=True)]
        for candidate in candidates:
            if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
                self._bindir = candidate
                return candidate
        raise InfraError(f"no PostgreSQL server binaries (initdb, pg_ctl) found: {_INSTALL_HINT}")

    def _server_user(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise InfraError(
                f"running as root needs the '{SERVER_USER}' system user to run PostgreSQL: {_INSTALL_HINT}"
            ) from None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _can_traverse(folder: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may enter ``folder`` (owner, group or other execute bit)."""
    st = folder.stat()
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin (numeric, so 9.6 < 10 < 15)."""
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name))


def _quote_ident(name: str) -> str:
    """Quote an SQL identifier (database names are not parameters in CREATE/DROP DATABASE)."""
    if not name or "\x00" in name:
        raise ValueError(f"invalid database name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _quote_setting(value: str) -> str:
    """Quote a postgresql.conf value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
