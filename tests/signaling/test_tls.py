"""TLS of the signaling server: the local certificate, configured ones, clear refusals,
clients that verify, and no plain-text way in."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.signaling.client_api import InvitationClient, RemoteServerError, SignalingConfig
from station.signaling.demo_cert import RENEW_BEFORE, demo_certificate
from station.signaling.runner import start_embedded
from station.signaling.tls import (
    ServerCertificate,
    TlsError,
    TlsSettings,
    client_context,
    load_tls_settings,
    server_certificate,
    server_context,
)
from station.store.database import Store
from tests.conftest import run_station
from tests.signaling.helpers import SESSION, make_session, run
from tests.signaling.remote import standalone


def test_the_local_certificate_is_made_once_and_fit_for_localhost(tmp_path: Path) -> None:
    cert_path, key_path = demo_certificate(tmp_path / "tls")
    first = cert_path.read_bytes()
    assert demo_certificate(tmp_path / "tls") == (cert_path, key_path)
    assert cert_path.read_bytes() == first  # kept, not made again
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(first)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=300) < lifetime < timedelta(days=398)


def test_the_local_certificate_is_renewed_before_it_expires_or_when_damaged(
        tmp_path: Path) -> None:
    cert_path, key_path = demo_certificate(tmp_path)
    first = cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(first)
    later = cert.not_valid_after_utc - RENEW_BEFORE + timedelta(days=1)
    demo_certificate(tmp_path, now=later)
    renewed = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert renewed.not_valid_after_utc > cert.not_valid_after_utc
    key_path.write_text("not a key")
    demo_certificate(tmp_path)
    server_context(ServerCertificate(cert_path, key_path, local=True))  # a working pair again


def test_configured_files_are_read_from_station_toml(tmp_path: Path) -> None:
    toml = tmp_path / "station.toml"
    toml.write_text('[signaling]\ncert_file = "certs/chain.pem"\nkey_file = "/k.pem"\n'
                    'ca_file = "ca.pem"\n', encoding="utf-8")
    assert load_tls_settings(toml) == TlsSettings(
        tmp_path / "certs" / "chain.pem", Path("/k.pem"), tmp_path / "ca.pem")
    assert load_tls_settings(tmp_path / "absent.toml") == TlsSettings()
    toml.write_text('[signaling]\ncert_file = "c.pem"\n', encoding="utf-8")
    with pytest.raises(TlsError, match="cert_file et key_file vont ensemble"):
        load_tls_settings(toml)
    toml.write_text("[signaling]\nkey_file = 3\n", encoding="utf-8")
    with pytest.raises(TlsError, match="illisible"):
        load_tls_settings(toml)
    # Configured files win over the local certificate; none and no local: refused.
    configured = TlsSettings(tmp_path / "c.pem", tmp_path / "k.pem")
    assert server_certificate(configured, tmp_path) == ServerCertificate(
        tmp_path / "c.pem", tmp_path / "k.pem")
    with pytest.raises(TlsError, match="aucun certificat TLS"):
        server_certificate(TlsSettings(), tmp_path, allow_local=False)
    assert not (tmp_path / "tls").exists()  # nothing made when it may not be used


def test_bad_pairs_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    cert_a, key_a = demo_certificate(tmp_path / "a")
    _, key_b = demo_certificate(tmp_path / "b")
    context = server_context(ServerCertificate(cert_a, key_a))
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    cases = [
        (ServerCertificate(tmp_path / "none.pem", key_a),
         "fichier TLS introuvable \\(cert_file\\)"),
        (ServerCertificate(cert_a, tmp_path), "fichier TLS illisible \\(key_file\\)"),
        (ServerCertificate(cert_a, key_b), "ne correspond pas au certificat"),
    ]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    cases.append((ServerCertificate(garbage, key_a), "certificat illisible"))
    encrypted_like = tmp_path / "key.txt"
    encrypted_like.write_text("this is no PEM key")
    cases.append((ServerCertificate(cert_a, encrypted_like), "clé privée ou certificat illisible"))
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(serialization.load_pem_private_key(key_a.read_bytes(), None)
                          .private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"secret")))
    cases.append((ServerCertificate(cert_a, encrypted), "une clé PEM non chiffrée"))
    for certificate, message in cases:
        with pytest.raises(TlsError, match=message):
            server_context(certificate)
    with pytest.raises(TlsError, match="n'est pas valable aujourd'hui"):
        server_context(ServerCertificate(cert_a, key_a),
                       now=datetime.now(UTC) + timedelta(days=800))


def test_station_serve_refuses_to_start_without_a_certificate(tmp_path: Path) -> None:
    result = run_station("serve", "--port", "0", home=tmp_path)
    assert result.returncode != 0
    assert "aucun certificat TLS" in result.stderr and "--self-signed" in result.stderr
    half = run_station("serve", "--port", "0", "--cert", str(tmp_path / "c.pem"),
                       home=tmp_path)
    assert half.returncode != 0 and "vont ensemble" in half.stderr
    cert, _ = demo_certificate(tmp_path / "a")
    _, other = demo_certificate(tmp_path / "b")
    mismatched = run_station("serve", "--port", "0", "--cert", str(cert), "--key", str(other),
                             home=tmp_path)
    assert mismatched.returncode != 0 and "ne correspond pas" in mismatched.stderr
    assert "Traceback" not in result.stderr + half.stderr + mismatched.stderr


def test_clients_verify_the_server_certificate(tmp_path: Path) -> None:
    """Without the server's certificate among the trusted ones, a station refuses it:
    verification is never skipped."""
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            trusting = InvitationClient(SignalingConfig(h.url, "a", h.keys["a"], h.ca))
            assert (await trusting.create(SESSION, timedelta(minutes=1))).url.startswith(
                f"{h.url}/join/")
            system_only = InvitationClient(SignalingConfig(h.url, "a", h.keys["a"]))
            with pytest.raises(RemoteServerError) as refused:
                await system_only.create(SESSION, timedelta(minutes=1))
            assert refused.value.code == "signaling.remote_unreachable"
            assert "certificate verify failed" in refused.value.message
            # Another local certificate is not this server's either.
            other, _ = demo_certificate(tmp_path / "other")
            wrong = InvitationClient(SignalingConfig(h.url, "a", h.keys["a"], other))
            with pytest.raises(RemoteServerError, match="certificate verify failed"):
                await wrong.create(SESSION, timedelta(minutes=1))
    run(body)


def test_a_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="fichier TLS introuvable \\(ca_file\\)"):
        client_context(tmp_path / "ca.pem")


def test_plain_http_and_ws_get_nothing_from_the_tls_port(store: Store, tmp_path: Path) -> None:
    """The embedded server speaks TLS only: a ws:// upgrade or an http:// request to its
    port fails, and the station's own client gets in over wss:// with its key."""
    make_session(store)

    async def body() -> None:
        server = await start_embedded(store, tls_settings=TlsSettings())
        try:
            assert server.url.startswith("https://") and server.client_tls is not None
            plain = server.url.replace("https://", "http://")
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bearer {server.station_key}"}
                with pytest.raises((aiohttp.ClientError, ConnectionError)):
                    await http.ws_connect(
                        f"{plain.replace('http://', 'ws://')}/ws/station/{SESSION}",
                        headers=headers)
                with pytest.raises((aiohttp.ClientError, ConnectionError)):
                    async with http.get(f"{plain}/api/config") as response:
                        await response.read()
                ws = await http.ws_connect(f"{server.url.replace('https', 'wss')}"
                                           f"/ws/station/{SESSION}", headers=headers,
                                           **server.client_tls.options())
                await ws.close()
        finally:
            await server.stop()
    run(body)


