"""The station's embedded signaling server with ``[oidc]`` pointing at the test provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import aiohttp

from station.clock import Clock
from station.oidc_config import OidcConfig
from station.signaling.invitations import Invitations
from station.signaling.oidc import RelyingParty
from station.signaling.oidc_routes import OIDC
from station.signaling.runner import RunningServer, start_server
from station.signaling.server import create_app
from station.store.database import Store
from tests.oidc.provider import DR_MARTIN, STATION_CLIENT, Provider, query_of, sign_in_at_provider
from tests.signaling.helpers import KEY, SESSION, local_tls, make_session


def station_config(provider: Provider, **overrides: Any) -> OidcConfig:
    config = OidcConfig(issuer=provider.issuer, client_id=STATION_CLIENT,
                        client_secret=provider.secrets[STATION_CLIENT], acr_values="")
    return replace(config, **overrides)


@dataclass
class Station:
    server: RunningServer
    http: aiohttp.ClientSession  # the doctor's browser (cookies kept)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def invitations(self) -> Invitations:
        return self.server.invitations

    @property
    def rp(self) -> RelyingParty:
        return self.server.app[OIDC].rp

    async def start_sign_in(self, token: str) -> str:
        """``GET /oidc/login/<token>``: the provider's authorization URL."""
        async with self.http.get(f"{self.url}/oidc/login/{token}",
                                 allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            return response.headers["Location"]

    async def back_from(self, callback_url: str) -> str:
        """Follow the provider's redirect into the station: where the station sends
        the browser next (``/join/<token>`` with or without ``oidc_error``)."""
        async with self.http.get(callback_url, allow_redirects=False) as response:
            assert response.status == 303, (response.status, await response.text())
            return response.headers["Location"]

    async def sign_in(self, token: str, login: str, *, cancel: bool = False) -> str:
        authorize = await self.start_sign_in(token)
        return await self.back_from(await sign_in_at_provider(self.http, authorize, login,
                                                              cancel=cancel))

    async def identity(self, token: str, error: str = "") -> dict[str, Any]:
        query = f"?error={error}" if error else ""
        async with self.http.get(f"{self.url}/api/join/{token}/identity{query}") as response:
            assert response.status == 200
            return dict(await response.json())


@asynccontextmanager
async def station(store: Store, provider: Provider, *, clock: Clock | None = None,
                  **config: Any) -> AsyncIterator[Station]:
    """The embedded server on the port the provider knows, and a doctor's browser."""
    make_session(store)
    app = create_app(store, station_key=KEY, public_url=provider.station_url,
                     oidc=station_config(provider, **config), oidc_clock=clock)
    context, client = local_tls(store.path.parent)
    server = await start_server(app, "127.0.0.1", provider.station_port, ssl_context=context)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         connector=aiohttp.TCPConnector(ssl=client.context)
                                         ) as http:
            yield Station(server, http)
    finally:
        await server.stop()


async def provider_id_token(provider: Provider, client_id: str, nonce: str,
                            login: str = DR_MARTIN) -> dict[str, Any]:
    """A genuine token response of the provider for ``client_id`` and ``nonce``
    (a whole code flow, driven here): what an attacker could replay."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = f"{provider.station_url}/oidc/callback"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{provider.issuer}/.well-known/openid-configuration") as response:
            metadata = await response.json()
        authorize = metadata["authorization_endpoint"] + "?" + urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
            "scope": "openid scope_all", "state": "x", "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256"})
        back = await sign_in_at_provider(http, authorize, login)
        code = query_of(back)["code"]
        async with http.post(metadata["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier},
                headers={"Authorization": aiohttp.encode_basic_auth(
                    client_id, provider.secrets[client_id])}) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


__all__ = ["SESSION", "Station", "provider_id_token", "station", "station_config"]
