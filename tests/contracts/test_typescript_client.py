"""A front-end team's view of the HTTP contracts: a TypeScript client generated from every service's
OpenAPI document (openapi-typescript + openapi-fetch, TypeScript 5 pinned in tools/contracts) compiles,
and so does a small typed example that calls two services; a mistyped use does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pelanggan.services import built_services

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "contracts"
BIN = TOOLS / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project with clients freshly generated from docs/openapi/."""
    folder = tmp_path_factory.mktemp("ts-client")
    for name in ("example.ts", "tsconfig.json", "package.json"):
        shutil.copy(TOOLS / name, folder / name)
    (folder / "node_modules").symlink_to(TOOLS / "node_modules")
    (folder / "generated").mkdir()
    for spec in built_services():
        result = subprocess.run([str(BIN / "openapi-typescript"), str(ROOT / "docs" / "openapi" / f"{spec.name}.json"),
                                 "-o", str(folder / "generated" / f"{spec.name}.ts")],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    return folder


def _tsc(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tsc"), "-p", str(folder / "tsconfig.json")], capture_output=True, text=True,
                          cwd=folder, timeout=300, check=False)


def test_the_generated_clients_and_the_example_compile(workspace: Path) -> None:
    assert sorted(p.stem for p in (workspace / "generated").glob("*.ts")) == sorted(s.name for s in built_services())
    result = _tsc(workspace)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_mistyped_call_does_not_compile(workspace: Path) -> None:
    """Money is a decimal string and bodies are checked: the compile above means something."""
    broken = workspace / "broken"
    broken.mkdir()
    for name in ("tsconfig.json",):
        shutil.copy(workspace / name, broken / name)
    (broken / "node_modules").symlink_to(TOOLS / "node_modules")
    (broken / "generated").symlink_to(workspace / "generated")
    example = (workspace / "example.ts").read_text(encoding="utf-8")
    (broken / "example.ts").write_text(example.replace("const net: string = placed.data.net;",
                                                       "const net: number = placed.data.net;")
                                       .replace('channel: "store"', 'channel: "carrier pigeon"'), encoding="utf-8")
    result = _tsc(broken)
    assert result.returncode != 0
    assert "Type 'string' is not assignable to type 'number'" in result.stdout, result.stdout  # money is a string
    assert "carrier pigeon" in result.stdout, result.stdout
