"""Screenshots of the first half of the nurse's flow, offscreen, at 1280x800:
``python -m tests.ui.screenshots [FOLDER]`` (default ``docs/screenshots``).

Sign-in, lock, today, resident (search, creation, duplicates) and consent,
over a throw-away store with a few residents, sessions and a télé-expertise
request waiting for its answer.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from station.consent import Act, ConsentCapacity, ConsentDecision
from station.expertise import Expert, Expertise
from station.session import SessionEngine
from station.store.database import Store
from tests.conftest import QUALIFIED_INS, marie
from tests.ui.first_half import PASSWORD, ExamStandIn
from ui.app import MainWindow, make_application
from ui.controller import AppSettings, StationController
from ui.screens.consent import ConsentScreen
from ui.screens.lock import LockScreen
from ui.screens.resident import ResidentScreen
from ui.screens.signin import SignInScreen
from ui.screens.today import TodayScreen

ROOT = Path(__file__).resolve().parents[2]
SIZE = (1280, 800)


def _populate(controller: StationController) -> None:
    store, actor = controller.store, "admin"
    controller.accounts.create("claire.m", "Claire Martin", PASSWORD, actor)
    controller.pins.set_pin("claire.m", "2580", actor)
    registry = controller.residents
    dupont = registry.create(marie(), actor)
    registry.create(marie(birth_name="Lefèvre", birth_first_names="Jeanne Louise",
                          used_name=None, ins=None, status="provisoire", document=None,
                          flags=["homonyme"]), actor)
    durand = registry.create(marie(birth_name="Durand", birth_first_names="Paul Henri",
                                   sex="M", birth_date="1936-09-02", used_name=None, ins=None,
                                   status="validee", document="passeport"), actor)
    nurse = controller.accounts.get("claire.m")
    assert nurse is not None
    planned = SessionEngine.start(store, nurse)
    planned.identify(durand)
    refused = SessionEngine.start(store, nurse)
    refused.identify(dupont)
    refused.record_consent(ConsentDecision.REFUSED, ConsentCapacity.RESIDENT)
    te = SessionEngine.start(store, nurse, Act.TELE_EXPERTISE)
    te.identify(dupont)
    te.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    te.finish_examination()
    expertise = Expertise(store)
    expert = Expert.checked("Dr Alice Bernard", "10001234565", "Dermatologie",
                            "alice.bernard@example.org")
    request = expertise.create(te.id, "Plaie du talon gauche : avis sur la cicatrisation et "
                               "le pansement ?", expert, [], [], [])
    expertise.send(request.id, "https://station.example.org")


def save_screenshots(folder: Path) -> list[Path]:
    """Drive the screens like a nurse and save each one; returns the files."""
    app = make_application(sys.argv[:1])
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as home:
        store = Store.open(Path(home) / "station.sqlite3")
        controller = StationController(store, AppSettings(home=Path(home)))
        _populate(controller)
        signin, lock = SignInScreen(controller), LockScreen(controller)
        today, resident = TodayScreen(controller), ResidentScreen(controller)
        consent = ConsentScreen(controller)
        window = MainWindow(controller, [signin, lock, today, resident, consent,
                                         ExamStandIn(controller)])
        window.resize(*SIZE)
        window.show()

        def shot(name: str) -> None:
            for _ in range(3):
                app.processEvents()
            path = folder / f"app-{name}.png"
            window.grab().save(str(path))
            saved.append(path)

        window.show_screen("signin")
        signin.login.setText("claire.m")
        shot("signin")
        signin.password.setText(PASSWORD)
        signin.sign_in()
        lock.lock()
        shot("lock")
        lock.secret.setText("2580")
        lock.unlock()
        window.show_screen("today")
        shot("today")
        today.start_new()
        resident.born.setText("12/04/1932")
        resident.search()
        shot("resident-search")
        resident.open_form()
        resident.f_birth_name.setText("Dupont")
        resident.f_first_names.setText("Marie")
        resident.f_sex.set_value("F")
        resident.f_birth_place.setText("75056")
        resident.f_status.set_value("qualifiee")
        resident.f_document.setCurrentIndex(1)
        resident.f_ins.setText(QUALIFIED_INS)
        shot("resident-create")
        resident.f_status.set_value("provisoire")
        resident.check_and_create()
        shot("resident-duplicates")
        first = resident.duplicate_rows.itemAt(0)
        assert first is not None
        chosen = getattr(first.widget(), "resident", None)
        assert chosen is not None
        resident.choose(chosen)
        shot("consent")
        window.close()
        lock.watcher.stop()
        store.close()
    return saved


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    for path in save_screenshots(folder):
        print(path)
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
