"""The resident: search by date of birth first, then a few letters of a name;
or create one with the strict INS traits, after the duplicate check.

Three pages: search, creation form, possible duplicates. The core checks
every trait (``identity_from_input``) and finds the duplicates
(``possible_duplicates``), as ``station residents add`` does; the form only
offers the INS and the document where the chosen status uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from station.errors import ValidationError
from station.identity import (
    STATUSES_FROM_INSI,
    STATUSES_WITH_DOCUMENT,
    IdentityDocument,
    IdentityFlag,
    IdentityStatus,
    ResidentIdentity,
    Sex,
)
from station.ins import KNOWN_OIDS
from station.store.residents import Resident
from ui.formatting import (
    document_text,
    flag_text,
    sentence,
    sex_text,
    status_help,
    status_short,
)
from ui.i18n import _
from ui.screens.base import Screen
from ui.screens.today import clear
from ui.theme import SURFACE
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS, ChoiceButtons
from ui.widgets.date_field import DateField
from ui.widgets.resident_banner import ResidentBanner
from ui.widgets.resident_row import ResidentRow

if TYPE_CHECKING:
    from ui.controller import StationController

MIN_LETTERS_WITHOUT_DATE = 2
_INVALID = "QLineEdit { border: 3px solid #b3261e; }"


def labelled(text: str, widget: QWidget, hint: str = "") -> QVBoxLayout:
    """A field with its label above (and a muted hint under it)."""
    box = QVBoxLayout()
    box.setSpacing(4)
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600;")
    label.setBuddy(widget)
    box.addWidget(label)
    box.addWidget(widget)
    if hint:
        note = QLabel(hint)
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        box.addWidget(note)
    return box


def scrolling_list() -> tuple[QScrollArea, QVBoxLayout]:
    """A frameless scroll area holding a vertical list."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    holder = QWidget()
    holder.setObjectName("list-holder")
    holder.setStyleSheet(f"QWidget#list-holder {{ background: {SURFACE}; }}")
    rows = QVBoxLayout(holder)
    rows.setContentsMargins(0, 0, 8, 0)
    rows.setSpacing(10)
    scroll.setWidget(holder)
    return scroll, rows


