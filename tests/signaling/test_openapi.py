"""The signaling server's published OpenAPI description, and schemathesis against it.

``GET /openapi.json`` serves ``resources/openapi.json`` restricted to the
operations the running server has. Schemathesis (its CLI, in a subprocess)
then generates requests from it against two real servers on 127.0.0.1:0 —
``station serve`` (standalone, in a subprocess, with a registered station's
key so the stations' API is reached past its 401) and a station's embedded
server (in a thread, over a store with a session), both over HTTPS with their
local certificate, which schemathesis verifies — with every check
(``--checks all``: no 5xx, status codes, content types, headers and bodies as
documented, invalid data refused, valid data accepted, authentication not
ignored…), a bounded number of examples per operation and a fixed seed; the
server's log must show no unexpected exception.

Two answers are told apart from "valid data accepted": the RPPS number's
Luhn check digit cannot be said in JSON Schema (a well-formed RPPS may be
refused with 400, so that check is off for the join and answer forms), and a
link that expired or was used is rightly refused with 410.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from station.signaling.guard import GUARD, TokenGuard
from station.signaling.openapi import load_spec, registered
from station.signaling.runner import start_server
from station.signaling.server import create_app
from station.store.database import Store
from tests.conftest import STATION_BIN, run_station
from tests.signaling.helpers import KEY, local_tls, make_session

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 30  # per operation and phase
SEED = 20261203  # fixed: a failure reproduces; change it to explore further
RUN_TIMEOUT = 120.0
CONFIG = """
[checks]
enabled = true  # every check, as --checks all (which would override [[operations]])

[checks.positive_data_acceptance]
# 410: a link that expired (ttl_s may be tiny) or was used is rightly refused; 429: a
# client that failed too many token lookups is locked out of the token routes.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "429"]

[checks.negative_data_rejection]
# 413: a string past its maxLength may make the body exceed 16 KiB; 410: a dead link.
expected-statuses = ["400", "401", "403", "404", "405", "409", "410", "413", "415", "422",
                     "429"]

[[operations]]
# The RPPS number's Luhn check digit is not expressible in JSON Schema: a
# well-formed RPPS with a wrong check digit is rightly a 400.
include-operation-id = ["join", "expertAnswer"]
checks.positive_data_acceptance.enabled = false
"""
# aiohttp's HTTP parser refusing schemathesis's probe (a NUL in a header value) with
# 400 logs it at ERROR with a traceback, before any of the server's code runs.
EXPECTED_TRACEBACK = re.compile(r"^aiohttp\.http_exceptions\.BadHttpMessage:", re.M)
WEBSOCKETS = {"/ws/doctor", "/ws/station/{session_id}"}


def unexpected_errors(log: str) -> list[str]:
    """The ERROR records / tracebacks of ``log`` other than aiohttp's parser refusals."""
    chunks = re.split(r"(?m)^(?=\S.*\b(?:ERROR|CRITICAL)\b)", log)
    bad = []
    for chunk in chunks:
        if not re.search(r"\b(ERROR|CRITICAL)\b|Traceback", chunk):
            continue
        if EXPECTED_TRACEBACK.search(chunk):
            continue
        bad.append(chunk)
    return bad


def run_schemathesis(url: str, ca: Path, workdir: Path,
                     *headers: str) -> subprocess.CompletedProcess[str]:
    """``schemathesis run <url>/openapi.json --checks all`` against a running server
    whose certificate ``ca`` is (verified, not skipped)."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [str(SCHEMATHESIS), "--config-file", str(config), "--no-color", "run",
               f"{url}/openapi.json", "--max-examples", str(MAX_EXAMPLES),
               "--seed", str(SEED), "--workers", "1", "--request-timeout", "10",
               "--tls-verify", str(ca),
               "--report", "junit", "--report-dir", str(workdir / "report")]
    for header in headers:
        command += ["--header", header]
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                            cwd=workdir, check=False)
    print(result.stdout[-3000:])  # the summary, shown with -s or on failure
    return result


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """Operations tested and test cases generated, from schemathesis's summary."""
    tested = re.search(r"Tested:\s+(\d+)", result.stdout)
    cases = re.search(r"(\d+) generated", result.stdout)
    assert tested and cases, result.stdout[-2000:]
    return {"operations": int(tested.group(1)), "cases": int(cases.group(1))}


def fetch_json(url: str, ca: Path) -> Any:
    with urllib.request.urlopen(url, timeout=5, context=trusting(ca)) as response:
        assert response.headers.get_content_type() == "application/json"
        return json.loads(response.read())


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def status_of(url: str, body: bytes, headers: dict[str, str], ca: Path) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=trusting(ca)) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the servers -------------------------------------------------------------------------


