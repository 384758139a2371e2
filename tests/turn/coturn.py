"""A real coturn (``turnserver``, Debian package ``coturn``) for the tests.

:class:`Coturn` writes a configuration in the shape of
``resources/deploy/turnserver.conf`` (use-auth-secret, a realm, TLS on 5349,
no CLI, a log file) for one address, starts ``turnserver`` inside a network
namespace and stops it, even when the test fails. :func:`make_certificates`
makes a private CA and the relay's certificate for that address (an IP
subject alternative name), since ``turns:`` clients check it.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TURNSERVER = shutil.which("turnserver")
PLAIN_PORT = 3478
TLS_PORT = 5349
START_TIMEOUT_S = 30.0
REALM = "relais.test"


@dataclass(frozen=True)
class Certificates:
    """A private CA and the relay's certificate and key signed by it (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path, address: str) -> Certificates:
    """A CA, and a certificate for ``address`` (IP SAN) that CA signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Relais test CA"))
          .issuer_name(_name("Relais test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(address))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = Certificates(folder / "ca.pem", folder / "relay.pem", folder / "relay.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    paths.key.chmod(0o600)
    return paths


class Coturn:
    """``turnserver`` on ``address`` inside a namespace (``prefix`` runs a program there)."""

    def __init__(self, folder: Path, prefix: Sequence[str], address: str, secret: str,
                 certificates: Certificates, template: str | None = None) -> None:
        self.folder = folder
        self.prefix = list(prefix)
        self.address = address
        self.secret = secret
        self.certificates = certificates
        self.log = folder / "turnserver.log"
        self.config = folder / "turnserver.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self.template = template

    @property
    def urls(self) -> dict[str, str]:
        """The relay's URL by kind: ``udp``, ``tcp``, ``tls``."""
        return {"udp": f"turn:{self.address}:{PLAIN_PORT}?transport=udp",
                "tcp": f"turn:{self.address}:{PLAIN_PORT}?transport=tcp",
                "tls": f"turns:{self.address}:{TLS_PORT}?transport=tcp"}

    def _write_config(self) -> None:
        if self.template is not None:
            self.config.write_text(self._from_template(self.template), encoding="utf-8")
            return
        self.config.write_text("\n".join([
            f"listening-ip={self.address}", f"relay-ip={self.address}",
            f"listening-port={PLAIN_PORT}", f"tls-listening-port={TLS_PORT}",
            "min-port=49152", "max-port=49999",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={REALM}",
            f"cert={self.certificates.cert}", f"pkey={self.certificates.key}",
            "fingerprint", "no-cli", "no-dtls", "no-multicast-peers",
            f"userdb={self.folder / 'turndb.sqlite'}",
            f"pidfile={self.folder / 'turnserver.pid'}",
            f"log-file={self.log}", "simple-log", "verbose", "",
        ]), encoding="utf-8")

    def _from_template(self, template: str) -> str:
        """``template`` (resources/deploy/turnserver.conf) with this test's address,
        secret, certificate, ports and files; every other line kept as it is."""
        local = {"static-auth-secret": self.secret, "cert": str(self.certificates.cert),
                 "pkey": str(self.certificates.key), "log-file": str(self.log),
                 "pidfile": str(self.folder / "turnserver.pid"),
                 "listening-port": str(PLAIN_PORT), "tls-listening-port": str(TLS_PORT)}
        lines = []
        for line in template.splitlines():
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key}={local[key]}" if key in local and "=" in line else line)
        lines += [f"listening-ip={self.address}", f"relay-ip={self.address}",
                  f"userdb={self.folder / 'turndb.sqlite'}", "verbose"]
        return "\n".join(lines) + "\n"

    def __enter__(self) -> Coturn:
        assert TURNSERVER is not None, "coturn is not installed (scripts/apt-packages.txt)"
        self._write_config()
        self.process = subprocess.Popen([*self.prefix, TURNSERVER, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _wait_listening(self) -> None:
        """Poll the namespace's sockets until coturn listens on both ports."""
        wanted = {f"{self.address}:{PLAIN_PORT}", f"{self.address}:{TLS_PORT}"}
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"turnserver exited ({self.process.returncode}):\n"
                                   + self.log_text()[-3000:])
            listening = subprocess.run([*self.prefix, "ss", "-Hltn"], capture_output=True,
                                       text=True, check=False).stdout
            if all(address in listening for address in wanted):
                return
            time.sleep(0.2)
        raise RuntimeError("turnserver did not listen in time:\n" + self.log_text()[-3000:])

    def stop(self) -> None:
        """Stop turnserver (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_text(self) -> str:
        """Everything coturn logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