def test_a_shared_home_makes_one_certificate(tmp_path: Path) -> None:
    """Two processes asking at once (two stations on one home) end with one good pair."""
    import multiprocessing  # noqa: PLC0415

    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pairs = pool.map(demo_certificate, [tmp_path / "tls"] * 4)
    assert len(set(pairs)) == 1
    server_context(ServerCertificate(*pairs[0], local=True))
    assert not [p for p in os.listdir(tmp_path / "tls") if p.endswith(".tmp")]
    shutil.rmtree(tmp_path / "tls")


def test_a_configured_certificate_is_checked_by_the_public_name(store: Store,
                                                                 tmp_path: Path) -> None:
    """Production: the embedded server presents the configured pair; the station's own
    client reaches it on the loopback but checks it as doctors do, by the public URL's
    name, against the system's store plus ``ca_file`` (here the private "CA")."""
    make_session(store)
    cert, key = demo_certificate(tmp_path / "issued")  # stands for an issued certificate
    settings = TlsSettings(cert, key, ca_file=cert)

    async def body() -> None:
        server = await start_embedded(store, tls_settings=settings,
                                      public_url="https://localhost:8443")
        try:
            assert server.certificate == ServerCertificate(cert, key)  # not the local one
            assert not (store.path.parent / "tls").exists()
            tls = server.client_tls
            assert tls is not None and tls.server_hostname == "localhost"
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(
                    f"{server.url}/ws/station/{SESSION}", **tls.options(),
                    headers={"Authorization": f"Bearer {server.station_key}"})
                await ws.close()
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await http.ws_connect(f"{server.url}/ws/station/{SESSION}",
                                          ssl=client_context(), server_hostname="localhost")
        finally:
            await server.stop()
    run(body)


def test_browsers_that_vanish_mid_file_leave_no_error_in_the_log(
        store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A tab closed while a static file is sent (TCP reset) ends that connection
    quietly: asyncio's TLS sendfile fallback used to log an unhandled AttributeError."""
    import socket  # noqa: PLC0415
    import struct  # noqa: PLC0415

    async def body() -> None:
        server = await start_embedded(store, tls_settings=TlsSettings())
        assert server.client_tls is not None
        port = int(server.url.rsplit(":", 1)[1])
        try:
            for _ in range(40):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=server.client_tls.context,
                    server_hostname="localhost")
                writer.write(b"GET /web/console.js HTTP/1.1\r\nHost: localhost\r\n\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n\r\n")  # the file is on its way
                writer.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()  # a reset, not a goodbye
            await asyncio.sleep(0.5)
            async with aiohttp.ClientSession() as http, \
                    http.get(f"{server.url}/web/console.js",
                             **server.client_tls.options()) as response:
                assert response.status == 200 and len(await response.read()) > 1000
        finally:
            await server.stop()

    caplog.set_level(logging.ERROR)
    run(body)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
