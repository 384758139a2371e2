"""Consent: for which act, who answers and in what capacity, how (orally), who
records it; given → the examination, refused → traced, the session stops.

The resident's own answer is sought first (the resident is the default
choice); the help line says when each other capacity applies. The core
traces the answer and moves the session (``SessionEngine.record_consent``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from station.consent import Act, ConsentCapacity, ConsentDecision
from station.errors import StationError, ValidationError
from ui.formatting import act_text, capacity_help, capacity_text, sentence, time_text
from ui.i18n import _
from ui.screens.base import Screen
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS, ChoiceButtons
from ui.widgets.resident_banner import ResidentBanner

if TYPE_CHECKING:
    from ui.controller import StationController

ACTS = (Act.TELECONSULTATION, Act.TELE_EXPERTISE)


def heading(text: str) -> QLabel:
    """A bold label heading a row of the form."""
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600;")
    return label


class ConsentScreen(Screen):
    """The answer to the doctor's information about the act, traced by the core."""

    name = "consent"

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller, _("Consent"))
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        self.banner_resident = ResidentBanner()
        self.body.addWidget(self.banner_resident)
        self.pages = QStackedWidget()
        self.body.addWidget(self.pages, 1)
        self._build_form()
        self._build_confirm()
        self._build_refused()
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.back)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _build_form(self) -> None:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        card = QFrame()
        card.setProperty("role", "card")
        grid = QGridLayout(card)
        grid.setContentsMargins(20, 16, 20, 16)
        grid.setHorizontalSpacing(20)
        grid.setVerticalSpacing(14)
        self.act = ChoiceButtons([(a.value, act_text(a)) for a in ACTS],
                                 Act.TELECONSULTATION.value)
        self.act.setObjectName("consent-act")
        self.capacity = ChoiceButtons([(c.value, capacity_text(c)) for c in ConsentCapacity],
                                      ConsentCapacity.RESIDENT.value)
        self.capacity.setObjectName("consent-capacity")
        self.capacity_help = QLabel()
        self.capacity_help.setObjectName("capacity-help")
        self.capacity_help.setProperty("role", "muted")
        self.capacity_help.setWordWrap(True)
        self.person_label = heading(_("Name of the person who answers"))
        self.person = QLineEdit()
        self.person.setObjectName("consent-person")
        self.person.setPlaceholderText(_("First name and name, e.g. Marie Dupont (daughter)"))
        self.person_label.setBuddy(self.person)
        self.how = ChoiceButtons([("oral", _("Orally"))], "oral")
        self.recorded_by = QLabel()
        self.recorded_by.setObjectName("consent-recorded-by")
        capacity_box = QVBoxLayout()
        capacity_box.setSpacing(4)
        capacity_box.addWidget(self.capacity)
        capacity_box.addWidget(self.capacity_help)
        rows: list[tuple[QLabel, QWidget | QVBoxLayout]] = [
            (heading(_("Act")), self.act),
            (heading(_("Who answers")), capacity_box),
            (self.person_label, self.person),
            (heading(_("How")), self.how),
            (heading(_("Recorded by")), self.recorded_by),
        ]
        for index, (label, widget) in enumerate(rows):
            grid.addWidget(label, index, 0, Qt.AlignmentFlag.AlignTop)
            if isinstance(widget, QVBoxLayout):
                grid.addLayout(widget, index, 1)
            else:
                grid.addWidget(widget, index, 1)
        grid.setColumnStretch(1, 1)
        outer.addWidget(card)
        outer.addStretch(1)
        self._form_buttons(outer)
        self.capacity.changed.connect(self._capacity_changed)
        self._capacity_changed(ConsentCapacity.RESIDENT.value)
        self.pages.addWidget(page)
        self.form_page = page

    def _form_buttons(self, outer: QVBoxLayout) -> None:
        question = QLabel(_("The doctor informs; you record the answer given to the "
                            "information about the act."))
        question.setProperty("role", "muted")
        question.setWordWrap(True)
        outer.addWidget(question)
        buttons = QHBoxLayout()
        back = QPushButton(_("Back"))
        back.setObjectName("consent-back")
        back.clicked.connect(self.back)
        self.refuse = QPushButton(_("Consent refused"))
        self.refuse.setObjectName("consent-refused")
        self.refuse.setProperty("kind", "danger")
        self.refuse.setStyleSheet("min-height: 56px; font-size: 15pt;")
        self.refuse.clicked.connect(self.ask_refusal)
        self.give = QPushButton(_("Consent given"))
        self.give.setObjectName("consent-given")
        self.give.setProperty("kind", "primary")
        self.give.setStyleSheet("min-height: 56px; font-size: 15pt;")
        self.give.clicked.connect(self.consent_given)
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(self.refuse)
        buttons.addSpacing(12)
        buttons.addWidget(self.give)
        outer.addLayout(buttons)

    def _build_confirm(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        text = QLabel(_("Record the refusal? The act will not take place and the session "
                        "stops."))
        text.setObjectName("refusal-question")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setStyleSheet("font-size: 18pt; font-weight: 600;")
        layout.addWidget(text)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton(_("No, go back"))
        cancel.setObjectName("refusal-cancel")
        cancel.clicked.connect(self.back)
        self.confirm_refusal = QPushButton(_("Yes, record the refusal"))
        self.confirm_refusal.setObjectName("refusal-confirm")
        self.confirm_refusal.setProperty("kind", "danger")
        self.confirm_refusal.setStyleSheet("min-height: 56px; font-size: 15pt;")
        self.confirm_refusal.clicked.connect(self.consent_refused)
        buttons.addWidget(cancel)
        buttons.addSpacing(16)
        buttons.addWidget(self.confirm_refusal)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(2)
        self.pages.addWidget(page)
        self.confirm_page = page

    def _build_refused(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        self.refused_text = QLabel()
        self.refused_text.setObjectName("refused-text")
        self.refused_text.setWordWrap(True)
        self.refused_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.refused_text.setStyleSheet("font-size: 18pt;")
        layout.addWidget(self.refused_text)
        row = QHBoxLayout()
        row.addStretch(1)
        self.home = QPushButton(_("Back to Today"))
        self.home.setObjectName("refused-home")
        self.home.setProperty("kind", "primary")
        self.home.setStyleSheet("min-height: 56px; font-size: 15pt;")
        self.home.clicked.connect(self.go_home)
        row.addWidget(self.home)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        self.pages.addWidget(page)
        self.refused_page = page

    # --- behaviour ---------------------------------------------------------------------

    def entered(self) -> None:
        super().entered()
        resident = self.controller.resident
        self.banner_resident.show_identity(resident.identity if resident else None)
        act = self.controller.session_act()
        self.act.set_value((act or Act.TELECONSULTATION).value)
        self.act.setEnabled(act is None)  # an opened session keeps its act
        self.capacity.set_value(ConsentCapacity.RESIDENT.value)
        self.person.clear()
        nurse = self.controller.nurse
        self.recorded_by.setText(_("{name} ({login}), now").format(
            name=nurse.display_name, login=nurse.login) if nurse else "")
        self.title.setText(_("Consent"))
        self.pages.setCurrentWidget(self.form_page)
        self.give.setFocus(Qt.FocusReason.OtherFocusReason)

    def _capacity_changed(self, value: str) -> None:
        capacity = ConsentCapacity(value)
        self.capacity_help.setText(capacity_help(capacity))
        needs_person = capacity is not ConsentCapacity.RESIDENT
        self.person.setVisible(needs_person)
        self.person_label.setVisible(needs_person)
        if needs_person:
            self.person.setFocus()

    def _record(self, decision: ConsentDecision) -> bool:
        try:
            self.controller.record_consent(
                Act(self.act.value() or Act.TELECONSULTATION.value), decision,
                ConsentCapacity(self.capacity.value() or ConsentCapacity.RESIDENT.value),
                self.person.text())
        except ValidationError as error:
            self.pages.setCurrentWidget(self.form_page)
            self.show_error(sentence(error.message),
                            _("Type the name, then record the answer again."))
            self.person.setFocus()
            return False
        except StationError as error:
            self.pages.setCurrentWidget(self.form_page)
            self.show_error(sentence(error.message),
                            _("Go back to Today and resume the session from there."))
            return False
        return True

    def consent_given(self) -> None:
        """Traced; the examination begins."""
        if self._record(ConsentDecision.GIVEN):
            self.navigate.emit("exam")

    def ask_refusal(self) -> None:
        """A refusal stops the act: ask once more."""
        self.clear_error()
        self.title.setText(_("Consent refused"))
        self.pages.setCurrentWidget(self.confirm_page)
        self.confirm_refusal.setFocus()

    def consent_refused(self) -> None:
        """Traced by the core, which stops the session; say so."""
        if not self._record(ConsentDecision.REFUSED):
            return
        session = self.controller.session
        resident = self.controller.resident
        consents = session.consents() if session is not None else []
        when = time_text(consents[-1].recorded_at) if consents else ""
        self.refused_text.setText(_(
            "Refusal recorded at {time} for {resident}.\nThe act will not take place; the "
            "session is stopped and traced.").format(
                time=when, resident=resident.identity.display_name() if resident else ""))
        self.controller.end_session()
        self.pages.setCurrentWidget(self.refused_page)
        self.home.setFocus()

    def go_home(self) -> None:
        """Back to Today after a refusal."""
        self.navigate.emit("today")

    def back(self) -> None:
        """Escape: confirmation → form → resident; after a refusal → Today."""
        page = self.pages.currentWidget()
        self.clear_error()
        if page is self.refused_page:
            self.go_home()
        elif page is self.confirm_page:
            self.title.setText(_("Consent"))
            self.pages.setCurrentWidget(self.form_page)
            self.refuse.setFocus()
        else:
            self.navigate.emit("resident")
