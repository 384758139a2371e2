"""The station's ``[signaling]`` settings: station.toml, the key from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.signaling.client_api import (
    SignalingConfig,
    SignalingConfigError,
    load_signaling_config,
    signaling_config,
)
from tests.conftest import run_station


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_section_is_read_and_the_environment_key_wins(tmp_path: Path) -> None:
    path = write(tmp_path, '[signaling]\nurl = "https://signal.example.fr/"\n'
                           'station_id = "ehpad-a"\nkey = "from-file"\n')
    assert load_signaling_config(path, {}) == SignalingConfig(
        "https://signal.example.fr", "ehpad-a", "from-file")
    config = load_signaling_config(path, {"STATION_SIGNALING_KEY": "from-env"})
    assert config is not None
    assert config.headers == {"Authorization": "Bearer ehpad-a.from-env"}
    # The line `stations add` prints may be pasted whole.
    assert SignalingConfig("http://x", "ehpad-a", "ehpad-a.k").credential == "ehpad-a.k"


def test_no_section_means_the_embedded_server(tmp_path: Path) -> None:
    assert load_signaling_config(tmp_path / "absent.toml", {}) is None
    assert load_signaling_config(write(tmp_path, "[outbox]\nsender = 'a@b.fr'\n"), {}) is None


def test_missing_or_malformed_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SignalingConfigError, match="« key » manquant"):
        load_signaling_config(write(tmp_path, '[signaling]\nurl = "https://x"\n'
                                              'station_id = "a"\n'), {})
    with pytest.raises(SignalingConfigError, match="illisible"):
        load_signaling_config(write(tmp_path, "[signaling\n"), {})
    with pytest.raises(SignalingConfigError, match="https:// attendu"):
        signaling_config("ftp://x", "a", "k", {})
    # Signaling always goes over TLS: a plain-HTTP server is refused, not used.
    with pytest.raises(SignalingConfigError, match="https:// attendu"):
        signaling_config("http://signal.example.fr", "a", "k", {})


def test_the_demo_refuses_a_remote_server_without_a_key(tmp_path: Path) -> None:
    result = run_station("demo", "--wait-for-doctor", "--signaling-url", "https://127.0.0.1:9",
                         "--station-id", "ehpad-a", home=tmp_path,
                         env={"STATION_SIGNALING_KEY": ""})
    assert result.returncode == 2
    assert "« key » manquant" in result.stderr
