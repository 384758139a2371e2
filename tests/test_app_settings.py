"""``[app]`` in station.toml: the idle lock's delay and the start language, checked by
the core; a bad value is refused naming the key, and the app says so and stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.app_settings import AppPreferences, AppSettingsError, load_app_preferences


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_or_a_section(tmp_path: Path) -> None:
    assert load_app_preferences(tmp_path / "absent.toml") == AppPreferences(5.0, "fr")
    assert load_app_preferences(write(tmp_path, "[outbox]\ndrop_folder = '/tmp'\n")) == \
        AppPreferences(5.0, "fr")


def test_the_lock_delay_and_the_language_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "[app]\nlock_minutes = 2\nlanguage = 'en'\n")
    assert load_app_preferences(path) == AppPreferences(2.0, "en")


@pytest.mark.parametrize(("text", "words"), [
    ("[app]\nlock_minutes = 0.1\n", "« lock_minutes » de la section [app] doit être un "
                                    "nombre de minutes entre 1 et 60"),
    ("[app]\nlock_minutes = 'cinq'\n", "entre 1 et 60"),
    ("[app]\nlock_minutes = true\n", "entre 1 et 60"),
    ("[app]\nlanguage = 'de'\n", "valeur invalide pour « language » dans la section [app]"),
    ("[app]\nlock_minute = 5\n", "clé inconnue « lock_minute » dans la section [app]"),
    ("app = 3\n", "valeur invalide pour « app »"),
    ("[app\n", "illisible"),
])
def test_a_bad_value_is_refused_naming_the_key(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(AppSettingsError) as caught:
        load_app_preferences(write(tmp_path, text))
    assert words in caught.value.message
    assert str(tmp_path) in caught.value.message


def test_the_app_stops_with_the_message_on_a_bad_setting(tmp_path: Path) -> None:
    write(tmp_path, "[app]\nlock_minutes = 600\n")
    env = {**os.environ, "STATION_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([str(Path(sys.executable).parent / "station-app"),
                           "--exit-when-ready", "signin"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "lock_minutes" in done.stderr and "entre 1 et 60" in done.stderr
