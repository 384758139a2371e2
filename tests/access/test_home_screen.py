"""The app: a technician who signs in sees that clinical data is not for their role
(no session list, no « New session »), can sign out; a nurse still sees Today."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported: no display here

from PySide6.QtCore import Qt

from station.access import Role
from station.store.accounts import AccountDirectory
from station.store.residents import ResidentRegistry
from tests.conftest import marie
from tests.ui.first_half import PASSWORD, close_station, fresh_store, type_into
from ui.app import MainWindow, make_application
from ui.controller import AppSettings, StationController
from ui.screens.home import CLINICAL_PARTS, HomeScreen
from ui.screens.lock import LockScreen
from ui.screens.signin import SignInScreen


def sign_in_as(qtbot: Any, window: MainWindow, login: str) -> HomeScreen:
    signin = window.screens["signin"]
    assert isinstance(signin, SignInScreen)
    signin.login.clear()
    type_into(qtbot, signin.login, login)
    type_into(qtbot, signin.password, PASSWORD, enter=True)
    home = window.screens["today"]
    assert isinstance(home, HomeScreen) and window.current is home
    return home


def test_a_technician_sees_no_clinical_data_and_a_nurse_does(qtbot: Any,
                                                              tmp_path: Path) -> None:
    make_application()
    store = fresh_store(tmp_path / "station.sqlite3")
    AccountDirectory(store).create("paul.t", "Paul Technicien", PASSWORD, "test",
                                   Role.TECHNICIAN)
    ResidentRegistry(store).create(marie(), "claire.m")
    controller = StationController(store, AppSettings(home=tmp_path))
    window = MainWindow(controller, [SignInScreen(controller), LockScreen(controller),
                                     HomeScreen(controller)])
    qtbot.addWidget(window)
    window.show()
    window.show_screen("signin")
    try:
        home = sign_in_as(qtbot, window, "paul.t")
        assert not controller.may_read_clinical()
        assert home.no_access.isVisible()
        assert "ne sont pas accessibles au rôle technicien" in home.notice.text()
        assert home.greeting.text() == "Paul Technicien"
        for name in CLINICAL_PARTS:
            assert not home.findChild(object, name).isVisible(), name
        assert not home.banner.isVisible()
        qtbot.mouseClick(home.sign_out, Qt.MouseButton.LeftButton)
        assert window.current.name == "signin" and controller.nurse is None

        home = sign_in_as(qtbot, window, "claire.m")
        assert controller.may_read_clinical()
        assert not home.no_access.isVisible()
        for name in CLINICAL_PARTS:
            assert home.findChild(object, name).isVisible(), name
        assert "Bonjour Claire Martin" in home.greeting.text()
    finally:
        close_station(window, store)
