"""The ``[outbox]`` section of ``<home>/station.toml``: where reports are sent from and to.

The file sits next to ``devices.toml``::

    [outbox]
    sender = "ehpad-les-tilleuls@ehpad.mssante.fr"
    relay_host = "smtp.mssante.example"
    relay_port = 587
    starttls = true            # default; certificate and host name verified
    # implicit_tls = true      # port 465 style instead of STARTTLS
    # ca_file = "/etc/station/relay-ca.pem"   # else the system's CAs
    # client_cert = "..."  client_key = "..."  # certificate authentication
    username = "ehpad-les-tilleuls"
    password = "..."
    # allow_plaintext = true   # only for a relay (or an http:// fhir_url) on this machine
    backoff_initial_s = 30
    backoff_max_s = 3600
    timeout_s = 60
    fhir_url = "https://dpi.ehpad.local/fhir/Bundle"
    # fhir_ca_file = "..."  fhir_token = "..."
    drop_folder = "/srv/dpi/entrants"

With no file or no ``[outbox]`` section nothing is sent: deliveries stay
queued and the outbox says "no sending configured". A channel whose settings
are missing (no relay, no FHIR URL, no drop folder) is likewise left queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.outbox.errors import OutboxConfigError
from station.outbox.model import Channel
from station.paths import station_home
from station.settings_file import read_section

CONFIG_FILENAME = "station.toml"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the mail relay."""

    host: str
    port: int = 587
    sender: str = ""
    starttls: bool = True
    implicit_tls: bool = False
    allow_plaintext: bool = False
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    username: str | None = None
    password: str | None = None
    helo_name: str | None = None

    @property
    def encrypted(self) -> bool:
        """Whether the connection is protected by TLS."""
        return self.starttls or self.implicit_tls


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    """Everything the worker needs; ``None`` fields mean "channel not configured"."""

    smtp: SmtpSettings | None = None
    fhir_url: str | None = None
    fhir_ca_file: Path | None = None
    fhir_token: str | None = None
    drop_folder: Path | None = None
    backoff_initial_s: float = 30.0
    backoff_max_s: float = 3600.0
    timeout_s: float = 60.0
    parallel: int = 4

    def configured(self, channel: Channel) -> bool:
        """Whether deliveries of this channel can be attempted."""
        if channel is Channel.SMTP:
            return self.smtp is not None
        if channel is Channel.FHIR:
            return self.fhir_url is not None
        return self.drop_folder is not None

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th attempt: doubling, capped."""
        exponent = max(0, attempts - 1)
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(exponent, 60))


def config_path() -> Path:
    """Where the station's settings live (next to ``devices.toml``)."""
    return station_home() / CONFIG_FILENAME


def load_outbox_config(path: Path | None = None) -> OutboxConfig | None:
    """The ``[outbox]`` settings, or ``None`` when sending is not configured.

    A malformed file, a wrong type or an unsafe choice (sending in clear
    without ``allow_plaintext``) is refused with a message naming the key.
    """
    path = path or config_path()
    section = read_section(path, "outbox", lambda reason: OutboxConfigError(
        "outbox.config.malformed", path=str(path), reason=reason))
    if section is None:
        return None
    if not isinstance(section, dict):
        raise OutboxConfigError("outbox.config.bad_value", path=str(path), key="outbox")
    return config_from_mapping(section, path)


_KNOWN = frozenset({
    "sender", "relay_host", "relay_port", "starttls", "implicit_tls", "allow_plaintext",
    "ca_file", "client_cert", "client_key", "username", "password", "helo_name",
    "backoff_initial_s", "backoff_max_s", "timeout_s", "parallel", "fhir_url",
    "fhir_ca_file", "fhir_token", "drop_folder",
})


def config_from_mapping(section: dict[str, Any], path: Path | None = None) -> OutboxConfig:
    """Build and check the configuration from the section's keys."""
    where = str(path or "[outbox]")
    reader = _Reader(section, where)
    unknown = sorted(set(section) - _KNOWN)
    if unknown:
        raise OutboxConfigError("outbox.config.unknown_key", path=where, key=unknown[0])
    smtp = None
    host = reader.text("relay_host")
    if host:
        smtp = SmtpSettings(
            host=host, port=reader.integer("relay_port", 587),
            sender=reader.text("sender") or "",
            starttls=reader.boolean("starttls", True),
            implicit_tls=reader.boolean("implicit_tls", False),
            allow_plaintext=reader.boolean("allow_plaintext", False),
            ca_file=reader.path("ca_file"), client_cert=reader.path("client_cert"),
            client_key=reader.path("client_key"), username=reader.text("username"),
            password=reader.text("password"), helo_name=reader.text("helo_name"),
        )
        if not smtp.sender or "@" not in smtp.sender:
            raise OutboxConfigError("outbox.config.sender_missing", path=where)
        if smtp.starttls and smtp.implicit_tls:
            raise OutboxConfigError("outbox.config.tls_both", path=where)
        if not smtp.encrypted and not smtp.allow_plaintext:
            raise OutboxConfigError("outbox.config.plaintext_refused", path=where)
    initial = reader.number("backoff_initial_s", 30.0)
    maximum = reader.number("backoff_max_s", 3600.0)
    if initial <= 0 or maximum < initial:
        raise OutboxConfigError("outbox.config.bad_value", path=where, key="backoff_max_s")
    fhir_url = reader.text("fhir_url")
    if fhir_url and not fhir_url.startswith(("https://", "http://")):
        raise OutboxConfigError("outbox.config.bad_value", path=where, key="fhir_url")
    # Reports leave the station encrypted: plain HTTP only by the same explicit
    # opt-in as a clear-text relay (a record system on this very machine).
    if fhir_url and fhir_url.startswith("http://") and not reader.boolean("allow_plaintext",
                                                                          False):
        raise OutboxConfigError("outbox.config.fhir_plaintext_refused", path=where)
    return OutboxConfig(
        smtp=smtp, fhir_url=fhir_url, fhir_ca_file=reader.path("fhir_ca_file"),
        fhir_token=reader.text("fhir_token"), drop_folder=reader.path("drop_folder"),
        backoff_initial_s=initial, backoff_max_s=maximum,
        timeout_s=reader.number("timeout_s", 60.0),
        parallel=max(1, reader.integer("parallel", 4)),
    )


class _Reader:
    """Typed access to the section's keys, refusing wrong types by name."""

    def __init__(self, section: dict[str, Any], where: str) -> None:
        self._section = section
        self._where = where

    def _bad(self, key: str) -> OutboxConfigError:
        return OutboxConfigError("outbox.config.bad_value", path=self._where, key=key)

    def text(self, key: str) -> str | None:
        value = self._section.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key)
        return value.strip() or None

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        return Path(value).expanduser() if value else None

    def boolean(self, key: str, default: bool) -> bool:
        value = self._section.get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self._section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key)
        return value

    def number(self, key: str, default: float) -> float:
        value = self._section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self._bad(key)
        return float(value)
