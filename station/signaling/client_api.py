"""A station's side of a standalone signaling server: its settings and invitation links.

The ``[signaling]`` section of ``<home>/station.toml`` names the server and
how the station proves itself (the key may instead come from the
``STATION_SIGNALING_KEY`` environment variable, which wins)::

    [signaling]
    url = "https://signal.example.fr"   # https:// only: signaling always goes over TLS
    station_id = "ehpad-tilleuls"
    key = "…"          # printed once by `station serve stations add`
    ca_file = "ca.pem" # optional: trusted besides the system's (a private CA, a test server)

:class:`InvitationClient` asks that server for the doctor's one-time link
(``POST /api/invitations``) and revokes it (``DELETE /api/invitations/<id>``);
:func:`record_doctor_joined` records the doctor the server says joined in the
station's own store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from station.clock import from_text
from station.errors import StationError
from station.paths import station_home
from station.people import check_rpps
from station.settings_file import read_section
from station.signaling.tls import ClientTls, client_tls, load_tls_settings
from station.store.database import Store
from station.store.sessions import SessionEvent, SessionRecords

CONFIG_FILENAME = "station.toml"
KEY_VARIABLE = "STATION_SIGNALING_KEY"
REQUEST_TIMEOUT = 15.0  # seconds for one API call


class SignalingConfigError(StationError):
    """The ``[signaling]`` settings are missing something or malformed."""


class RemoteServerError(StationError):
    """The signaling server refused a request, or could not be reached."""

    def __init__(self, code: str, /, status: int = 0, **params: object) -> None:
        self.status = status
        super().__init__(code, status=status, **params)


@dataclass(frozen=True, slots=True)
class SignalingConfig:
    """Where a station's signaling server is and how the station proves itself."""

    url: str
    station_id: str
    key: str
    ca_file: Path | None = None  # trusted besides the system's store

    def tls(self) -> ClientTls:
        """How to verify the server's certificate (never skipped)."""
        return client_tls(self.ca_file)

    @property
    def credential(self) -> str:
        """The Bearer credential: ``<station-id>.<key>``."""
        key = self.key.removeprefix(f"{self.station_id}.")  # the line `stations add` prints
        return f"{self.station_id}.{key}"

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header of every request and of the socket."""
        return {"Authorization": f"Bearer {self.credential}"}


def signaling_config(url: str, station_id: str | None, key: str | None,
                     env: Mapping[str, str] = os.environ,
                     source: str = "", ca_file: Path | None = None) -> SignalingConfig:
    """A complete :class:`SignalingConfig`; the key falls back to ``STATION_SIGNALING_KEY``.
    The server is reached over TLS only: an address that is not ``https://`` is refused."""
    key = env.get(KEY_VARIABLE) or key or ""
    for name, value in (("url", url), ("station_id", station_id or ""), ("key", key)):
        if not value.strip():
            raise SignalingConfigError("signaling.config_missing", key=name,
                                       path=source or KEY_VARIABLE)
    if not url.lower().startswith("https://"):
        raise SignalingConfigError("signaling.config_https", url=url)
    return SignalingConfig(url.rstrip("/"), str(station_id).strip(), key.strip(), ca_file)


def load_signaling_config(path: Path | None = None,
                          env: Mapping[str, str] = os.environ) -> SignalingConfig | None:
    """The ``[signaling]`` settings of ``station.toml``, or None without a ``url`` there."""
    path = path or station_home() / CONFIG_FILENAME
    section = read_section(path, "signaling", lambda reason: SignalingConfigError(
        "signaling.config_malformed", path=str(path), reason=reason))
    if section is None or (isinstance(section, dict) and not section.get("url")):
        return None
    if not isinstance(section, dict) or not all(
            isinstance(section.get(k, ""), str) for k in ("url", "station_id", "key")):
        raise SignalingConfigError("signaling.config_malformed", path=str(path),
                                   reason="[signaling]")
    return signaling_config(section["url"], section.get("station_id"), section.get("key"),
                            env, str(path), load_tls_settings(path).ca_file)


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """A link the server made: what to give the doctor, and how to revoke it."""

    invitation_id: int
    url: str
    expires_at: datetime


