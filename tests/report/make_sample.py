"""Regenerate docs/samples/compte-rendu-exemple.{pdf,fhir.json} (and a PNG if pdftoppm exists).

Run: ``.venv/bin/python -m tests.report.make_sample``. Uses the same scripted
session as the tests (a demo NIR, so the sample carries no real INS), with a
photo from the simulated dermatoscope.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from devices.camera.simulator import scene_for
from station.ins import OID_DEMO_NIR
from station.report.service import ReportService
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.conftest import FakeClock, marie
from tests.report.conftest import run_session

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs" / "samples"


def main() -> None:
    """Build a store, validate its report, write the sample files."""
    with tempfile.TemporaryDirectory() as folder, \
            Store.open(Path(folder) / "station.sqlite3") as store:
        nurse = AccountDirectory(store).create("claire.m", "Claire Martin (IDE)", "pw-123456",
                                               "sample")
        resident = ResidentRegistry(store).create(marie(ins_oid=OID_DEMO_NIR), "claire.m")
        clock = FakeClock()
        skin = scene_for("dermatoscope").paint(540, 960, np.random.default_rng(7))
        engine = run_session(store, nurse, resident, clock,
                             image=np.clip(skin, 0, 255).astype(np.uint8))
        service = ReportService(store, station_name="EHPAD Les Tilleuls — chariot de"
                                " téléconsultation", clock=clock)
        version = service.validate(engine.id)
        pdf, fhir = service.render_files(version, folder)
        SAMPLES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pdf, SAMPLES / "compte-rendu-exemple.pdf")
        shutil.copyfile(fhir, SAMPLES / "compte-rendu-exemple.fhir.json")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "1", "-singlefile",
                        str(SAMPLES / "compte-rendu-exemple.pdf"),
                        str(SAMPLES / "compte-rendu-exemple-page1")], check=True)
    print(f"samples written to {SAMPLES}")


if __name__ == "__main__":
    main()
