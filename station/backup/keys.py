"""The EHPAD's secret: a passphrase stretched by scrypt, or a random key file.

The secret never encrypts data directly. Each archive has a fresh random
salt; HKDF-SHA256 turns secret and salt into that archive's AES-256 key and a
key-check value kept in the header, so a wrong secret is told apart from a
tampered archive before anything is decrypted. All primitives come from
``cryptography`` (OpenSSL); nothing here is home-made.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from station.backup.errors import BackupError, WrongKeyError

KEY_FILE_TAG = "station-backup-key-v1"
MIN_PASSPHRASE_LENGTH = 12
_KEY_BYTES = 32
# Bounds for parameters read from an archive header: generous for future
# hardware, but an altered header cannot make restore allocate gigabytes.
_MAX_SCRYPT_MEMORY = 1 << 30


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: n=2^17, r=8, p=1 is 128 MiB and about half a second."""

    n: int = 1 << 17
    r: int = 8
    p: int = 1

    def check(self) -> None:
        """Refuse parameters that are not a power of two or would use too much memory."""
        sane = (self.n >= 1 << 10 and self.n & (self.n - 1) == 0 and 1 <= self.r <= 32
                and 1 <= self.p <= 16 and 128 * self.n * self.r <= _MAX_SCRYPT_MEMORY)
        if not sane:
            raise BackupError("backup.kdf_unsupported", n=self.n, r=self.r, p=self.p)


@dataclass(frozen=True, slots=True)
class BackupKey:
    """An archive's working keys: AES-256-GCM key and the key-check value."""

    cipher_key: bytes
    check: bytes


@dataclass(frozen=True, slots=True)
class BackupSecret:
    """What the EHPAD holds: a passphrase or the bytes of a key file."""

    passphrase: str | None = None
    key_bytes: bytes | None = None
    scrypt: ScryptParams = ScryptParams()

    @classmethod
    def from_key_file(cls, path: Path | str) -> BackupSecret:
        """Read a key file written by :func:`generate_key_file`."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BackupError("backup.key_file_unreadable", path=str(path),
                              reason=str(exc)) from exc
        for line in text.splitlines():
            tag, _, value = line.strip().partition(" ")
            if tag == KEY_FILE_TAG:
                try:
                    key = base64.b64decode(value.strip(), validate=True)
                except ValueError:
                    break
                if len(key) == _KEY_BYTES:
                    return cls(key_bytes=key)
        raise BackupError("backup.key_file_invalid", path=str(path))

    def header_spec(self) -> dict[str, object]:
        """A fresh key description for a new archive's header (new random salt)."""
        if self.key_bytes is not None:
            return {"kind": "key-file", "fingerprint": fingerprint(self.key_bytes)}
        if self.passphrase is None:
            raise BackupError("backup.no_secret")
        if len(self.passphrase) < MIN_PASSPHRASE_LENGTH:
            raise BackupError("backup.passphrase_short", minimum=MIN_PASSPHRASE_LENGTH)
        self.scrypt.check()
        return {"kind": "scrypt", "n": self.scrypt.n, "r": self.scrypt.r, "p": self.scrypt.p,
                "salt": _b64(os.urandom(16))}

    def master(self, spec: dict[str, object]) -> bytes:
        """The 32-byte master secret for a header's key description."""
        kind = spec.get("kind")
        if kind == "key-file":
            if self.key_bytes is None:
                raise WrongKeyError("backup.needs_key_file", fingerprint=spec.get("fingerprint"))
            if fingerprint(self.key_bytes) != spec.get("fingerprint"):
                raise WrongKeyError("backup.wrong_key_file", expected=spec.get("fingerprint"),
                                    given=fingerprint(self.key_bytes))
            return self.key_bytes
        if kind == "scrypt":
            if self.passphrase is None:
                raise WrongKeyError("backup.needs_passphrase")
            params = ScryptParams(_int(spec, "n"), _int(spec, "r"), _int(spec, "p"))
            params.check()
            salt = _unb64(spec.get("salt"))
            kdf = Scrypt(salt=salt, length=_KEY_BYTES, n=params.n, r=params.r, p=params.p)
            return kdf.derive(self.passphrase.encode("utf-8"))
        raise BackupError("backup.kdf_unsupported", n=kind, r="-", p="-")


def derive(master: bytes, file_salt: bytes) -> BackupKey:
    """Split the master secret into this archive's cipher key and key-check value."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=file_salt,
               info=b"station-backup v1").derive(master)
    return BackupKey(cipher_key=okm[:32], check=okm[32:48])


def fingerprint(key: bytes) -> str:
    """A short public name for a key file, printed on it and stored in headers."""
    return hashlib.sha256(b"station-backup-key-fingerprint\0" + key).hexdigest()[:16]


def generate_key_file(path: Path | str) -> str:
    """Write a new random key file (mode 0600, never overwriting); returns its fingerprint."""
    key = os.urandom(_KEY_BYTES)
    text = (
        "# Clé de sauvegarde de la station de téléconsultation (EHPAD).\n"
        "# Conservez-la hors de la station : sans elle, les sauvegardes sont illisibles.\n"
        f"# Empreinte : {fingerprint(key)}\n"
        f"{KEY_FILE_TAG} {_b64(key)}\n"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError("backup.key_file_exists", path=str(path)) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return fingerprint(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as exc:
        raise BackupError("backup.header_invalid", reason="base64") from exc


def _int(spec: dict[str, object], name: str) -> int:
    value = spec.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BackupError("backup.header_invalid", reason=name)
    return value
