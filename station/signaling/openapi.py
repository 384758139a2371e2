"""``GET /openapi.json``: the signaling server's HTTP API, described for clients and tools.

The description is ``resources/openapi.json`` (OpenAPI 3.1), written by hand
from the handlers and checked against a running server with schemathesis
(``tests/signaling/test_openapi.py``). It describes every route any server
may have; each server publishes only the operations it registered itself
(the stations' API exists only standalone, the OpenID Connect sign-in only
when configured), so that the document is true of the server that serves it.
The WebSocket routes and the static files are described in its text only.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from aiohttp import web

from resources import resource_path

SPEC_PATH = resource_path("openapi.json")
OPENAPI_ROUTE = "/openapi.json"
_DOCUMENT = web.AppKey("openapi_document", bytes)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load_spec() -> dict[str, Any]:
    """The whole description, every route of every kind of server."""
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def registered(app: web.Application) -> set[tuple[str, str]]:
    """``(method, path template)`` of every route ``app`` answers, e.g.
    ``("post", "/api/join/{token}")`` (aiohttp's ``{name}`` is OpenAPI's)."""
    found = set()
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        found.add((route.method.lower(), re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", canonical)))
    return found


def spec_for(app: web.Application) -> dict[str, Any]:
    """The description restricted to the operations ``app`` has."""
    spec = load_spec()
    routes = registered(app)
    paths: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        kept = {key: value for key, value in item.items()
                if key not in _METHODS or (key, path) in routes}
        if any(key in _METHODS for key in kept):
            paths[path] = kept
    published = copy.copy(spec)
    published["paths"] = paths
    return published


async def _build(app: web.Application) -> None:
    """Once the routes are all added (at startup), render the document."""
    app[_DOCUMENT] = json.dumps(spec_for(app), ensure_ascii=False).encode("utf-8")


async def openapi_document(request: web.Request) -> web.Response:
    """``GET /openapi.json``."""
    return web.Response(body=request.app[_DOCUMENT], content_type="application/json",
                        charset="utf-8", headers={"Cache-Control": "no-cache"})


def add_openapi_route(app: web.Application) -> None:
    """Serve the description of ``app``'s own operations at ``GET /openapi.json``."""
    app.router.add_get(OPENAPI_ROUTE, openapi_document)
    app.on_startup.append(_build)
