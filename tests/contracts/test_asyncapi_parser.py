"""The AsyncAPI document as an outside tool reads it: the reference parser (@asyncapi/parser) accepts it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shared.events.registry import registered_contracts

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "contracts"


def test_the_reference_asyncapi_parser_accepts_the_document() -> None:
    result = subprocess.run(["node", str(TOOLS / "validate-asyncapi.mjs"), str(ROOT / "docs" / "asyncapi.json")],
                            capture_output=True, text=True, cwd=TOOLS, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["messages"] == len(registered_contracts())


def test_the_parser_check_can_fail(tmp_path: Path) -> None:
    """A document with a dangling reference is refused, so the check above means something."""
    document = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    first = next(iter(document["components"]["messages"].values()))
    first["payload"]["allOf"][0] = {"$ref": "#/components/schemas/NoSuchSchema"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    result = subprocess.run(["node", str(TOOLS / "validate-asyncapi.mjs"), str(broken)],
                            capture_output=True, text=True, cwd=TOOLS, timeout=120, check=False)
    assert result.returncode != 0, result.stdout
