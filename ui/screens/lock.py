"""The idle lock: after a few minutes without input the app is covered, the
session going on underneath; the same nurse unlocks with her PIN or password.

The lock sits in the window's stack like any screen but remembers the screen
it covers and returns to it as it was (its ``entered()`` is not called again,
so nothing typed is lost). If another screen is shown while locked (a core
event navigating underneath), the lock covers it again and returns to that one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QWidget,
)

from station.errors import AccountLockedError, SignInError
from station.store.pins import PinBlockedError
from ui.formatting import sentence
from ui.i18n import _
from ui.idle import IdleWatcher
from ui.screens.base import Screen
from ui.screens.signin import centered_card
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS
from ui.widgets.pin_pad import PinPad

if TYPE_CHECKING:
    from ui.controller import StationController


class LockScreen(Screen):
    """Covers whatever is shown; PIN (4-6 digits) or password in one field."""

    name = "lock"

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller, _("Station locked"))
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        self.locked = False
        self._stack: QStackedWidget | None = None
        self._covered: QWidget | None = None
        self._last_other: QWidget | None = None
        self._focus: QWidget | None = None
        card = centered_card(self, "lock-card")
        self.who = QLabel()
        self.who.setObjectName("lock-who")
        self.who.setWordWrap(True)
        self.who.setStyleSheet("font-size: 17pt; font-weight: 600;")
        self.hint = QLabel()
        self.hint.setProperty("role", "muted")
        self.hint.setWordWrap(True)
        self.secret = QLineEdit()
        self.secret.setObjectName("lock-secret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText(_("PIN or password"))
        self.secret.setStyleSheet("font-size: 18pt;")
        self.pad = PinPad(self.secret)
        note = QLabel(_("The session goes on underneath: nothing is lost."))
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        card.addWidget(self.who)
        card.addWidget(self.hint)
        card.addWidget(self.secret)
        card.addSpacing(6)
        card.addWidget(self.pad, 0, Qt.AlignmentFlag.AlignHCenter)
        card.addSpacing(6)
        card.addWidget(note)
        self.secret.returnPressed.connect(self.unlock)
        self.pad.confirmed.connect(self.unlock)
        self.watcher = IdleWatcher(controller.settings.lock_minutes, self)
        self.watcher.idle.connect(self._idle)
        self.watcher.start()

    # --- following the window's stack ---------------------------------------------------

    def event(self, event: QEvent) -> bool:
        """Follow the stack this screen is put in (to know what it covers)."""
        if event.type() == QEvent.Type.ParentChange:
            self._follow(self.parentWidget())
        return super().event(event)

    def _follow(self, parent: QWidget | None) -> None:
        if self._stack is not None:
            self._stack.currentChanged.disconnect(self._current_changed)
        self._stack = parent if isinstance(parent, QStackedWidget) else None
        if self._stack is not None:
            self._stack.currentChanged.connect(self._current_changed)

    def _current_changed(self, index: int) -> None:
        assert self._stack is not None
        widget = self._stack.widget(index)
        if widget is self or widget is None:
            return
        if self.locked:  # shown underneath while locked: cover it, return to it later
            self._covered = widget
            self._stack.setCurrentWidget(self)
        else:
            self._last_other = widget

    # --- locking and unlocking ---------------------------------------------------------

    def _idle(self) -> None:
        if self.controller.nurse is None or self.locked:
            self.watcher.start()
            return
        self.lock()

    def lock(self) -> None:
        """Cover the current screen now (idle time out, or the nurse asked)."""
        if self._stack is None or self.locked:
            return
        self._focus = QApplication.focusWidget()
        current = self._stack.currentWidget()
        self._stack.setCurrentWidget(self)
        self._covered = current if current is not self else self._last_other
        self._enter_locked()

    def entered(self) -> None:
        """Shown by name (a "Lock" button): lock over the screen it replaced."""
        super().entered()
        if not self.locked:
            self._covered = self._last_other
            self._enter_locked()

    def _enter_locked(self) -> None:
        self.locked = True
        self.watcher.stop()
        self._cancel_dialogs()
        self.clear_error()
        nurse = self.controller.nurse
        self.who.setText(_("Signed in: {name} ({login})").format(
            name=nurse.display_name, login=nurse.login) if nurse else "")
        has_pin = nurse is not None and self.controller.pins.has_pin(nurse.login)
        self.hint.setText(_("Type your PIN (4 to 6 digits) or your password.") if has_pin
                          else _("No PIN is set for your account: type your password."))
        self.secret.clear()
        self.secret.setFocus()

    @staticmethod
    def _cancel_dialogs() -> None:
        """Cancel the open dialogs: a dialog is a window of its own, it would stay on
        top of the lock, answering anyone passing by (cancelling changes nothing)."""
        for _attempt in range(5):  # a dialog may have opened another one
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QDialog):
                return
            dialog.reject()

    def unlock(self) -> None:
        """Check the PIN or password with the core; return to the covered screen."""
        secret = self.secret.text()
        if not secret:
            self.show_error(_("Type your PIN or your password."))
            return
        try:
            self.controller.unlock(secret)
        except PinBlockedError as error:
            self.show_error(sentence(error.message),
                            _("Type your password in the same field, then confirm."))
            self.secret.clear()
            return
        except AccountLockedError as error:
            self.show_error(sentence(error.message), _("Wait, then try again."))
            self.secret.clear()
            return
        except SignInError as error:
            self.show_error(sentence(error.message), _("Type it again."))
            self.secret.clear()
            return
        self.secret.clear()
        self.clear_error()
        self.locked = False
        if self._stack is not None and self._covered is not None:
            self._stack.setCurrentWidget(self._covered)
        focus, self._focus = self._focus, None
        try:
            if focus is not None and focus.isVisible():
                focus.setFocus()
        except RuntimeError:  # the widget was deleted while locked
            pass
        self.watcher.start()
