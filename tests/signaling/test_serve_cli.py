"""``station serve`` in real subprocesses: stations added, listed, revoked; the server
listens, knows a station added while it runs, and stops on SIGTERM."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import STATION_BIN, run_station


def added_key(home: Path, station_id: str, *extra: str) -> str:
    result = run_station("serve", "stations", "add", station_id, *extra, home=home)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("STATION-KEY ")]
    assert len(lines) == 1, result.stdout
    return lines[0].split(" ", 1)[1]


def test_stations_are_added_listed_and_revoked(tmp_path: Path) -> None:
    key = added_key(tmp_path, "ehpad-tilleuls", "--name", "EHPAD Les Tilleuls")
    assert len(key) >= 43
    db = tmp_path / "station.sqlite3"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT station_id, name, key_sha256, revoked_at"
                            " FROM signaling_stations").fetchall()
    assert rows == [("ehpad-tilleuls", "EHPAD Les Tilleuls",
                     hashlib.sha256(key.encode()).hexdigest(), None)]
    assert key.encode() not in db.read_bytes()  # only the digest is kept

    listed = run_station("serve", "stations", "list", home=tmp_path)
    assert listed.returncode == 0
    assert re.search(r"^ehpad-tilleuls\tEHPAD Les Tilleuls\t\S+\tactive$", listed.stdout, re.M)

    again = run_station("serve", "stations", "add", "ehpad-tilleuls", home=tmp_path)
    assert again.returncode == 2
    assert "existe déjà" in again.stderr
    bad = run_station("serve", "stations", "add", "Not An Id", home=tmp_path)
    assert bad.returncode == 2
    assert "identifiant de station" in bad.stderr

    revoked = run_station("serve", "stations", "revoke", "ehpad-tilleuls", home=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert "révoquée" in revoked.stdout
    assert "révoquée le " in run_station("serve", "stations", "list", home=tmp_path).stdout
    twice = run_station("serve", "stations", "revoke", "ehpad-tilleuls", home=tmp_path)
    assert twice.returncode == 2
    assert "inconnue ou déjà révoquée" in twice.stderr


def _trusting(home: Path) -> ssl.SSLContext:
    """Verifies the server's local certificate (``--self-signed``) and nothing else."""
    return ssl.create_default_context(cafile=str(home / "tls" / "localhost.crt"))


def _status(url: str, key: str, home: Path) -> int:
    request = urllib.request.Request(
        f"{url}/api/invitations", data=b'{"session_id": "s-1", "ttl_s": 60}', method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5, context=_trusting(home)) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "STATION_HOME": str(tmp_path)}
    process = subprocess.Popen([str(STATION_BIN), "serve", "--port", "0", "--self-signed"],
                               env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"https://127\.0\.0\.1:(\d+)", line)
        assert found, line + (process.stderr.read() if process.stderr else "")
        assert "Certificat TLS local auto-signé" in process.stdout.readline()
        assert "Aucune station enregistrée" in process.stdout.readline()
        url = found.group(0)
        try:
            urllib.request.urlopen(f"{url}/join/unknown-token", timeout=5,
                                   context=_trusting(tmp_path))
            raise AssertionError("an unknown link must not be served")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert "Lien inconnu ou révoqué" in error.read().decode()
        # A station added while the server runs is known at once.
        assert _status(url, "ehpad-a.nothing-yet", tmp_path) == 401
        key = added_key(tmp_path, "ehpad-a")
        assert _status(url, f"ehpad-a.{key}", tmp_path) == 201
        assert _status(url, key, tmp_path) == 401  # the key alone is not the credential
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Serveur de signalisation arrêté." in out
