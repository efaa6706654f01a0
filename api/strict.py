"""Strict JSON bodies: a value of the wrong JSON type is a 400, never coerced.

Litestar converts a handler's arguments with ``msgspec.convert(..., strict=False)``, which
suits query strings but also reads ``"0.5"`` as 0.5 and ``0`` as ``false`` in a JSON body. Before
the handler runs, this hook decodes the body once more, strictly, against the type the handler
declares for ``data`` (msgspec's JSON decoder: no string-to-number or number-to-bool
coercion), so a wrong type is refused with the field's path.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

__all__ = ["strict_json_body"]


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a JSON body whose values have the wrong types."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return
    body = await request.body()  # cached on the request: the handler's parsing reuses it
    if not body:
        return  # a missing body is Litestar's to refuse (or default)
    try:
        msgspec.json.decode(body, type=parameter.annotation, strict=True)
    except msgspec.ValidationError as error:
        raise ValidationException(
            f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": str(error), "source": "body"}],
        ) from None
    except msgspec.DecodeError:
        return  # not JSON at all: Litestar's own parsing answers 400