class ResidentScreen(Screen):
    """Find the resident, or create them after the duplicate check."""

    name = "resident"

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller, _("Resident"))
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        self.pages = QStackedWidget()
        self.body.addWidget(self.pages, 1)
        self.pending: ResidentIdentity | None = None
        self._build_search()
        self._build_form()
        self._build_duplicates()
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.back)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # --- search ------------------------------------------------------------------------

    def _build_search(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        fields = QHBoxLayout()
        fields.setSpacing(16)
        self.born = DateField()
        self.born.setObjectName("search-born")
        self.born.setFixedWidth(260)
        self.born.setStyleSheet("font-size: 18pt;")
        self.letters = QLineEdit()
        self.letters.setObjectName("search-letters")
        self.letters.setPlaceholderText(_("e.g. DUP"))
        self.letters.setStyleSheet("font-size: 18pt;")
        fields.addLayout(labelled(_("1. Date of birth"), self.born))
        fields.addLayout(labelled(_("2. A few letters of a name"), self.letters), 1)
        layout.addLayout(fields)
        self.search_status = QLabel(_("Type the date of birth first, then a few letters of "
                                      "the name (birth or used name, first name)."))
        self.search_status.setObjectName("search-status")
        self.search_status.setProperty("role", "muted")
        self.search_status.setWordWrap(True)
        layout.addWidget(self.search_status)
        scroll, self.results = scrolling_list()
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        back = QPushButton(_("Back"))
        back.setObjectName("search-back")
        back.clicked.connect(self.back)
        self.create_button = QPushButton(_("Create a resident"))
        self.create_button.setObjectName("create-resident")
        self.create_button.clicked.connect(self.open_form)
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        layout.addLayout(buttons)
        self.born.textChanged.connect(self.search)
        self.letters.textChanged.connect(self.search)
        self.born.returnPressed.connect(self.letters.setFocus)
        # A complete date moves on to the letters by itself: one tap fewer for the nurse.
        self.born.completed.connect(lambda _date: self.letters.setFocus())
        self.letters.returnPressed.connect(self._choose_single)
        self.pages.addWidget(page)
        self.search_page = page

    def search(self) -> None:
        """Search as the nurse types: once the date is complete, or with letters alone."""
        clear(self.results)
        born, letters = self.born.text(), self.letters.text().strip()
        if born and not self.born.is_complete():
            self.search_status.setText(_("Finish the date of birth: DD/MM/YYYY."))
            return
        if not born and len(letters) < MIN_LETTERS_WITHOUT_DATE:
            self.search_status.setText(_("Type the date of birth first, then a few letters of "
                                         "the name (birth or used name, first name)."))
            return
        try:
            found = self.controller.search_residents(born, letters)
        except ValidationError as error:
            self.search_status.setText(sentence(error.message))
            return
        for resident in found:
            row = ResidentRow(resident)
            row.clicked.connect(lambda _checked=False, r=resident: self.choose(r))
            self.results.addWidget(row)
        self.results.addStretch(1)
        if found:
            self.search_status.setText(_("{count} resident(s) found: tap the right one.")
                                       .format(count=len(found)))
        else:
            self.search_status.setText(_("No resident found. Check the date, or create the "
                                         "resident."))
        self.create_button.setProperty("kind", "" if found else "primary")
        self.create_button.style().polish(self.create_button)

    def result_rows(self) -> list[ResidentRow]:
        """The rows on display (for the keyboard and tests)."""
        rows = []
        for index in range(self.results.count()):
            item = self.results.itemAt(index)
            widget = item.widget() if item is not None else None
            if isinstance(widget, ResidentRow):
                rows.append(widget)
        return rows

    def _choose_single(self) -> None:
        rows = self.result_rows()
        if len(rows) == 1:
            self.choose(rows[0].resident)
        elif rows:
            rows[0].setFocus()

    def choose(self, resident: Resident) -> None:
        """This is the resident: on to consent."""
        self.controller.choose_resident(resident)
        self.navigate.emit("consent")

    # --- creation form -----------------------------------------------------------------

    def _form_widgets(self) -> None:
        self.f_birth_name = QLineEdit()
        self.f_first_names = QLineEdit()
        self.f_sex = ChoiceButtons([(s.value, sex_text(s)) for s in
                                    (Sex.FEMALE, Sex.MALE, Sex.UNKNOWN)])
        self.f_birth_date = DateField()
        self.f_birth_place = QLineEdit()
        self.f_birth_place.setPlaceholderText(_("e.g. 75056; born abroad: 99 + country"))
        self.f_first_names.setPlaceholderText(_("All of them, in order: MARIE JEANNE"))
        self.f_used_name = QLineEdit()
        self.f_used_first_name = QLineEdit()
        self.f_status = ChoiceButtons([(s.value, status_short(s)) for s in IdentityStatus],
                                      IdentityStatus.PROVISIONAL)
        self.status_help = QLabel()
        self.status_help.setProperty("role", "muted")
        self.status_help.setWordWrap(True)
        self.f_document = QComboBox()
        self.f_document.addItem(_("None"), "")
        for document in IdentityDocument:
            self.f_document.addItem(document_text(document), document.value)
        self.f_ins = QLineEdit()
        self.f_ins.setPlaceholderText(_("15 characters, from INSi"))
        self.f_ins_oid = QComboBox()
        self.f_ins_oid.addItem(_("From the number (NIR or NIA)"), "")
        for oid in sorted(KNOWN_OIDS):
            self.f_ins_oid.addItem(oid, oid)
        self.f_flags = {flag: QCheckBox(flag_text(flag)) for flag in IdentityFlag}
        for key, widget in self._fields().items():
            widget.setObjectName(f"field-{key}")
        for flag, box in self.f_flags.items():
            box.setObjectName(f"flag-box-{flag.value}")

    def _build_form(self) -> None:
        self._form_widgets()
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        holder.setObjectName("form-holder")
        holder.setStyleSheet(f"QWidget#form-holder {{ background: {SURFACE}; }}")
        grid = QGridLayout(holder)
        grid.setContentsMargins(0, 0, 12, 0)
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(10)
        self._lay_out_form(grid)
        scroll.setWidget(holder)
        outer.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        back = QPushButton(_("Back to the search"))
        back.setObjectName("form-back")
        back.clicked.connect(self.back)
        self.check_button = QPushButton(_("Check and create"))
        self.check_button.setObjectName("form-create")
        self.check_button.setProperty("kind", "primary")
        self.check_button.clicked.connect(self.check_and_create)
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(self.check_button)
        outer.addLayout(buttons)
        self.f_status.changed.connect(self._status_changed)
        self._status_changed(IdentityStatus.PROVISIONAL.value)
        self.pages.addWidget(page)
        self.form_page = page

    def _lay_out_form(self, grid: QGridLayout) -> None:
        """Traits on the left, status, INS and flags on the right: one screen, no scroll."""
        left, right = QVBoxLayout(), QVBoxLayout()
        for column in (left, right):
            column.setSpacing(8)
        traits = QLabel(_("Strict identity traits (as on the identity document)"))
        traits.setProperty("role", "subtitle")
        left.addWidget(traits)
        left.addLayout(labelled(_("Birth name *"), self.f_birth_name))
        left.addLayout(labelled(_("Birth first names *"), self.f_first_names))
        sex_and_date = QHBoxLayout()
        sex_and_date.setSpacing(16)
        sex_and_date.addLayout(labelled(_("Sex *"), self.f_sex))
        sex_and_date.addLayout(labelled(_("Date of birth *"), self.f_birth_date), 1)
        left.addLayout(sex_and_date)
        left.addLayout(labelled(_("Birth place INSEE code *"), self.f_birth_place))
        optional = QHBoxLayout()
        optional.setSpacing(12)
        optional.addLayout(labelled(_("Used name"), self.f_used_name))
        optional.addLayout(labelled(_("Used first name"), self.f_used_first_name))
        left.addLayout(optional)
        left.addStretch(1)
        status_title = QLabel(_("Identity status and INS"))
        status_title.setProperty("role", "subtitle")
        right.addWidget(status_title)
        status_box = labelled(_("Identity status *"), self.f_status)
        status_box.addWidget(self.status_help)
        right.addLayout(status_box)
        right.addLayout(labelled(_("High-trust document checked"), self.f_document))
        ins = QHBoxLayout()
        ins.setSpacing(12)
        ins.addLayout(labelled(_("INS number"), self.f_ins), 3)
        ins.addLayout(labelled(_("INS identifier type (OID)"), self.f_ins_oid), 2)
        right.addLayout(ins)
        flags_title = QLabel(_("Identity flags"))
        flags_title.setStyleSheet("font-weight: 600;")
        right.addWidget(flags_title)
        flags = QGridLayout()
        flags.setSpacing(4)
        for index, box in enumerate(self.f_flags.values()):
            flags.addWidget(box, index // 2, index % 2)
        right.addLayout(flags)
        right.addStretch(1)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    def _fields(self) -> dict[str, QWidget]:
        """Form widgets by the core's field names (a ValidationError names one)."""
        return {
            "birth_name": self.f_birth_name, "birth_first_names": self.f_first_names,
            "sex": self.f_sex, "birth_date": self.f_birth_date,
            "birth_place_code": self.f_birth_place, "used_name": self.f_used_name,
            "used_first_name": self.f_used_first_name, "status": self.f_status,
            "document": self.f_document, "ins": self.f_ins, "ins_oid": self.f_ins_oid,
        }

    def _status_changed(self, value: str) -> None:
        status = IdentityStatus(value)
        self.status_help.setText(status_help(status))
        uses_ins = status in STATUSES_FROM_INSI
        needs_document = status in STATUSES_WITH_DOCUMENT
        for widget in (self.f_ins, self.f_ins_oid):
            widget.setEnabled(uses_ins)
        if not uses_ins:
            self.f_ins.clear()
            self.f_ins_oid.setCurrentIndex(0)
        self.f_document.setEnabled(needs_document)
        if not needs_document:
            self.f_document.setCurrentIndex(0)

    def open_form(self) -> None:
        """The creation form, with the date of birth already typed in the search."""
        self.clear_error()
        if self.born.text() and not self.f_birth_date.text():
            self.f_birth_date.setText(self.born.text())
        self.title.setText(_("New resident"))
        self.pages.setCurrentWidget(self.form_page)
        self.f_birth_name.setFocus()

    def form_values(self) -> dict[str, Any]:
        """What the nurse typed, as ``identity_from_input`` takes it."""
        return {
            "birth_name": self.f_birth_name.text(),
            "birth_first_names": self.f_first_names.text(),
            "sex": self.f_sex.value() or "",
            "birth_date": self.f_birth_date.text(),
            "birth_place_code": self.f_birth_place.text(),
            "used_name": self.f_used_name.text() or None,
            "used_first_name": self.f_used_first_name.text() or None,
            "ins": self.f_ins.text() or None,
            "ins_oid": self.f_ins_oid.currentData() or None,
            "status": self.f_status.value() or IdentityStatus.PROVISIONAL.value,
            "document": self.f_document.currentData() or None,
            "flags": [flag for flag, box in self.f_flags.items() if box.isChecked()],
        }

    def _mark_invalid(self, field: str | None) -> None:
        for key, widget in self._fields().items():
            if isinstance(widget, QLineEdit):
                widget.setStyleSheet(_INVALID if key == field else "")
        invalid = self._fields().get(field or "")
        if invalid is not None:
            invalid.setFocus()

    def check_and_create(self) -> None:
        """Core check of the traits, then the duplicate search, then the creation."""
        self.clear_error()
        try:
            identity = self.controller.identity_from_form(**self.form_values())
        except ValidationError as error:
            self.show_error(sentence(error.message),
                            _("Correct this field, then tap “Check and create” again."))
            self._mark_invalid(error.field)
            return
        self._mark_invalid(None)
        duplicates = self.controller.possible_duplicates(identity)
        if duplicates:
            self.show_duplicates(identity, duplicates)
            return
        self.create_resident(identity)

    def create_resident(self, identity: ResidentIdentity) -> None:
        """Store the new resident and go on to consent."""
        resident = self.controller.create_resident(identity)
        self.controller.choose_resident(resident)
        self.navigate.emit("consent")

    # --- duplicates --------------------------------------------------------------------

    def _build_duplicates(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        intro = QLabel(_("Residents already known may be this person. Compare the identity "
                         "you typed with each of them before going on."))
        intro.setWordWrap(True)
        intro.setProperty("role", "subtitle")
        layout.addWidget(intro)
        typed = QLabel(_("You typed:"))
        typed.setStyleSheet("font-weight: 600;")
        layout.addWidget(typed)
        self.pending_banner = ResidentBanner()
        layout.addWidget(self.pending_banner)
        known = QLabel(_("Already known — tap the resident if it is the same person:"))
        known.setStyleSheet("font-weight: 600;")
        layout.addWidget(known)
        scroll, self.duplicate_rows = scrolling_list()
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        back = QPushButton(_("Back to the form"))
        back.setObjectName("duplicates-back")
        back.clicked.connect(self.back)
        self.other_person = QPushButton(_("It is another person: create"))
        self.other_person.setObjectName("duplicates-create")
        self.other_person.clicked.connect(self._create_pending)
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(self.other_person)
        layout.addLayout(buttons)
        self.pages.addWidget(page)
        self.duplicates_page = page

    def show_duplicates(self, identity: ResidentIdentity, duplicates: list[Resident]) -> None:
        """The possible duplicates, before anything is created."""
        self.pending = identity
        self.pending_banner.show_identity(identity)
        clear(self.duplicate_rows)
        for resident in duplicates:
            row = ResidentRow(resident)
            row.clicked.connect(lambda _checked=False, r=resident: self.choose(r))
            self.duplicate_rows.addWidget(row)
        self.duplicate_rows.addStretch(1)
        self.title.setText(_("Possible duplicates ({count})").format(count=len(duplicates)))
        self.pages.setCurrentWidget(self.duplicates_page)
        self.other_person.setFocus()

    def _show_form(self) -> None:
        self.title.setText(_("New resident"))
        self.pages.setCurrentWidget(self.form_page)
        self.check_button.setFocus()

    def _create_pending(self) -> None:
        if self.pending is not None:
            self.create_resident(self.pending)

    # --- navigation --------------------------------------------------------------------

    def entered(self) -> None:
        super().entered()
        self.show_search(reset=True)

    def show_search(self, reset: bool = False) -> None:
        """The search page (emptied for a new resident)."""
        self.title.setText(_("Find the resident"))
        self.pages.setCurrentWidget(self.search_page)
        if reset:
            self.born.clear()
            self.letters.clear()
            self.pending = None
            for widget in self._fields().values():
                if isinstance(widget, QLineEdit):
                    widget.clear()
            for box in self.f_flags.values():
                box.setChecked(False)
            self.f_status.set_value(IdentityStatus.PROVISIONAL.value)
            self._mark_invalid(None)
            self.search()
        self.born.setFocus(Qt.FocusReason.OtherFocusReason)

    def back(self) -> None:
        """Escape: duplicates → form → search → Today."""
        page = self.pages.currentWidget()
        self.clear_error()
        if page is self.duplicates_page:
            self._show_form()
        elif page is self.form_page:
            self.show_search()
        else:
            self.navigate.emit("today")
