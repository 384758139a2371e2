"""The window: screens in a stack, switched by name, with the app's stylesheet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from station.paths import STORE_FILENAME
from station.store.database import Store
from ui.app import MainWindow, make_application
from ui.controller import AppSettings, StationController
from ui.screens.base import Screen
from ui.theme import MIN_TARGET_PX


class Hello(Screen):
    name = "hello"


class Other(Screen):
    name = "other"


def test_screens_switch_by_name_and_show_errors(qtbot: Any, tmp_path: Path) -> None:
    make_application()
    store = Store.open(tmp_path / STORE_FILENAME)
    controller = StationController(store, AppSettings(home=tmp_path))
    hello, other = Hello(controller, "Bonjour"), Other(controller, "Autre")
    window = MainWindow(controller, [hello, other])
    qtbot.addWidget(window)
    window.show()
    assert window.show_screen("other") is other and window.current is other
    hello.navigate.emit("hello")
    assert window.current is hello
    hello.show_error("Le lien n’a pas pu être créé.", "Vérifiez le réseau puis réessayez.")
    assert hello.banner.isVisible()
    assert "Que faire" in hello.banner_text.text()
    hello.entered()
    assert not hello.banner.isVisible()
    store.close()


def test_buttons_are_touch_sized(qtbot: Any) -> None:
    from PySide6.QtWidgets import QPushButton  # noqa: PLC0415

    make_application()
    button = QPushButton("OK")
    qtbot.addWidget(button)
    button.show()
    assert button.sizeHint().height() >= MIN_TARGET_PX or button.height() >= MIN_TARGET_PX


def test_the_app_starts_on_sign_in_then_builds_the_heavy_screens(tmp_path: Path) -> None:
    """``station-app`` shows sign-in first; the examination and report screens (aiortc,
    reportlab) are added on the loop's first turn, while the nurse types."""
    env = {**os.environ, "STATION_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    for until in ("signin", "all"):
        done = subprocess.run([str(Path(sys.executable).parent / "station-app"),
                               "--exit-when-ready", until], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "READY", done.stdout
    assert (tmp_path / STORE_FILENAME).exists()
