"""A single-node Apache Kafka broker (KRaft, no ZooKeeper) run from Maven Central jars.

Kafka is not packaged by Debian and Docker is not available everywhere we run
tests, so the broker is assembled from its published jars (see
``infra/kafka/pom.xml``) and started directly on the JDK.

Layout under ``home`` (default ``<repo>/.local/kafka``, git-ignored)::

    libs/                 jars shared by every broker (may live elsewhere: ``libs_dir``)
    data-<port>/          per-broker state: server.properties, broker.pid, kraft/ (log.dirs)
    logs-<port>/          per-broker stdout/stderr: broker.log (+ broker.log.1 of the last run)

Ports are part of the folder names so brokers on different ports can coexist.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaClient

from shared.infra import REPO_ROOT, InfraError, run_sync

__all__ = ["DEFAULT_HOME", "KAFKA_VERSION", "LocalKafka"]

logger = logging.getLogger(__name__)

# Must match <kafka.version> in infra/kafka/pom.xml.
KAFKA_VERSION = "4.1.1"
DEFAULT_HOME: Path = REPO_ROOT / ".local" / "kafka"
POM_FILE: Path = REPO_ROOT / "infra" / "kafka" / "pom.xml"
LOG4J2_CONFIG: Path = REPO_ROOT / "infra" / "kafka" / "log4j2.yaml"

# Kafka 4.x brokers need Java 17 or newer.
MIN_JAVA_MAJOR = 17
# The jar whose presence means the libs folder is complete (it is copied in one
# rename, see ensure_jars).
_KAFKA_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_JAVA_HINT = "install OpenJDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
_MAVEN_HINT = "install Apache Maven 3.6+ (Debian: apt-get install maven)"


class LocalKafka:
    """Start, stop and inspect one local single-node Kafka broker.

    Every method is idempotent: ``start()`` on a running, answering broker
    returns at once, ``stop()`` on a stopped one does nothing. The broker runs
    in its own session, so it outlives the Python process that started it until
    ``stop()`` is called (from any process: the pid is kept in a file).
    """

    def __init__(
        self,
        home: Path | None = None,
        port: int = 9092,
        controller_port: int = 9093,
        heap: str = "512m",
        libs_dir: Path | None = None,
    ) -> None:
        if port == controller_port:
            raise ValueError("port and controller_port must differ")
        # Absolute paths: the broker runs with its data folder as working
        # directory and finds its config and jars through these paths.
        self.home = Path(home).resolve() if home is not None else DEFAULT_HOME
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        # Tests pass the repository's libs folder here so a throwaway home does
        # not download 43 MB of jars again.
        self.libs_dir = Path(libs_dir).resolve() if libs_dir is not None else self.home / "libs"
        self.data_dir = self.home / f"data-{port}"
        self.logs_dir = self.home / f"logs-{port}"
        self.config_file = self.data_dir / "server.properties"
        self.pid_file = self.data_dir / "broker.pid"
        self.log_file = self.logs_dir / "broker.log"
        self.kraft_dir = self.data_dir / "kraft"
        # Kept so stop() can reap the child when this process started it.
        self._proc: subprocess.Popen[bytes] | None = None
        self._java_path: str | None = None

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers string for Kafka clients, e.g. ``127.0.0.1:9092``."""
        return f"127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        home = self.home.as_posix()
        return f"LocalKafka(home={home!r}, port={self.port}, controller_port={self.controller_port})"

    # -- jars -----------------------------------------------------------------------------------------

    def ensure_jars(self) -> None:
        """Fetch the broker jars into ``libs_dir`` with Maven unless they are already there."""
        if (self.libs_dir / _KAFKA_JAR).is_file():
            return
        self._java()  # fail early, before a download, if the broker could not run anyway
        mvn = shutil.which("mvn")
        if mvn is None:
            raise InfraError(f"Maven (mvn) is needed to fetch the Kafka {KAFKA_VERSION} jars: {_MAVEN_HINT}")
        if not POM_FILE.is_file():
            raise InfraError(f"{POM_FILE} is missing: LocalKafka needs a checkout of the repository")

        # Copy into a private folder and rename it into place, so an interrupted
        # download never leaves a libs folder that looks complete, and two
        # processes fetching at once do not mix their files.
        self.libs_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = self.libs_dir.parent / f".{self.libs_dir.name}-{uuid.uuid4().hex[:8]}"
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM_FILE),
            "dependency:copy-dependencies",
            f"-Dkafka.libs.dir={staging}",
        ]
        logger.info("fetching Kafka %s jars into %s", KAFKA_VERSION, self.libs_dir)
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
            )
            if result.returncode != 0 or not (staging / _KAFKA_JAR).is_file():
                output = (result.stdout + result.stderr).strip()[-4000:]
                raise InfraError(
                    f"Maven could not fetch the Kafka jars (exit {result.returncode}); "
                    f"command: {' '.join(cmd)}\n{output}"
                )
            if self.libs_dir.exists() and not (self.libs_dir / _KAFKA_JAR).is_file():
                shutil.rmtree(self.libs_dir)  # an incomplete folder from an older, manual fetch
            try:
                staging.rename(self.libs_dir)
            except OSError:
                # Another process renamed its complete copy in first.
                if not (self.libs_dir / _KAFKA_JAR).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("Kafka jars ready in %s", self.libs_dir)

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> None:
        """Start the broker (formatting its storage on first use) and wait until it answers.

        Raises InfraError if it does not answer a metadata request within
        ``timeout`` seconds, with the end of the broker log in the message.
        """
        deadline = time.monotonic() + timeout
        pid = self.pid()
        if pid is not None:
            # Already started (maybe by another process, maybe still booting).
            self._wait_until_answering(deadline, pid)
            return
        if _port_open(self.port) or _port_open(self.controller_port):
            raise InfraError(
                f"port {self.port} or {self.controller_port} on 127.0.0.1 is already in use by a process "
                f"that is not the broker of {self.data_dir}; stop it or choose other ports"
            )

        self.ensure_jars()
        java = self._java()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        # Rewritten at every start so changes to the settings below apply to
        # existing data folders too.
        self.config_file.write_text(self._server_properties(), encoding="utf-8")
        if not (self.kraft_dir / "meta.properties").is_file():
            self._format_storage(java)

        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))
        cmd = [java, *self._jvm_options(), "-cp", self._classpath(), _MAIN_CLASS, str(self.config_file)]
        logger.info("starting Kafka broker on %s (log: %s)", self.bootstrap, self.log_file)
        started = time.monotonic()
        with open(self.log_file, "wb") as log:
            # Own session: the broker survives this process and its terminal's
            # signals (Ctrl-C in a test run must not kill a shared broker).
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n", encoding="ascii")
        try:
            self._wait_until_answering(deadline, self._proc.pid)
        except InfraError:
            self.stop(timeout=10)
            raise
        logger.info("Kafka broker answering on %s after %.1f s", self.bootstrap, time.monotonic() - started)

    def stop(self, timeout: float = 30) -> None:
        """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` seconds."""
        pid = self.pid()
        if pid is None and self._proc is not None and self._proc.poll() is None:
            pid = self._proc.pid  # our child whose pid file is already gone (a failed start)
        if pid is not None:
            logger.info("stopping Kafka broker %s (pid %d)", self.bootstrap, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_for_exit(pid, timeout):
                logger.warning("Kafka broker pid %d ignored SIGTERM for %.0f s, killing it", pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_for_exit(pid, 10)
        self._proc = None
        self.pid_file.unlink(missing_ok=True)

    def reset(self) -> None:
        """Stop the broker and delete its data folder (topics, offsets, cluster id)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- inspection -----------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The broker's pid if it is running, else None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        if self._is_broker_process(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        """Whether the broker process is alive (it may still be booting)."""
        return self.pid() is not None

    def is_answering(self, timeout: float = 5.0) -> bool:
        """Whether the broker answers a metadata request on ``bootstrap`` within ``timeout`` seconds."""
        # A plain TCP probe first: aiokafka logs an ERROR for every refused
        # connection, which would flood the log while the broker boots.
        if not _port_open(self.port):
            return False
        try:
            return run_sync(lambda: _metadata_has_brokers(self.bootstrap, timeout))
        except Exception as exc:  # any client failure simply means "not answering yet"
            logger.debug("Kafka metadata check on %s failed: %r", self.bootstrap, exc)
            return False

    def status(self) -> dict[str, Any]:
        """``{"running", "pid", "bootstrap", "answering"}`` for logs, CLIs and health checks."""
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "bootstrap": self.bootstrap,
            "answering": pid is not None and self.is_answering(),
        }

    # -- internals ------------------------------------------------------------------------------------

    def _server_properties(self) -> str:
        settings: dict[str, object] = {
            # One JVM is both the KRaft controller and the broker.
            "process.roles": "broker,controller",
            "node.id": 1,
            # A static quorum of one voter: simpler than the dynamic quorum
            # (controller.quorum.bootstrap.servers + format --standalone) and
            # indifferent to the controller port changing between runs.
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.kraft_dir.as_posix(),
            "num.partitions": 3,
            # A single broker can only hold one replica of the internal topics.
            "default.replication.factor": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            # The default 128 MB dedupe buffer is allocated up front; the broker
            # requires more than 1 MB per cleaner thread, hence 2 MB for one thread.
            "log.cleaner.threads": 1,
            "log.cleaner.dedupe.buffer.size": 2 * 1024 * 1024,
            # Consumers in tests join at once instead of waiting 3 s for peers.
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            # Fewer threads than the defaults: enough for development and tests
            # on a 2-core machine.
            "num.network.threads": 2,
            "num.io.threads": 4,
            "num.recovery.threads.per.data.dir": 1,
            "background.threads": 4,
        }
        lines = ["# Written by shared.infra.kafka.LocalKafka at every start; edits are lost."]
        lines += [f"{key}={value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _jvm_options(self) -> list[str]:
        options = [
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            # G1 with short pauses is what Kafka's own start scripts use.
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            # An out-of-memory broker should die loudly, not limp on.
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
        ]
        if LOG4J2_CONFIG.is_file():
            options.append(f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}")
        return options

    def _classpath(self) -> str:
        # The JVM expands "dir/*" to every jar in dir itself (no shell involved).
        return str(self.libs_dir / "*")

    def _format_storage(self, java: str) -> None:
        cluster_id = _random_cluster_id()
        cmd = [
            java,
            "-Xmx256m",
            *(o for o in self._jvm_options() if o.startswith("-D")),
            "-cp",
            self._classpath(),
            _STORAGE_TOOL,
            "format",
            "--ignore-formatted",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.config_file),
        ]
        logger.info("formatting Kafka storage %s (cluster id %s)", self.kraft_dir, cluster_id)
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise InfraError(f"formatting Kafka storage in {self.kraft_dir} failed:\n{output}")

    def _wait_until_answering(self, deadline: float, pid: int) -> None:
        while True:
            if not self._is_broker_process(pid):
                raise InfraError(
                    f"the Kafka broker (pid {pid}) exited during start-up; "
                    f"last lines of {self.log_file}:\n{self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if self.is_answering(timeout=max(1.0, min(5.0, remaining))):
                return
            if time.monotonic() >= deadline:
                raise InfraError(
                    f"the Kafka broker on {self.bootstrap} did not answer in time; "
                    f"last lines of {self.log_file}:\n{self._log_tail()}"
                )
            time.sleep(0.25)

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.pid == pid:
                # Our own child: reap it, or it would linger as a zombie.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.2)
            if not self._is_broker_process(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _is_broker_process(self, pid: int) -> bool:
        """Whether ``pid`` is alive and is this broker (pids get reused after a reboot or crash)."""
        if self._proc is not None and self._proc.pid == pid:
            # Our own child. Ask it directly: right after the fork its command
            # line is still Python's until the exec of java.
            return self._proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, owned by another user; the command line decides below
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return False
        except OSError:
            return True  # no /proc (not Linux): trust the signal check
        # A zombie has an empty command line, so it counts as stopped.
        return _MAIN_CLASS.encode() in cmdline and str(self.config_file).encode() in cmdline

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    def _java(self) -> str:
        """Path of a Java 17+ executable (``$JAVA_HOME/bin/java`` first, then ``PATH``)."""
        if self._java_path is not None:
            return self._java_path
        java_home = os.environ.get("JAVA_HOME")
        candidate = Path(java_home) / "bin" / "java" if java_home else None
        java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
        if java is None:
            raise InfraError(f"Java is needed to run the Kafka broker: {_JAVA_HINT}")
        result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
        if match:
            major = int(match.group(1))
            if major == 1 and match.group(2):  # "1.8.0_402" is Java 8
                major = int(match.group(2))
            if major < MIN_JAVA_MAJOR:
                raise InfraError(
                    f"Kafka {KAFKA_VERSION} needs Java {MIN_JAVA_MAJOR}+ but {java} is Java {major}: "
                    f"{_JAVA_HINT}"
                )
        self._java_path = java
        return java


def _random_cluster_id() -> str:
    """A Kafka cluster id: a random UUID as URL-safe base64 without padding (as ``StorageTool random-uuid``).

    Generated here to save a JVM start (about a second). Kafka never hands out
    ids starting with "-", which would read as a command-line option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


async def _metadata_has_brokers(bootstrap: str, limit_s: float) -> bool:
    """Bootstrap an aiokafka client and fetch cluster metadata; True once a broker is listed."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(limit_s * 1000))
    try:
        async with asyncio.timeout(limit_s):
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
        return bool(metadata.brokers())
    finally:
        await client.close()
