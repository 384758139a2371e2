"""A real OpenID Connect provider for the tests: tests/oidc/provider/server.js
(panva's oidc-provider under Node.js), installed with ``npm ci`` on first use.

The provider is started once per test module with the station's callback
URL as its clients' redirect URI, so the station under test listens on a
port chosen beforehand (:func:`free_port`).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import pytest

PROVIDER_DIR = Path(__file__).with_name("provider")
STATION_CLIENT = "station-test"
OTHER_CLIENT = "other-app"
# The test accounts of server.js (login = subject, as Pro Santé Connect's).
DR_MARTIN = "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:810000000009"
DR_MARTIN_RPPS, DR_MARTIN_NAME = "10000000009", "Claire MARTIN"
NO_RPPS = "f:0b8c2bd9-1d1f-4f0e-9a43-5f2a8f0c6a11:sans-rpps"
BAD_RPPS = "f:7d1e3c52-34a2-4d55-8d3f-95d9f1d0a7aa:810000000001"


def node_or_skip() -> str:
    """The ``node`` executable, or skip the test saying why."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the OIDC provider of these tests runs on it")
    return node


def install_provider() -> None:
    """``npm ci`` into tests/oidc/provider when its node_modules is missing."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: it installs the OIDC provider of these tests")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True,
                   capture_output=True, timeout=300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Provider:
    """A running provider: its issuer URL and the secrets of its two clients."""

    issuer: str
    secrets: dict[str, str]
    station_port: int

    @property
    def station_url(self) -> str:
        return f"https://127.0.0.1:{self.station_port}"  # the station serves TLS only


@contextmanager
def running_provider() -> Iterator[Provider]:
    """Start server.js for a station on a port picked now; stop it after."""
    node = node_or_skip()
    install_provider()
    port = free_port()
    process = subprocess.Popen(
        [node, "server.js", "--redirect-uri", f"https://127.0.0.1:{port}/oidc/callback"],
        cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the OIDC provider did not start")
        info = json.loads(line)
        yield Provider(info["issuer"], {c["client_id"]: c["client_secret"]
                                        for c in info["clients"]}, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Forms(HTMLParser):
    """The forms of a devInteractions page: action and hidden/text inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][1][values["name"]] = values.get("value", "")
        elif tag == "a" and "href" in values:
            self.links.append(values["href"])


async def sign_in_at_provider(http: aiohttp.ClientSession, authorize_url: str,
                              login: str, *, cancel: bool = False) -> str:
    """Drive the provider's login and consent pages like a browser would; returns
    the URL the provider sends the browser back to (the redirect URI + query)."""
    url = authorize_url
    for _ in range(12):
        async with http.get(url, allow_redirects=False) as response:
            if response.status in (302, 303):
                location = urljoin(url, response.headers["Location"])
                if not location.startswith(authorize_url.split("/auth", maxsplit=1)[0]):
                    return location  # off to the relying party
                url = location
                continue
            page = await response.text()
        parser = _Forms()
        parser.feed(page)
        if cancel:
            url = urljoin(url, next(link for link in parser.links if "abort" in link))
            continue
        assert parser.forms, page[-2500:]
        action, fields = parser.forms[0]
        if fields.get("prompt") == "login":
            fields |= {"login": login, "password": "any"}
        async with http.post(urljoin(url, action), data=fields,
                             allow_redirects=False) as response:
            assert response.status in (302, 303), await response.text()
            url = urljoin(url, response.headers["Location"])
            if not url.startswith(authorize_url.split("/auth", maxsplit=1)[0]):
                return url
    raise AssertionError("the provider's interactions did not end")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
