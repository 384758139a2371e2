"""Sign-in: the nurse's login and password, checked by the core (lockout, audit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from station.errors import AccountLockedError, SignInError
from ui.formatting import sentence
from ui.i18n import _, language
from ui.screens.base import Screen
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS, ChoiceButtons

if TYPE_CHECKING:
    from ui.controller import StationController

CARD_WIDTH = 560
# Each language named in itself, never translated: a nurse who cannot read the
# current language still finds hers.
LANGUAGE_NAMES = (("fr", "Français"), ("en", "English"))


def centered_card(screen: Screen, name: str) -> QVBoxLayout:
    """A white card centred in the screen's body; returns its layout."""
    card = QFrame()
    card.setProperty("role", "card")
    card.setObjectName(name)
    card.setFixedWidth(CARD_WIDTH)
    layout = QVBoxLayout(card)
    layout.setContentsMargins(36, 28, 36, 32)
    layout.setSpacing(10)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(card)
    row.addStretch(1)
    screen.body.addStretch(1)
    screen.body.addLayout(row)
    screen.body.addStretch(2)
    return layout


def field_label(text: str, buddy: QLineEdit) -> QLabel:
    """A label above a field, bound to it (Alt+letter, screen readers)."""
    label = QLabel(text)
    label.setBuddy(buddy)
    label.setStyleSheet("font-weight: 600;")
    return label


class SignInScreen(Screen):
    """Login, password, one big button; Enter submits. Below, the app's language:
    ``language_chosen`` asks the window to show everything in another one."""

    name = "signin"
    language_chosen = Signal(str)

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller, _("Teleconsultation station"))
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        card = centered_card(self, "signin-card")
        heading = QLabel(_("Sign in"))
        heading.setStyleSheet("font-size: 18pt; font-weight: 600;")
        hint = QLabel(_("Use your own account: everything you do is traced in your name."))
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        self.login = QLineEdit()
        self.login.setObjectName("login")
        self.login.setPlaceholderText(_("e.g. claire.m"))
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.submit = QPushButton(_("Sign in"))
        self.submit.setObjectName("signin-submit")
        self.submit.setProperty("kind", "primary")
        self.submit.setStyleSheet("font-size: 15pt;")
        card.addWidget(heading)
        card.addWidget(hint)
        card.addSpacing(8)
        card.addWidget(field_label(_("Login"), self.login))
        card.addWidget(self.login)
        card.addWidget(field_label(_("Password"), self.password))
        card.addWidget(self.password)
        card.addSpacing(12)
        card.addWidget(self.submit)
        card.addSpacing(12)
        card.addLayout(self._language_row())
        self.setTabOrder(self.login, self.password)
        self.setTabOrder(self.password, self.submit)
        self.login.returnPressed.connect(self._login_entered)
        self.password.returnPressed.connect(self.sign_in)
        self.submit.clicked.connect(self.sign_in)
        self.login.setFocus()  # the first screen: focused when the window appears

    def _language_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        label = QLabel(_("Language"))
        label.setProperty("role", "muted")
        self.languages = ChoiceButtons(LANGUAGE_NAMES, language())
        self.languages.setObjectName("signin-language")
        self.languages.changed.connect(self._language_changed)
        row.addWidget(label)
        row.addWidget(self.languages, 1)
        return row

    def _language_changed(self, chosen: str) -> None:
        if chosen != language():
            self.language_chosen.emit(chosen)

    def entered(self) -> None:
        super().entered()
        self.languages.set_value(language())
        self.password.clear()
        (self.password if self.login.text() else self.login).setFocus(
            Qt.FocusReason.OtherFocusReason)

    def _login_entered(self) -> None:
        if self.password.text():
            self.sign_in()
        else:
            self.password.setFocus()

    def sign_in(self) -> None:
        """Ask the core; on success go to Today, else say why and what to do."""
        login, password = self.login.text().strip(), self.password.text()
        if not login or not password:
            self.show_error(_("Type your login and your password."))
            (self.password if login else self.login).setFocus()
            return
        try:
            self.controller.sign_in(login, password)
        except AccountLockedError as error:
            self.show_error(sentence(error.message),
                            _("Wait, then try again. Forgotten password: ask the head "
                              "nurse to reset it."))
            self.password.clear()
            return
        except SignInError as error:
            self.show_error(sentence(error.message),
                            _("Check your login, then type your password again "
                              "(capital letters count)."))
            self.password.clear()
            self.password.setFocus()
            return
        self.clear_error()
        self.password.clear()
        self.navigate.emit("today")
