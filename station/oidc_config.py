"""The ``[oidc]`` section of ``station.toml``: doctors' OpenID Connect sign-in.

Optional. With it, the invitation page offers (or, with ``required = true``,
demands) « Se connecter avec Pro Santé Connect » before the doctor joins;
the doctor's RPPS then comes from the provider's claims instead of being
typed::

    [oidc]
    issuer = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
    client_id = "ehpad-tilleuls-station"
    client_secret = "…"         # or STATION_OIDC_CLIENT_SECRET, which wins
    redirect_base = "https://station.ehpad-tilleuls.fr:8443"  # default: public URL
    scopes = ["openid", "scope_all"]
    rpps_claim = "SubjectNameID"   # PSC: "8" + RPPS
    required = false
    userinfo = true
    acr_values = "eidas1"          # "" sends none

The provider must know ``<redirect_base>/oidc/callback`` as a redirect URI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.errors import StationError
from station.paths import station_home
from station.settings_file import read_section

CONFIG_FILENAME = "station.toml"
SECRET_VARIABLE = "STATION_OIDC_CLIENT_SECRET"  # noqa: S105 - a variable's name
DEFAULT_SCOPES = ("openid", "scope_all")
# Pro Santé Connect's userinfo names the professional's national id here
# ("8" followed by the RPPS number for RPPS-registered professionals).
DEFAULT_RPPS_CLAIM = "SubjectNameID"
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class OidcConfigError(StationError):
    """The ``[oidc]`` settings are missing something or malformed."""


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """Where doctors sign in, and how the station is known there."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_base: str = ""  # "": the signaling server's public URL
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    rpps_claim: str = DEFAULT_RPPS_CLAIM
    required: bool = False
    userinfo: bool = True
    label: str = "Pro Santé Connect"
    token_auth: str = "client_secret_basic"  # noqa: S105 - a method's name
    acr_values: str = "eidas1"  # PSC's level of assurance; "" sends none
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")

    def __post_init__(self) -> None:
        for name in ("issuer", "client_id", "client_secret"):
            if not str(getattr(self, name)).strip():
                raise OidcConfigError("oidc.config_missing", key=name)
        for name in ("issuer", "redirect_base"):
            value = getattr(self, name)
            if value and not value.startswith(("https://", "http://")):
                raise OidcConfigError("oidc.config_bad", key=name, value=value)
        if "openid" not in self.scopes:
            raise OidcConfigError("oidc.config_bad", key="scopes", value=" ".join(self.scopes))
        if self.token_auth not in TOKEN_AUTH_METHODS:
            raise OidcConfigError("oidc.config_bad", key="token_auth", value=self.token_auth)
        if not self.rpps_claim.strip():
            raise OidcConfigError("oidc.config_missing", key="rpps_claim")


_STRINGS = ("issuer", "client_id", "client_secret", "redirect_base", "rpps_claim", "label",
            "token_auth", "acr_values")
_BOOLS = ("required", "userinfo")


def oidc_config_from(section: Mapping[str, Any],
                     env: Mapping[str, str] = os.environ) -> OidcConfig:
    """An :class:`OidcConfig` from a parsed ``[oidc]`` table (the secret may come
    from ``STATION_OIDC_CLIENT_SECRET``, which wins)."""
    known = {*_STRINGS, *_BOOLS, "scopes"}
    for key, value in section.items():
        if key not in known:
            raise OidcConfigError("oidc.config_bad", key=key, value=str(value)[:60])
        if key in _STRINGS and not isinstance(value, str):
            raise OidcConfigError("oidc.config_bad", key=key, value=str(value)[:60])
        if key in _BOOLS and not isinstance(value, bool):
            raise OidcConfigError("oidc.config_bad", key=key, value=str(value)[:60])
    scopes = section.get("scopes", DEFAULT_SCOPES)
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
        raise OidcConfigError("oidc.config_bad", key="scopes", value=str(scopes)[:60])
    values: dict[str, Any] = {k: section[k] for k in (*_STRINGS, *_BOOLS) if k in section}
    values["client_secret"] = env.get(SECRET_VARIABLE) or values.get("client_secret", "")
    values.setdefault("issuer", "")
    values.setdefault("client_id", "")
    values["redirect_base"] = values.get("redirect_base", "").rstrip("/")
    return OidcConfig(scopes=tuple(scopes), **values)


def load_oidc_config(path: Path | None = None,
                     env: Mapping[str, str] = os.environ) -> OidcConfig | None:
    """The ``[oidc]`` settings of ``station.toml``, or None when there are none."""
    path = path or station_home() / CONFIG_FILENAME
    section = read_section(path, "oidc", lambda reason: OidcConfigError(
        "oidc.config_malformed", path=str(path), reason=reason))
    if section is None:
        return None
    if not isinstance(section, dict):
        raise OidcConfigError("oidc.config_malformed", path=str(path), reason="[oidc]")
    return oidc_config_from(section, env)
