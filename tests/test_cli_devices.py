"""``station devices ...`` in real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_station


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_decode_prints_one_json_object_per_measurement(home: Path) -> None:
    result = run_station("devices", "decode", "ble-bps",
                         "1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00", home=home)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["kind"], o["value"], o["unit"]) for o in objects] == [
        ("systolic", 138.0, "mm[Hg]"), ("diastolic", 88.0, "mm[Hg]"),
        ("mean_arterial_pressure", 120.0, "mm[Hg]"), ("pulse_rate", 60.0, "/min")]
    assert all("quality" in o for o in objects)
    assert "motion" in objects[0]["quality"]  # status 0x27: body movement among others


def test_decode_serial_chunks_go_through_the_framer(home: Path) -> None:
    result = run_station("devices", "decode", "cms50d-v46", "01 E0 85 D5", "9A BD E3 FF FF",
                         home=home)
    assert result.returncode == 0, result.stderr
    values = {json.loads(line)["kind"]: json.loads(line)["value"]
              for line in result.stdout.splitlines()}
    assert values["spo2"] == 99.0 and values["pulse_rate"] == 61.0


def test_malformed_bytes_name_the_offset(home: Path) -> None:
    result = run_station("devices", "decode", "ble-hts", "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B",
                         home=home)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == ("Octets invalides (ble-hts) à l'octet 12 : truncated:"
                                     " temperature type needs 1 byte, 0 left")
    not_hex = run_station("devices", "decode", "ble-hts", "zz", home=home)
    assert not_hex.returncode == 2 and "n'est pas de l'hexadécimal" in not_hex.stderr


def test_scan_without_bluetooth_says_so_in_one_sentence(home: Path) -> None:
    result = run_station("devices", "scan", "--seconds", "1", home=home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Bluetooth indisponible : No Bluetooth here")


def test_scan_on_the_virtual_link_finds_the_simulators(home: Path) -> None:
    result = run_station("devices", "scan", "--virtual", "--seconds", "1", home=home)
    assert result.returncode == 0, result.stderr
    assert "4 appareil(s) Bluetooth trouvé(s)" in result.stdout
    assert "00001822" in result.stdout  # the pulse oximeter service is advertised


def test_test_command_prints_readings(home: Path) -> None:
    result = run_station("devices", "test", "sim://oximeter-serial?protocol=cms50d",
                         "--seconds", "3", home=home)
    assert result.returncode == 0, result.stderr
    assert "connecté" in result.stdout
    assert "SpO2 : " in result.stdout
    assert "onde : " in result.stdout


def test_list_shows_the_demo_devices_and_their_state(home: Path) -> None:
    result = run_station("devices", "list", "--seconds", "20", home=home)
    assert result.returncode == 0, result.stderr
    assert "liste de démonstration" in result.stdout
    assert result.stdout.count("connecté") == 9


def test_a_configured_list_is_checked(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "devices.toml").write_text(
        '[[device]]\nname = "Oxymètre"\nurl = "ble://AA:BB:CC:DD:EE:FF?profile=xyz"\n')
    result = run_station("devices", "list", home=home)
    assert result.returncode == 2
    assert "appareil n°1" in result.stderr and "profile=xyz" in result.stderr
