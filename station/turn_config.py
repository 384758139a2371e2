"""The ``[turn]`` section of ``station.toml``: the TURN relay (coturn) calls go through.

Optional. Direct WebRTC fails on a good share of hospital networks (symmetric
NATs, firewalls that only let TLS out); a TURN relay both sides reach carries
the call then. The same section serves ``station serve`` (it hands doctors'
consoles their credentials) and a station (it makes its own)::

    [turn]
    urls = ["turn:turn.reseau-ehpad.fr:3478?transport=udp",
            "turn:turn.reseau-ehpad.fr:3478?transport=tcp",
            "turns:turn.reseau-ehpad.fr:5349?transport=tcp"]
    secret = "…"           # coturn's static-auth-secret; STATION_TURN_SECRET wins
    lifetime_hours = 4     # how long one credential is good for (0 < h <= 48)
    realm = "reseau-ehpad.fr"  # coturn's realm (documentation: clients learn it from coturn)

The station's WebRTC engine (aiortc) uses only the *first* ``turn:``/``turns:``
URL of the list: put first the one the EHPAD's network lets out. Browsers try
them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.errors import StationError
from station.paths import station_home
from station.settings_file import read_section

CONFIG_FILENAME = "station.toml"
SECRET_VARIABLE = "STATION_TURN_SECRET"  # noqa: S105 - a variable's name
# Why 4 h: coturn checks a credential's expiry at every authenticated request,
# refreshes included, so a relayed call dies when its credential expires. A
# teleconsultation lasts minutes to an hour (a doctor's rejoin ticket lives 2 h)
# and every new connection gets fresh credentials; 4 h covers the longest call
# with margin, while a credential copied out of a browser is useless by the
# afternoon.
DEFAULT_LIFETIME_HOURS = 4.0
MAX_LIFETIME_HOURS = 48.0
MIN_SECRET_LENGTH = 16
# turn:host[:port][?transport=udp|tcp] and turns:host[:port][?transport=tcp] (RFC 7065)
_URL = re.compile(r"^(turn:[^?\s]+(\?transport=(udp|tcp))?|turns:[^?\s]+(\?transport=tcp)?)$")
_KNOWN = ("urls", "secret", "lifetime_hours", "realm")


class TurnConfigError(StationError):
    """The ``[turn]`` settings are missing something or malformed."""


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """Where the TURN relay is and the secret it shares with the station's servers."""

    urls: tuple[str, ...]
    secret: str
    lifetime_hours: float = DEFAULT_LIFETIME_HOURS
    realm: str = ""

    def __post_init__(self) -> None:
        if not self.urls:
            raise TurnConfigError("turn.config_missing", key="urls")
        for url in self.urls:
            if not _URL.match(url):
                raise TurnConfigError("turn.config_bad_url", url=url[:120])
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise TurnConfigError("turn.config_secret", minimum=MIN_SECRET_LENGTH,
                                  variable=SECRET_VARIABLE)
        if not 0 < self.lifetime_hours <= MAX_LIFETIME_HOURS:
            raise TurnConfigError("turn.config_bad", key="lifetime_hours",
                                  value=str(self.lifetime_hours))

    @property
    def lifetime_seconds(self) -> int:
        """A credential's lifetime in whole seconds."""
        return int(self.lifetime_hours * 3600)


def turn_config_from(section: Mapping[str, Any],
                     env: Mapping[str, str] = os.environ) -> TurnConfig:
    """A :class:`TurnConfig` from a parsed ``[turn]`` table (the secret may come from
    ``STATION_TURN_SECRET``, which wins)."""
    for key, value in section.items():
        if key not in _KNOWN:
            raise TurnConfigError("turn.config_bad", key=key, value=str(value)[:60])
    urls = section.get("urls", ())
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise TurnConfigError("turn.config_bad", key="urls", value=str(urls)[:60])
    lifetime = section.get("lifetime_hours", DEFAULT_LIFETIME_HOURS)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
        raise TurnConfigError("turn.config_bad", key="lifetime_hours", value=str(lifetime)[:60])
    for key in ("secret", "realm"):
        if not isinstance(section.get(key, ""), str):
            raise TurnConfigError("turn.config_bad", key=key, value="…")
    secret = env.get(SECRET_VARIABLE) or section.get("secret", "")
    return TurnConfig(urls=tuple(u.strip() for u in urls), secret=secret,
                      lifetime_hours=float(lifetime), realm=section.get("realm", ""))


def load_turn_config(path: Path | None = None,
                     env: Mapping[str, str] = os.environ) -> TurnConfig | None:
    """The ``[turn]`` settings of ``station.toml``, or None when there are none."""
    path = path or station_home() / CONFIG_FILENAME
    section = read_section(path, "turn", lambda reason: TurnConfigError(
        "turn.config_malformed", path=str(path), reason=reason))
    if section is None:
        return None
    if not isinstance(section, dict):
        raise TurnConfigError("turn.config_malformed", path=str(path), reason="[turn]")
    return turn_config_from(section, env)
