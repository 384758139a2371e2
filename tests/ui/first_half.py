"""The first half of the nurse's flow in a real window: sign-in, lock, today,
resident, consent, over a real SQLite store with real accounts (argon2).

The examination screen is another module's; a stand-in named ``exam`` takes
its place so these tests check only that consent leads there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

from station.paths import STORE_FILENAME
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident
from tests.conftest import marie
from ui.app import MainWindow, make_application
from ui.controller import AppSettings, StationController
from ui.screens.base import Screen
from ui.screens.consent import ConsentScreen
from ui.screens.lock import LockScreen
from ui.screens.resident import ResidentScreen
from ui.screens.signin import SignInScreen
from ui.screens.today import TodayScreen

PASSWORD = "correct horse"
_TEMPLATE: dict[str, bytes] = {}


def fresh_store(path: Path) -> Store:
    """A new store holding the nurse's account. Argon2 is slow on purpose, so the
    account is made once per test run and the file copied for each test."""
    if "store" not in _TEMPLATE:
        template = path.parent / "template.sqlite3"
        with Store.open(template) as store:
            AccountDirectory(store).create("claire.m", "Claire Martin", PASSWORD, "admin")
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _TEMPLATE["store"] = template.read_bytes()
        template.unlink()
    path.write_bytes(_TEMPLATE["store"])
    return Store.open(path)


class ExamStandIn(Screen):
    """Where consent given leads (the real screen is built elsewhere)."""

    name = "exam"


@dataclass
class Station:
    """The window, its controller and its screens by name."""

    window: MainWindow
    controller: StationController

    def screen(self, name: str) -> Any:
        return self.window.screens[name]

    @property
    def current(self) -> str:
        return self.window.current.name


@contextmanager
def station(qtbot: Any, tmp_path: Path, lock_minutes: float = 5.0,
            size: tuple[int, int] = (1280, 800)) -> Iterator[Station]:
    """A window over a fresh store with the nurse Claire Martin (claire.m)."""
    make_application()
    store = fresh_store(tmp_path / STORE_FILENAME)
    controller = StationController(store, AppSettings(home=tmp_path, lock_minutes=lock_minutes))
    screens = [SignInScreen(controller), LockScreen(controller), TodayScreen(controller),
               ResidentScreen(controller), ConsentScreen(controller), ExamStandIn(controller)]
    window = MainWindow(controller, screens)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.show_screen("signin")
    try:
        yield Station(window, controller)
    finally:
        close_station(window, store)


def close_station(window: MainWindow, store: Store) -> None:
    """Stop the lock's idle watcher (an application-wide filter: it would outlive
    the window), leave the session and close the store."""
    lock = window.screens["lock"]
    assert isinstance(lock, LockScreen)
    lock.watcher.stop()
    app = QApplication.instance()
    if app is not None:
        app.removeEventFilter(lock.watcher)
    window.controller.end_session()
    store.close()


def click(qtbot: Any, button: QWidget) -> None:
    """A tap on a visible, enabled button."""
    assert isinstance(button, QAbstractButton), button
    qtbot.waitUntil(button.isVisible, timeout=2000)  # rows just added show on the next loop
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_into(qtbot: Any, widget: QWidget, text: str, enter: bool = False) -> None:
    """Focus a field and type, like a nurse would."""
    widget.setFocus()
    qtbot.keyClicks(widget, text)
    if enter:
        qtbot.keyClick(widget, Qt.Key.Key_Return)


def sign_in(qtbot: Any, st: Station, password: str = PASSWORD) -> None:
    """Type the login and password, Enter to submit."""
    signin = st.screen("signin")
    signin.login.clear()
    type_into(qtbot, signin.login, "claire.m")
    type_into(qtbot, signin.password, password, enter=True)


def signed_in(st: Station) -> None:
    """Claire Martin signed in (the sign-in screen's own tests type the password)."""
    st.controller.nurse = st.controller.accounts.get("claire.m")
    st.window.show_screen("today")


def add_resident(st: Station, **overrides: object) -> Resident:
    """A resident stored directly (as if created earlier)."""
    return st.controller.residents.create(marie(**overrides), "claire.m")
