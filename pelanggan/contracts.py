"""The published HTTP contracts: one OpenAPI document per built service, exported from its app."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from pelanggan.services import built_services


def openapi_documents() -> dict[str, dict[str, Any]]:
    """Each built service's OpenAPI document, from an app that is built but not started."""
    documents = {}
    for spec in built_services():
        module = importlib.import_module(f"services.{spec.name}.app")
        app = module.create_app()
        documents[spec.name] = app.openapi()
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_openapi_documents(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in openapi_documents().items():
        path = folder / f"{name}.json"
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written
