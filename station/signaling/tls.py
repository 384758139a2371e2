"""TLS of the signaling server and of the station's clients that reach it.

The server (a station's embedded one, ``station serve``) speaks HTTPS/WSS
only. Its certificate comes from ``[signaling]`` of ``station.toml`` (or
``station serve --cert --key``)::

    [signaling]
    cert_file = "/etc/ssl/station/fullchain.pem"   # the chain, leaf first
    key_file = "/etc/ssl/private/station.key"
    ca_file = "/etc/ssl/station/ca.pem"            # optional: trusted besides the system's

Without them, a local self-signed certificate is made once
(:mod:`station.signaling.demo_cert`), for the demo and the tests; browsers
elsewhere warn about it. Clients always verify the server's certificate:
against the system's trust store plus ``ca_file``, or, for the station's
own embedded server on its local certificate, against exactly that file.
Relative paths in ``station.toml`` are relative to the file's directory.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from station.errors import StationError
from station.paths import station_home
from station.settings_file import read_section
from station.signaling.demo_cert import demo_certificate

CONFIG_FILENAME = "station.toml"
LOCAL_DIRECTORY = "tls"  # under the data directory: the local certificate


class TlsError(StationError):
    """A certificate, key or CA file is missing, unreadable, malformed or mismatched."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """What ``[signaling]`` of ``station.toml`` says about certificates."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None


def load_tls_settings(path: Path | None = None) -> TlsSettings:
    """``cert_file``, ``key_file`` and ``ca_file`` of ``[signaling]``; empty when absent."""
    path = path or station_home() / CONFIG_FILENAME
    section = read_section(path, "signaling", lambda reason: TlsError(
        "signaling.config_malformed", path=str(path), reason=reason))
    if not isinstance(section, dict):
        return TlsSettings()
    found: dict[str, Path | None] = {}
    for name in ("cert_file", "key_file", "ca_file"):
        value = section.get(name, "")
        if not isinstance(value, str):
            raise TlsError("signaling.config_malformed", path=str(path),
                           reason=f"[signaling] {name}")
        found[name] = path.parent / value.strip() if value.strip() else None
    if (found["cert_file"] is None) != (found["key_file"] is None):
        raise TlsError("tls.pair_incomplete", path=str(path))
    return TlsSettings(**found)


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """The PEM files a server presents; ``local`` for the self-signed one it made."""

    cert_file: Path
    key_file: Path
    local: bool = False


def server_certificate(settings: TlsSettings, data_dir: Path, *,
                       allow_local: bool = True) -> ServerCertificate:
    """The configured certificate, else (``allow_local``) the local one kept under
    ``data_dir``; :class:`TlsError` when neither may be used."""
    if settings.cert_file is not None and settings.key_file is not None:
        return ServerCertificate(settings.cert_file, settings.key_file)
    if not allow_local:
        raise TlsError("tls.not_configured")
    cert, key = demo_certificate(data_dir / LOCAL_DIRECTORY)
    return ServerCertificate(cert, key, local=True)


def _readable(path: Path, what: str) -> None:
    """A clear error for a file that is not there or cannot be read."""
    if not path.exists():
        raise TlsError("tls.file_missing", what=what, path=str(path))
    if not path.is_file() or not os.access(path, os.R_OK):
        raise TlsError("tls.file_unreadable", what=what, path=str(path))


def _check_validity(cert_file: Path, now: datetime) -> None:
    """Refuse a leaf certificate that is not valid now (browsers would, less clearly)."""
    try:
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except ValueError as error:
        raise TlsError("tls.cert_invalid", path=str(cert_file), reason=str(error)) from error
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise TlsError("tls.cert_expired", path=str(cert_file),
                       start=leaf.not_valid_before_utc.date().isoformat(),
                       end=leaf.not_valid_after_utc.date().isoformat())


def server_context(certificate: ServerCertificate, now: datetime | None = None
                   ) -> ssl.SSLContext:
    """The server's context: TLS 1.2 or later, ``certificate`` loaded and checked."""
    _readable(certificate.cert_file, "cert_file")
    _readable(certificate.key_file, "key_file")
    _check_validity(certificate.cert_file, now or datetime.now(UTC))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # An empty password: an encrypted key is refused here instead of OpenSSL
        # asking for its passphrase on the terminal of a server started unattended.
        context.load_cert_chain(certificate.cert_file, certificate.key_file, password=b"")
    except ssl.SSLError as error:
        if "KEY_VALUES_MISMATCH" in str(error):
            raise TlsError("tls.key_mismatch", cert=str(certificate.cert_file),
                           key=str(certificate.key_file)) from error
        raise TlsError("tls.key_invalid", path=str(certificate.key_file),
                       reason=error.reason or str(error)) from error
    return context


@dataclass(frozen=True)
class ClientTls:
    """How a client reaches one server: whom it trusts, which name it checks."""

    context: ssl.SSLContext
    server_hostname: str | None = None  # None: the URL's host

    def options(self) -> dict[str, Any]:
        """Keyword arguments for aiohttp's ``request`` and ``ws_connect``."""
        options: dict[str, Any] = {"ssl": self.context}
        if self.server_hostname:
            options["server_hostname"] = self.server_hostname
        return options


def client_context(ca_file: Path | None = None, *, only: Path | None = None
                   ) -> ssl.SSLContext:
    """A verifying client context (TLS 1.2 or later): the system's trust store plus
    ``ca_file``, or ``only`` that certificate (the station's own local one)."""
    for path in (ca_file, only):
        if path is not None:
            _readable(path, "ca_file")
    try:
        if only is not None:
            context = ssl.create_default_context(cafile=str(only))
        else:
            context = ssl.create_default_context()
            if ca_file is not None:
                context.load_verify_locations(cafile=str(ca_file))
    except ssl.SSLError as error:
        path = only or ca_file
        raise TlsError("tls.cert_invalid", path=str(path), reason=str(error)) from error
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@lru_cache(maxsize=8)
def client_tls(ca_file: Path | None = None) -> ClientTls:
    """How a station reaches a remote ``station serve``: the system's trust store
    plus ``ca_file`` (``[signaling] ca_file``). Made once per file and process:
    reading the system's store costs milliseconds, and a station asks again for
    every link (a change of the CA file is seen at the next start)."""
    return ClientTls(client_context(ca_file))


def own_server_tls(certificate: ServerCertificate, settings: TlsSettings,
                   public_url: str = "") -> ClientTls:
    """How the station reaches its embedded server on the loopback: its local
    certificate exactly; a configured one as the doctors do, by the public name."""
    if certificate.local:
        # Trusting that one certificate is the check; its name is "localhost"
        # whatever address the server listens on (a LAN address in a demo).
        return ClientTls(client_context(only=certificate.cert_file),
                         server_hostname="localhost")
    host = urlsplit(public_url).hostname if public_url else None
    return ClientTls(client_context(settings.ca_file), server_hostname=host or None)
