"""« My PIN » on Today: the signed-in nurse sets her own PIN after her password,
then unlocks the idle lock with it; refusals say why and store nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel

from tests.ui.first_half import PASSWORD, Station, click, sign_in, station, type_into
from ui.widgets.pin_dialog import PinDialog


def open_pin_dialog(qtbot: Any, st: Station) -> PinDialog:
    """Tap « My PIN » on Today; the dialog opens on the password field."""
    today = st.screen("today")
    click(qtbot, today.pin_button)
    dialog = today.pin_dialog
    assert isinstance(dialog, PinDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    dialog.activateWindow()  # as a window manager would: typed keys go to the dialog
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    assert dialog.password.hasFocus()
    return dialog


def tap(qtbot: Any, dialog: PinDialog, keys: str) -> None:
    """Digits then OK on the dialog's keypad."""
    for key in keys:
        click(qtbot, dialog.pad.keys[key])
    click(qtbot, dialog.pad.keys["ok"])


def labels(dialog: PinDialog) -> list[str]:
    return [label.text() for label in dialog.findChildren(QLabel)]


def pin_rows(st: Station) -> list[tuple[str, str]]:
    return list(st.controller.store.conn.execute("SELECT login, set_by FROM pins"))


def test_the_nurse_sets_her_pin_then_unlocks_with_it(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        sign_in(qtbot, st)
        today = st.screen("today")
        assert today.pin_button.text() == "Mon code PIN"
        dialog = open_pin_dialog(qtbot, st)
        assert dialog.windowTitle() == "Mon code PIN"
        assert "Choisir votre code PIN" in labels(dialog)
        type_into(qtbot, dialog.password, PASSWORD, enter=True)  # Enter: on to the PIN
        assert dialog.pin.hasFocus()
        tap(qtbot, dialog, "2580")  # OK on the keypad: on to the repetition
        assert dialog.pin.text() == "2580" and dialog.repeat.hasFocus()
        tap(qtbot, dialog, "2580")  # OK again: saved
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
        assert dialog.result() == PinDialog.DialogCode.Accepted
        assert today.pin_saved.isVisible()
        assert today.pin_saved.text() == "Code enregistré : il déverrouille le poste dès " \
                                         "maintenant."
        assert pin_rows(st) == [("claire.m", "claire.m")]  # set by the nurse herself
        # Lock, then unlock with the new PIN.
        click(qtbot, today.lock_button)
        lock = st.screen("lock")
        assert st.current == "lock"
        assert "code (4 à 6 chiffres)" in lock.hint.text()
        type_into(qtbot, lock.secret, "2580", enter=True)
        assert st.current == "today"
        # Changing it later: the dialog says so, and the old PIN stops working.
        dialog = open_pin_dialog(qtbot, st)
        assert "Changer votre code PIN" in labels(dialog)
        type_into(qtbot, dialog.password, PASSWORD)
        type_into(qtbot, dialog.pin, "7391")
        type_into(qtbot, dialog.repeat, "7391", enter=True)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
        lock.lock()
        type_into(qtbot, lock.secret, "2580", enter=True)
        assert st.current == "lock" and lock.banner_text.text().startswith("Code incorrect")
        type_into(qtbot, lock.secret, "7391", enter=True)
        assert st.current == "today"


def test_a_wrong_password_or_a_bad_pin_says_why_and_stores_nothing(
        qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        sign_in(qtbot, st)
        attempts = st.controller.store.conn.execute(
            "SELECT count(*) FROM sign_in_attempts").fetchone()[0]
        dialog = open_pin_dialog(qtbot, st)
        # No password.
        type_into(qtbot, dialog.pin, "2580")
        type_into(qtbot, dialog.repeat, "2580")
        click(qtbot, dialog.save)
        assert dialog.isVisible() and dialog.error.text() == "Saisissez votre mot de passe."
        assert dialog.password.hasFocus()
        # A wrong password: the core's words; counted like a sign-in failure.
        type_into(qtbot, dialog.password, "wrong horse")
        click(qtbot, dialog.save)
        assert dialog.isVisible()
        assert dialog.error.text() == (
            "Identifiant ou mot de passe incorrect.\nQue faire : Saisissez de nouveau votre "
            "mot de passe (les majuscules comptent).")
        assert dialog.password.text() == "" and dialog.password.hasFocus()
        outcomes = [r[0] for r in st.controller.store.conn.execute(
            "SELECT outcome FROM sign_in_attempts ORDER BY id")]
        assert outcomes[attempts:] == ["failure"]
        # Two different PINs: said, both cleared, no password attempt spent.
        type_into(qtbot, dialog.password, PASSWORD)
        dialog.pin.clear()
        type_into(qtbot, dialog.pin, "2580")
        dialog.repeat.clear()
        type_into(qtbot, dialog.repeat, "2581", enter=True)
        assert dialog.error.text() == ("Code de déverrouillage : les deux codes saisis "
                                       "diffèrent.\nQue faire : Saisissez deux fois le même "
                                       "nouveau code.")
        assert dialog.pin.text() == dialog.repeat.text() == "" and dialog.pin.hasFocus()
        # A PIN the core refuses (a run of digits): its own words.
        type_into(qtbot, dialog.pin, "1234")
        type_into(qtbot, dialog.repeat, "1234", enter=True)
        assert dialog.error.text().startswith(
            "Code de déverrouillage : code trop facile à deviner")
        # Too short.
        type_into(qtbot, dialog.pin, "25")
        type_into(qtbot, dialog.repeat, "25", enter=True)
        assert dialog.error.text().startswith(
            "Code de déverrouillage : le code doit compter 4 à 6 chiffres.")
        outcomes = [r[0] for r in st.controller.store.conn.execute(
            "SELECT outcome FROM sign_in_attempts ORDER BY id")]
        assert outcomes[attempts:] == ["failure"]  # the PIN's errors cost no password try
        assert pin_rows(st) == [] and not st.controller.has_pin()
        # Cancel leaves, nothing stored.
        click(qtbot, dialog.cancel)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
        assert dialog.result() == PinDialog.DialogCode.Rejected
        assert pin_rows(st) == [] and not st.screen("today").pin_saved.isVisible()


def test_the_idle_lock_cancels_an_open_pin_dialog(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        sign_in(qtbot, st)
        dialog = open_pin_dialog(qtbot, st)
        type_into(qtbot, dialog.password, PASSWORD)
        st.screen("lock").lock()  # the nurse walked away with the dialog open
        assert st.current == "lock"
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
        assert dialog.result() == PinDialog.DialogCode.Rejected
        assert pin_rows(st) == []
