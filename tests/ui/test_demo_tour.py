"""The README's demo with no display: ``station-app --demo`` (what ``./scripts/demo``
runs) drives the whole nurse flow through the real GUI offscreen, with headless
Chromium as the doctor, and leaves the screenshots and the final report in the folder
it prints as ``OUTPUT <folder>``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.demo_doctor import chromium_available

STATION_APP = Path(sys.executable).parent / "station-app"
SCREENS = ("connexion", "aujourdhui", "verrouillage", "residente", "consentement", "examen",
           "console-medecin", "compte-rendu-brouillon", "compte-rendu-envoye")


@pytest.mark.skipif(not chromium_available(), reason="Debian chromium not installed")
def test_the_demo_runs_the_whole_flow_offscreen_and_says_where_its_output_is(
        tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(STATION_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="")
    done = subprocess.run([str(STATION_APP), "--demo"], env=env, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outputs = [line.removeprefix("OUTPUT ") for line in done.stdout.splitlines()
               if line.startswith("OUTPUT ")]
    assert len(outputs) == 1, done.stdout
    folder = Path(outputs[0])
    assert folder.is_relative_to(tmp_path / "home" / "demo")
    shots = sorted(folder.glob("*.png"))
    assert [shot.stem.split("-", 1)[1] for shot in shots] == list(SCREENS)
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    (pdf,) = folder.glob("compte-rendu-v1.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    (fhir,) = folder.glob("compte-rendu-v1.fhir.json")
    bundle = json.loads(fhir.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    assert "Taps from sign-in" in done.stdout or "Appuis" in done.stdout
