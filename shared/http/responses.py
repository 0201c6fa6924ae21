"""Answering with a response model the handler built itself, serialised once.

FastAPI validates whatever a handler returns against the route's ``response_model`` and then
dumps it. When the handler built the model from rows the database holds (``model_construct``,
no validation), that second validation re-checks every field of every row of a page: on the
list endpoints it was a larger share of the CPU than reading the rows. ``json_response`` sends
the bytes FastAPI would have sent (``dump_json`` with aliases, ``application/json``) without it.

Keep ``response_model`` on the route: the OpenAPI document is derived from it, and FastAPI passes
a returned ``Response`` through untouched.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def json_response(model: BaseModel, *, status_code: int = 200) -> Response:
    """``model`` as JSON, byte for byte what FastAPI sends for it as a route's response model."""
    return Response(content=model.__pydantic_serializer__.to_json(model, by_alias=True),
                    status_code=status_code, media_type="application/json")