class InvitationClient:
    """Asks the station's signaling server for invitation links, and revokes them."""

    def __init__(self, config: SignalingConfig, *,
                 http: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._http = http
        self._tls = config.tls()  # the system's trust store, read once

    async def _request(self, method: str, path: str,
                       body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.config.url}{path}"
        own = self._http is None
        http = self._http or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        try:
            async with http.request(method, url, json=body, headers=self.config.headers,
                                    **self._tls.options()) as response:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = None
                if response.status >= 400:
                    detail = data.get("message") if isinstance(data, dict) else None
                    raise RemoteServerError("signaling.remote_refused", response.status,
                                            url=url, reason=detail or response.reason or "")
                if not isinstance(data, dict):
                    raise RemoteServerError("signaling.remote_refused", response.status,
                                            url=url, reason="JSON")
                return data
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RemoteServerError("signaling.remote_unreachable", url=url,
                                    reason=str(error) or type(error).__name__) from error
        finally:
            if own:
                await http.close()

    async def create(self, session_id: str, valid_for: timedelta,
                     context: dict[str, Any] | None = None) -> RemoteLink:
        """A one-time link into ``session_id``, valid ``valid_for``."""
        body: dict[str, Any] = {"session_id": session_id,
                                "ttl_s": valid_for.total_seconds()}
        if context:
            body["context"] = context
        data = await self._request("POST", "/api/invitations", body)
        try:
            return RemoteLink(int(data["invitation_id"]), str(data["url"]),
                              from_text(str(data["expires_at"])))
        except (KeyError, TypeError, ValueError) as error:
            raise RemoteServerError("signaling.remote_refused", 200, url=self.config.url,
                                    reason=str(error)) from error

    async def revoke(self, invitation_id: int) -> str:
        """Revoke a link; returns its state (``revoked``). A used one raises (409)."""
        data = await self._request("DELETE", f"/api/invitations/{invitation_id}")
        return str(data.get("state", ""))


IDENTITY_KEYS = frozenset({"method", "issuer", "subject", "name"})
IDENTITY_MAX_CHARS = 512  # per value: an issuer URL, a subject, a name


def _verified_identity(value: object) -> dict[str, str] | None:
    """The ``identity`` of a ``doctor-joined`` (who vouched for the doctor: an
    OpenID Connect sign-in), None when absent; anything else is refused."""
    if value is None:
        return None
    if (not isinstance(value, dict) or set(value) != IDENTITY_KEYS
            or value["method"] != "oidc"
            or not all(isinstance(v, str) and len(v) <= IDENTITY_MAX_CHARS
                       for v in value.values())
            or not value["issuer"].strip() or not value["subject"].strip()):
        raise StationError("signaling.bad_doctor_joined")
    return {k: value[k] for k in ("method", "issuer", "subject", "name")}


def record_doctor_joined(store: Store, session_id: str,
                         message: Mapping[str, Any]) -> SessionEvent | None:
    """Record a relayed ``doctor-joined`` as the session's ``doctor_joined`` event.

    The event is the one the embedded server records (same actor, same data:
    name, RPPS, specialty, invitation, and ``identity`` when the doctor signed in
    with OpenID Connect), at the time the doctor joined. The
    server repeats the message when the station's socket comes back, so an
    invitation already recorded is not recorded twice. Returns the event when
    recorded now (None when it already was); a malformed message (bad RPPS,
    missing field) is refused with :class:`~station.errors.StationError`.
    """
    name, specialty = message.get("name"), message.get("specialty")
    invitation, when = message.get("invitation"), message.get("time")
    if not (isinstance(name, str) and name.strip() and isinstance(specialty, str)
            and isinstance(invitation, int) and not isinstance(invitation, bool)
            and 0 < invitation < 2**63  # a SQLite integer
            and isinstance(when, str)):
        raise StationError("signaling.bad_doctor_joined")
    rpps = check_rpps(str(message.get("rpps", "")))
    try:
        time = from_text(when)
    except ValueError as error:
        raise StationError("signaling.bad_doctor_joined") from error
    identity = _verified_identity(message.get("identity"))
    data: dict[str, Any] = {"name": name.strip(), "rpps": rpps,
                            "specialty": specialty.strip(), "invitation": invitation}
    if identity is not None:
        data["identity"] = identity
    with store.write() as conn:
        if conn.execute(
                "SELECT 1 FROM session_events WHERE session_id = ? AND type = 'doctor_joined'"
                " AND json_extract(data, '$.invitation') = ?", (session_id, invitation)
        ).fetchone():
            return None
        return SessionRecords(store).record_event_in(conn, session_id, "doctor_joined", time,
                                                     f"rpps:{rpps}", data)
