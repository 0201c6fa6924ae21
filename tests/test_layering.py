"""The architecture's import rules, checked on the source: the shared package depends on nothing above it,
and no service imports another service (each owns its data; what it needs arrives as events or over HTTP)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").is_file())


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_shared_package_imports_neither_the_cli_nor_any_service() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(ROOT / "shared")
        for name in imported_modules(path)
        if name.split(".")[0] in {"pelanggan", "services", "bench", "tests"}
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    """Its tests may start another service for real (cross-service stories); its code may not import one."""
    others = {f"services.{name}" for name in SERVICES if name != service}
    folder = ROOT / "services" / service
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(folder) if "tests" not in path.relative_to(folder).parts
        for name in imported_modules(path)
        if any(name == other or name.startswith(other + ".") for other in others)
    ]
    assert not offenders, "\n".join(offenders)
