"""Every response of the signaling server carries the security headers.

The test walks the router's resources of both servers (a station's embedded
one, ``station serve``'s) over real TLS sockets: each route with its method
and made-up path parameters, the static files (one that exists, one that
does not), a path no route has (404), a method a route lacks (405), a
handler that raises (500). Each answer must have a Content-Security-Policy
without inline script and with ``frame-ancestors 'none'``, no-referrer,
nosniff, and HSTS since it came over TLS; over plain HTTP, no HSTS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from aiohttp import web

from station.signaling.runner import start_server
from station.signaling.server import create_app
from station.store.database import Store
from tests.signaling.helpers import KEY, local_tls, make_session, run, tls_session


def directives(policy: str) -> dict[str, list[str]]:
    """``{"script-src": ["'self'"], ...}`` of a Content-Security-Policy."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def check_headers(what: str, headers: Mapping[str, str], *, tls: bool) -> None:
    policy = directives(headers.get("Content-Security-Policy", ""))
    assert policy, f"{what}: no Content-Security-Policy"
    assert policy.get("frame-ancestors") == ["'none'"], what
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None, what
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    hsts = headers.get("Strict-Transport-Security")
    if tls:
        assert hsts is not None and re.fullmatch(r"max-age=\d{7,}.*", hsts), what
    else:
        assert hsts is None, what


def requests_for(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) for every route of ``app``, plus the odd ones."""
    wanted: list[tuple[str, str]] = []
    for resource in app.router.resources():
        info = resource.get_info()
        if "directory" in info:  # the static files of /web/
            prefix = info["prefix"].rstrip("/")
            wanted += [("GET", f"{prefix}/console.js"), ("GET", f"{prefix}/console.html"),
                       ("GET", f"{prefix}/no-such-file.js")]
            continue
        template = info.get("formatter") or info.get("path", "")
        path = re.sub(r"\{[^}]+\}", "x" * 43, template)
        for route in resource:
            if route.method != "*":
                wanted.append((route.method, path))
    assert len(wanted) >= 10, wanted  # the walk found the routes
    return [*wanted, ("GET", "/no/such/route"), ("DELETE", "/api/config"),
            ("GET", "/boom")]


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a handler that fails")


def test_every_response_of_both_servers_has_the_headers(tmp_path: Path) -> None:
    async def body() -> None:
        with Store.open(tmp_path / "station.sqlite3") as store:
            make_session(store)
            context, client = local_tls(tmp_path)
            for app in (create_app(store, station_key=KEY), create_app(store)):
                app.router.add_get("/boom", boom)  # a 500 from inside a handler
                requests = requests_for(app)
                server = await start_server(app, "127.0.0.1", 0, ssl_context=context)
                seen: set[int] = set()
                try:
                    async with tls_session(client) as http:
                        for method, path in requests:
                            async with http.request(method, server.url + path,
                                                    allow_redirects=False) as response:
                                await response.read()
                                seen.add(response.status)
                                check_headers(f"{method} {path} -> {response.status}",
                                              response.headers, tls=True)
                finally:
                    await server.stop()
                # Answers of every kind were looked at.
                assert {200, 404, 405, 500} <= seen, seen
    run(body, timeout=60)


def test_plain_http_gets_no_hsts(tmp_path: Path) -> None:
    """HSTS only over TLS (in-process tests of the app still serve plain HTTP)."""
    async def body() -> None:
        with Store.open(tmp_path / "station.sqlite3") as store:
            server = await start_server(create_app(store, station_key=KEY), "127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as http, \
                        http.get(f"{server.url}/web/console.js") as response:
                    assert response.status == 200
                    check_headers("plain", response.headers, tls=False)
            finally:
                await server.stop()
    run(body)


def test_the_console_and_error_pages_have_no_inline_script() -> None:
    """The CSP forbids inline scripts and handlers: the console must not need them."""
    web_root = Path(__file__).resolve().parents[2] / "resources" / "web"
    for page in web_root.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            assert re.search(r"\bsrc=", tag), f"{page.name}: inline {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"{page.name}: inline handler"
        assert "javascript:" not in text.lower(), page.name
