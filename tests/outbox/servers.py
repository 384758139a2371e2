"""Real servers on loopback for the outbox tests: aiosmtpd SMTP (scriptable), TLS certificates.

Each SMTP server runs aiosmtpd's own protocol on its own event loop in a
thread, bound to port 0 on 127.0.0.1. The handler's replies can be scripted
(refuse, defer, drop the connection) and it can hold a command until the test
releases it, to kill the sender at a chosen point.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class ScriptedHandler:
    """Accepts mail unless told otherwise; records what it accepted (250 after DATA)."""

    rcpt_replies: list[str] = field(default_factory=list)
    rcpt_by_address: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)  # "drop" closes the connection
    hold_rcpt: threading.Event | None = None
    hold_data: threading.Event | None = None
    rcpt_seen: threading.Event = field(default_factory=threading.Event)
    data_seen: threading.Event = field(default_factory=threading.Event)
    accepted: list[tuple[str, bytes]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        self.commands.append(f"RCPT {address}")
        self.rcpt_seen.set()
        if self.hold_rcpt is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold_rcpt.wait)
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        reply = self.rcpt_by_address.get(address, reply)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.commands.append("DATA")
        if self.hold_data is not None:
            # The worst case for the sender: the server has taken the message
            # (it will deliver it) but its 250 never reaches the sender.
            self._accept(envelope)
            self.data_seen.set()
            await asyncio.get_running_loop().run_in_executor(None, self.hold_data.wait)
            return "250 2.0.0 Ok: queued"
        self.data_seen.set()
        reply = self.data_replies.pop(0) if self.data_replies else "250 2.0.0 Ok: queued"
        if reply == "drop":
            server.transport.abort()
            return "421 dropped"
        if reply.startswith("250"):
            self._accept(envelope)
        return reply

    def _accept(self, envelope: Any) -> None:
        for rcpt in envelope.rcpt_tos:
            self.accepted.append((rcpt, bytes(envelope.original_content)))

    def received(self) -> dict[str, list[bytes]]:
        """Accepted messages per recipient, raw."""
        found: dict[str, list[bytes]] = {}
        for rcpt, content in self.accepted:
            found.setdefault(rcpt, []).append(content)
        return found

    def message_ids(self, rcpt: str) -> list[str]:
        """The Message-ID of every copy accepted for ``rcpt``."""
        return [str(email.message_from_bytes(c)["Message-ID"])
                for c in self.received().get(rcpt, [])]


class LoopbackSmtp:
    """aiosmtpd on 127.0.0.1:<free port>, in a thread with its own loop."""

    def __init__(self, handler: ScriptedHandler, *, tls_context: ssl.SSLContext | None = None,
                 require_starttls: bool = False,
                 credentials: tuple[str, str] | None = None) -> None:
        self.handler = handler
        self._tls = tls_context
        self._require_starttls = require_starttls
        self._credentials = credentials
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self._credentials is not None and
              (auth_data.login.decode(), auth_data.password.decode()) == self._credentials)
        return AuthResult(success=ok)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        def factory() -> SMTP:
            return SMTP(self.handler, hostname="localhost", tls_context=self._tls,
                        require_starttls=self._require_starttls,
                        authenticator=self._authenticate if self._credentials else None,
                        auth_required=self._credentials is not None, loop=self._loop)

        server = self._loop.run_until_complete(
            self._loop.create_server(factory, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    def __enter__(self) -> LoopbackSmtp:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        for event in (self.handler.hold_rcpt, self.handler.hold_data):
            if event is not None:
                event.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def self_signed_certificate(folder: Path, name: str = "relay") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) files."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test relay")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