@contextmanager
def station_serve(home: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """``station serve --port 0 --self-signed`` with stations ``a`` and ``b``: its URL,
    their keys and its certificate; on exit it is stopped with SIGTERM and its stderr
    checked for unexpected errors."""
    keys = {}
    for station_id in ("a", "b"):
        added = run_station("serve", "stations", "add", station_id, home=home)
        assert added.returncode == 0, added.stderr
        keys[station_id] = added.stdout.split("STATION-KEY ", 1)[1].split()[0]
    env = {**os.environ, "STATION_HOME": str(home)}
    process = subprocess.Popen([str(STATION_BIN), "serve", "--port", "0", "--self-signed"],
                               env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"https://127\.0\.0\.1:\d+", process.stdout.readline())
        assert found, process.stderr.read() if process.stderr else ""
        yield found.group(0), keys, home / "tls" / "localhost.crt"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert not unexpected_errors(err), "\n".join(unexpected_errors(err))


def unguarded(app: web.Application) -> None:
    """Let one client try any number of tokens (the embedded run reaches the handlers of
    the token routes; the standalone run keeps the lockout, and sees its 429s)."""
    app[GUARD] = TokenGuard(max_failures=10**9)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {self.format(record)}")


@contextmanager
def embedded(store_path: Path) -> Iterator[tuple[str, Path]]:
    """A station's embedded server (its key :data:`KEY`, a session) in a thread of its
    own, over TLS: its URL and certificate; on exit, no ERROR may have been logged but
    aiohttp's parser refusals."""
    records = _Records()
    records.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger().addHandler(records)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    url: list[str] = []

    async def serve() -> None:
        with Store.open(store_path) as store:
            make_session(store)
            app = create_app(store, station_key=KEY)
            unguarded(app)
            context, _ = local_tls(store_path.parent)
            server = await start_server(app, "127.0.0.1", 0, ssl_context=context)
            url.append(server.url)
            ready.set()
            try:
                await stop.wait()
            finally:
                await server.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(15), "the embedded server did not start"
        yield url[0], store_path.parent / "tls" / "localhost.crt"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()
        logging.getLogger().removeHandler(records)
    log = "\n".join(records.lines)
    assert not unexpected_errors(log), log


# --- the description ------------------------------------------------------------------------


def test_every_route_is_described(tmp_path: Path) -> None:
    """Every HTTP route a server registers is in resources/openapi.json, with its method;
    only the WebSocket upgrades and the static files are left to the text."""
    spec = load_spec()
    assert spec["openapi"].startswith("3.1")
    with Store.open(tmp_path / "s.sqlite3") as store:
        for app in (create_app(store, station_key=KEY), create_app(store)):
            routes = {(method, path) for method, path in registered(app)
                      if method != "head" and path not in WEBSOCKETS
                      and not path.startswith("/web")}
            described = {(method, path) for path, item in spec["paths"].items()
                         for method in item if method in ("get", "post", "delete", "put")}
            assert routes <= described, routes - described


def test_each_server_publishes_only_its_operations(tmp_path: Path) -> None:
    """The stations' API is published by a standalone server only."""
    with station_serve(tmp_path / "serve") as (url, _, ca):
        paths = fetch_json(f"{url}/openapi.json", ca)["paths"]
        assert "/api/invitations" in paths
        assert "/api/join/{token}" in paths
        assert "/oidc/callback" not in paths  # no [oidc] configured
    with embedded(tmp_path / "embedded.sqlite3") as (url, ca):
        paths = fetch_json(f"{url}/openapi.json", ca)["paths"]
        assert "/api/invitations" not in paths
        assert "/api/expertise/{token}/answer" in paths


# --- schemathesis ------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_schemathesis_against_station_serve(tmp_path: Path) -> None:
    """``station serve`` with station ``a``'s key: every operation, every check."""
    with station_serve(tmp_path / "home") as (url, keys, ca):
        # A session of station b's: station a may not invite into it (403).
        assert status_of(f"{url}/api/invitations", b'{"session_id": "b-1"}',
                         {"Authorization": f"Bearer b.{keys['b']}",
                          "Content-Type": "application/json"}, ca)[0] == 201
        result = run_schemathesis(url, ca, tmp_path, f"Authorization: Bearer a.{keys['a']}")
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    counts = summary(result)
    assert counts["operations"] == 11  # schemathesis leaves out /openapi.json
    assert counts["cases"] >= 300


@pytest.mark.timeout(180)
def test_schemathesis_against_embedded_server(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A station's own server (no stations' API): every operation, every check."""
    monkeypatch.setenv("STATION_HOME", str(tmp_path / "home"))
    with embedded(tmp_path / "station.sqlite3") as (url, ca):
        result = run_schemathesis(url, ca, tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    counts = summary(result)
    assert counts["operations"] == 9  # schemathesis leaves out /openapi.json
    assert counts["cases"] >= 250


# --- what reading the handlers for the description found -------------------------------


def test_unknown_charset_is_a_400_not_a_500(tmp_path: Path) -> None:
    """``Content-Type: application/json; charset=bogus`` made aiohttp's ``request.text()``
    raise LookupError in every JSON handler: a 500. It is a bad request."""
    bogus = {"Content-Type": "application/json; charset=bogus"}
    with station_serve(tmp_path / "home") as (url, keys, ca):
        for path, extra in (("/api/join/x", {}), ("/api/expertise/x/answer", {}),
                            ("/api/invitations", {"Authorization": f"Bearer a.{keys['a']}"})):
            status, body = status_of(url + path, b'{"session_id": "s"}', {**bogus, **extra},
                                     ca)
            assert status == 400, (path, status, body)
            assert body["error"] in {"signaling.bad_request", "signaling.bad_invitation"}


def test_rpps_in_other_scripts_digits_is_a_400_not_a_500(tmp_path: Path) -> None:
    """``"١٢٣٤٥٦٧٨٩٠١"`` (Arabic-Indic digits) passed ``str.isdigit`` and then broke the
    Luhn check (ValueError): a 500 on the join and answer forms. It is a bad RPPS."""
    json_type = {"Content-Type": "application/json"}
    form = {"name": "Dr A", "rpps": "١٢٣٤٥٦٧٨٩٠١", "specialty": "MG", "conclusion": "RAS"}
    with station_serve(tmp_path / "home") as (url, _, ca):
        for path in ("/api/join/x", "/api/expertise/x/answer"):
            status, body = status_of(url + path, json.dumps(form).encode(), json_type, ca)
            assert status == 400, (path, status, body)
            assert body == {"error": "rpps.digits", "field": "rpps",
                            "message": body["message"]}
