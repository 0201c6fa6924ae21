"""The OpenAPI documents front-end teams generate clients from are committed and current."""

from __future__ import annotations

import json
from pathlib import Path

from pelanggan.contracts import openapi_documents, render
from pelanggan.services import built_services

FOLDER = Path(__file__).resolve().parents[2] / "docs" / "openapi"


def test_every_built_service_has_a_current_document() -> None:
    documents = openapi_documents()
    assert set(documents) == {spec.name for spec in built_services()}
    for name, document in documents.items():
        path = FOLDER / f"{name}.json"
        assert path.is_file(), f"{path} is missing: run `pelanggan openapi`"
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads(render(document)), (
            f"{path} is stale: run `pelanggan openapi`")
