"""The API's documentation pages, served whole from the app: no CDN, so they work offline.

Swagger UI and ReDoc load their JavaScript, CSS and favicon from ``/schema/assets/`` (the
files in ``api/static/openapi``, see its README for versions and licenses). ReDoc's Google
fonts are off: it falls back to the browser's fonts. The one request either page makes
elsewhere is ReDoc's small "API docs by Redocly" badge image, which hides itself when it
cannot load. RapiDoc and Stoplight Elements, which
Litestar also offers, exist only on CDNs, so they are not served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "docs_assets_router", "openapi_config"]

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "openapi"
ASSETS_PATH = "/schema/assets"
_FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"

DESCRIPTION = """\
QBank's HTTP API. Every list answers `{total, page, page_size, items}`. Every error, 500
included, answers `{error, detail, extra, request_id}` (schema `ErrorBody`); `request_id` is
also in the `X-Request-ID` header. Values you entered (a, b, c, sh_p, tau, ...) come back
exactly as entered; figures QBank computes (theta, se, exposure rates, max_over, ...) carry 6
significant digits.
"""


def operation_id(handler: Any, _method: Any, _path: Any) -> str:
    """An operation's id is its handler's name (``create_quiz``): what a generated client calls.

    Handler names are unique across the app (a test checks), so the ids are too.
    """
    function = handler.fn
    while hasattr(function, "func"):  # sync handlers are wrapped (AsyncCallable, partial)
        function = function.func
    return str(getattr(function, "__name__", None) or handler.handler_name)


def _not_found_as_json(connection: ASGIConnection[Any, Any, Any, Any],
                       handler: BaseRouteHandler) -> None:  # fmt: skip
    """Litestar answers an unknown ``/schema/…`` path with an HTML page; ours is the JSON error.

    A guard on the docs router sees which handler matched; on Litestar's catch-all it raises
    ``NotFoundException``, which the app's handler turns into ``ErrorBody`` like any 404.
    """
    if getattr(handler.fn, "__name__", "") == "handle_schema_path_not_found":
        raise NotFoundException(f"no documentation page at {connection.url.path}")


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    """``/schema``: ReDoc (also at ``/schema/redoc``), Swagger UI, the JSON and YAML schema."""
    return OpenAPIConfig(
        title=title,
        version=version,
        description=DESCRIPTION,
        operation_id_creator=operation_id,
        openapi_router=Router("/schema", route_handlers=[], include_in_schema=False,
                              guards=[_not_found_as_json]),
        render_plugins=[
            RedocRenderPlugin(path=["/", "/redoc"], js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                              google_fonts=False, favicon=_FAVICON),
            SwaggerRenderPlugin(js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                                favicon=_FAVICON),
            JsonRenderPlugin(),
            YamlRenderPlugin(),
        ],
    )  # fmt: skip


def docs_assets_router() -> Router:
    """Serves the docs pages' assets under ``/schema/assets``."""
    return create_static_files_router(path=ASSETS_PATH, directories=[ASSETS_DIR],
                                      name="docs_assets", include_in_schema=False)  # fmt: skip
