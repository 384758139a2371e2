"""Sign-in (errors from the core, lockout) and the idle lock (PIN, password)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from station.store.pins import MAX_FAILURES
from tests.ui.first_half import PASSWORD, click, sign_in, station, type_into
from ui.app import build_screens
from ui.controller import AppSettings, StationController

LOCK_MINUTES = 0.005  # 300 ms


def test_wrong_password_says_so_and_what_to_do(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signin = st.screen("signin")
        type_into(qtbot, signin.login, "claire.m")
        type_into(qtbot, signin.password, "wrong horse")
        click(qtbot, signin.submit)
        assert st.current == "signin"
        assert signin.banner.isVisible()
        text = signin.banner_text.text()
        assert text.startswith("Identifiant ou mot de passe incorrect.")
        assert "Que faire : Vérifiez votre identifiant" in text
        assert signin.password.text() == "" and signin.password.hasFocus()
        # Enter in the password field signs in; the error goes away.
        type_into(qtbot, signin.password, PASSWORD, enter=True)
        assert st.current == "today"
        assert st.controller.nurse is not None
        assert "Bonjour Claire Martin" in st.screen("today").greeting.text()


def test_repeated_failures_lock_the_login_for_a_while(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signin = st.screen("signin")
        type_into(qtbot, signin.login, "claire.m")
        for _ in range(5):
            type_into(qtbot, signin.password, "guess work", enter=True)
        type_into(qtbot, signin.password, PASSWORD, enter=True)  # even the right one waits
        assert st.current == "signin"
        text = signin.banner_text.text()
        assert text.startswith("Trop d'échecs de connexion : réessayez dans ")
        assert " s." in text and "Que faire : Patientez" in text


def test_empty_fields_are_named(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signin = st.screen("signin")
        click(qtbot, signin.submit)
        assert signin.banner_text.text() == "Saisissez votre identifiant et votre mot de passe."
        assert signin.login.hasFocus()


def test_idle_lock_covers_the_screen_and_unlocks_by_pin_then_password(
        qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path, lock_minutes=LOCK_MINUTES) as st:
        st.controller.pins.set_pin("claire.m", "2580", "admin")
        lock = st.screen("lock")
        assert st.current == "signin"
        qtbot.wait(int(LOCK_MINUTES * 60_000 * 2))
        assert st.current == "signin"  # nobody signed in: nothing to lock
        sign_in(qtbot, st)
        click(qtbot, st.screen("today").new_session)
        resident = st.screen("resident")
        type_into(qtbot, resident.born, "12031931")
        qtbot.waitUntil(lambda: st.current == "lock", timeout=3000)
        assert lock.who.text() == "Connecté·e : Claire Martin (claire.m)"
        assert "code (4 à 6 chiffres)" in lock.hint.text()
        assert lock.secret.hasFocus()
        # The PIN on the keypad, then OK.
        for digit in "2580":
            click(qtbot, lock.pad.keys[digit])
        assert lock.secret.text() == "2580"
        click(qtbot, lock.pad.keys["ok"])
        assert st.current == "resident"
        assert resident.born.text() == "12/03/1931"  # nothing lost underneath
        # Locked again; this time the password, typed with Enter.
        qtbot.waitUntil(lambda: st.current == "lock", timeout=3000)
        type_into(qtbot, lock.secret, PASSWORD, enter=True)
        assert st.current == "resident"
        assert resident.born.text() == "12/03/1931"


def test_the_lock_covers_a_screen_shown_while_locked(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        sign_in(qtbot, st)
        click(qtbot, st.screen("today").lock_button)  # the nurse leaves the cart
        assert st.current == "lock"
        assert "aucun code" in st.screen("lock").hint.text().lower()
        st.window.show_screen("resident")  # e.g. a core event navigating underneath
        assert st.current == "lock"
        type_into(qtbot, st.screen("lock").secret, PASSWORD, enter=True)
        assert st.current == "resident"


def test_wrong_pins_block_the_pin_and_the_password_still_unlocks(
        qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        st.controller.pins.set_pin("claire.m", "2580", "admin")
        sign_in(qtbot, st)
        lock = st.screen("lock")
        lock.lock()
        assert st.current == "lock"
        for attempt in range(1, MAX_FAILURES):
            type_into(qtbot, lock.secret, "9999", enter=True)
            left = MAX_FAILURES - attempt
            assert lock.banner_text.text().startswith(
                f"Code incorrect ({left} essai(s) restant(s) avant que le mot de passe")
        type_into(qtbot, lock.secret, "9999", enter=True)
        blocked = "Code bloqué après 5 erreurs : déverrouillez avec votre mot de passe."
        assert lock.banner_text.text().startswith(blocked)
        type_into(qtbot, lock.secret, "2580", enter=True)  # the right PIN no longer works
        assert st.current == "lock" and lock.banner_text.text().startswith(blocked)
        type_into(qtbot, lock.secret, PASSWORD, enter=True)
        assert st.current == "today"
        # The password made the PIN usable again.
        lock.lock()
        type_into(qtbot, lock.secret, "2580", enter=True)
        assert st.current == "today"
        outcomes = [r[0] for r in st.controller.store.conn.execute(
            "SELECT outcome FROM pin_attempts ORDER BY id")]
        assert outcomes == ["set", *["failure"] * 5, "blocked", "success"]


def test_build_screens_registers_the_first_half_in_flow_order(qtbot: Any,
                                                               tmp_path: Path) -> None:
    from station.store.database import Store  # noqa: PLC0415
    from ui.app import make_application  # noqa: PLC0415

    make_application()
    with Store.open(tmp_path / "s.sqlite3") as store:
        controller = StationController(store, AppSettings(home=tmp_path))
        screens = build_screens(controller)
        names = [s.name for s in screens]
        assert names[:5] == ["signin", "lock", "today", "resident", "consent"]
        for screen in screens:
            qtbot.addWidget(screen)
            watcher = getattr(screen, "watcher", None)
            if watcher is not None:
                watcher.stop()
