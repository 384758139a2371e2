"""The local certificate of a signaling server nobody gave one: demo, tests, a first try.

Made once with :mod:`cryptography` (ECDSA P-256, self-signed, valid for
localhost, 127.0.0.1 and ::1) and kept in a directory of the station's data
(``<home>/tls``): the private key readable by its owner only. It is made
again only when missing or about to expire. Browsers do not trust it, so a
doctor elsewhere would see a warning: production configures its own
certificate (:mod:`station.signaling.tls`). The station's own client trusts
exactly this certificate, never "any certificate".
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME = "localhost.crt"
KEY_NAME = "localhost.key"
VALIDITY = timedelta(days=397)  # the longest browsers accept for a server certificate
RENEW_BEFORE = timedelta(days=30)  # made again when it has less left than this
DNS_NAMES = ("localhost",)
IP_ADDRESSES = ("127.0.0.1", "::1")


def demo_certificate(directory: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """``(certificate, key)`` PEM files in ``directory``, made now if missing or
    expiring within :data:`RENEW_BEFORE`. Safe when several processes ask at once."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    with _locked(directory / ".lock"):
        if not _still_good(cert_path, key_path, now):
            key = ec.generate_private_key(ec.SECP256R1())
            _write(key_path, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), 0o600)
            _write(cert_path, _certificate(key, now).public_bytes(serialization.Encoding.PEM),
                   0o644)
    return cert_path, key_path


def _still_good(cert_path: Path, key_path: Path, now: datetime) -> bool:
    """Both files there, the certificate parseable and valid past the renewal margin.
    A damaged file is ours and holds nothing else: it is simply made again."""
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        return False
    return (key.public_key() == cert.public_key()
            and cert.not_valid_after_utc - RENEW_BEFORE > now)


def _certificate(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                         "Station de téléconsultation (démo)")])
    public = key.public_key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in IP_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a clock a little behind still accepts
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write whole or not at all (a reader never sees half a key)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time makes the pair (two stations sharing a home, tests)."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
