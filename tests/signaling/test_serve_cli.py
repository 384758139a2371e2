"""``station serve`` in a real subprocess: listens, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import STATION_BIN, run_station


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "STATION_HOME": str(tmp_path), "STATION_KEY": "k" * 32}
    process = subprocess.Popen([str(STATION_BIN), "serve", "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, line + (process.stderr.read() if process.stderr else "")
        url = found.group(0)
        try:
            urllib.request.urlopen(f"{url}/join/unknown-token", timeout=5)
            raise AssertionError("an unknown link must not be served")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert "Lien inconnu ou révoqué" in error.read().decode()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Serveur de signalisation arrêté." in out


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = run_station("serve", "--port", "0", home=tmp_path, env={"STATION_KEY": ""})
    assert result.returncode == 2
    assert "clé de station manquante" in result.stderr
