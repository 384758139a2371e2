"""The app's language, chosen on the sign-in screen (Français / English): the whole
window switches at once, core messages included, and no old screen lingers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QLabel

from station import i18n as station_i18n
from tests.ui.first_half import PASSWORD, Station, click, sign_in, station, type_into
from ui import i18n as ui_i18n
from ui.theme import MIN_TARGET_PX

LOCK_MINUTES = 0.005  # 300 ms


@pytest.fixture(autouse=True)
def french_afterwards() -> Iterator[None]:
    """The language is process-wide: every other test expects French."""
    yield
    ui_i18n.set_language("fr")
    station_i18n.set_language("fr")


def texts(st: Station, name: str) -> list[str]:
    return [label.text() for label in st.screen(name).findChildren(QLabel)]


def choose(qtbot: Any, st: Station, language: str) -> None:
    """Tap a language on the sign-in screen."""
    click(qtbot, st.screen("signin").languages.buttons[language])


def test_switching_to_english_and_back_rebuilds_every_screen(qtbot: Any,
                                                             tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signin = st.screen("signin")
        assert signin.title.text() == "Station de téléconsultation"
        buttons = signin.languages.buttons
        assert [b.text() for b in buttons.values()] == ["Français", "English"]
        assert buttons["fr"].isChecked()
        assert all(b.height() >= MIN_TARGET_PX and b.width() >= MIN_TARGET_PX
                   for b in buttons.values())
        old = list(st.window.screens.values())
        choose(qtbot, st, "en")
        assert st.current == "signin"
        signin = st.screen("signin")
        assert signin not in old  # built anew, in English
        assert signin.title.text() == "Teleconsultation station"
        assert signin.submit.text() == "Sign in"
        assert "Login" in texts(st, "signin") and "Password" in texts(st, "signin")
        assert signin.languages.buttons["en"].isChecked()
        assert st.window.windowTitle() == "Teleconsultation station"
        assert st.screen("today").new_session.text() == "New session"
        assert st.screen("lock").title.text() == "Station locked"
        assert st.controller.settings.language == "en"
        # The old screens leave the window and are deleted.
        assert st.window.stack.count() == len(old) == len(st.window.screens)
        qtbot.waitUntil(lambda: not any(shiboken6.isValid(s) for s in old), timeout=2000)
        # The core's messages follow.
        type_into(qtbot, signin.login, "claire.m")
        type_into(qtbot, signin.password, "wrong horse", enter=True)
        assert signin.banner_text.text().startswith("Incorrect username or password.\n"
                                                    "What to do: Check your login")
        # And back to French.
        choose(qtbot, st, "fr")
        signin = st.screen("signin")
        assert signin.title.text() == "Station de téléconsultation"
        assert signin.submit.text() == "Connexion"
        assert "Identifiant" in texts(st, "signin")
        assert st.screen("today").new_session.text() == "Nouvelle séance"
        assert st.controller.settings.language == "fr"
        sign_in(qtbot, st)
        assert st.current == "today"
        assert "Bonjour Claire Martin" in st.screen("today").greeting.text()


def test_after_a_switch_only_the_new_lock_watches_for_idleness(qtbot: Any,
                                                               tmp_path: Path) -> None:
    with station(qtbot, tmp_path, lock_minutes=LOCK_MINUTES) as st:
        old_lock = st.screen("lock")
        choose(qtbot, st, "en")
        assert not old_lock.watcher.timer.isActive()
        sign_in(qtbot, st)
        assert st.current == "today"
        assert st.screen("today").new_session.text() == "New session"
        qtbot.waitUntil(lambda: st.current == "lock", timeout=3000)
        lock = st.screen("lock")
        assert lock is not old_lock and st.window.current is lock
        assert lock.who.text() == "Signed in: Claire Martin (claire.m)"
        type_into(qtbot, lock.secret, PASSWORD, enter=True)
        assert st.current == "today"


def test_choosing_the_language_already_shown_rebuilds_nothing(qtbot: Any,
                                                              tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signin = st.screen("signin")
        choose(qtbot, st, "fr")
        assert st.screen("signin") is signin
        assert st.controller.settings.language == "fr"
