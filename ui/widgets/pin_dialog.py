"""« My PIN »: the signed-in nurse sets or changes her unlock PIN.

She types her password, then the new PIN twice (on the keypad or the
keyboard). Every check (the password and its lockout, the PIN's rules, the two
entries matching) is the core's (:func:`station.store.pins.change_own_pin`);
this dialog only shows what the core answers and what to do next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.errors import AccountLockedError, SignInError, ValidationError
from station.store.pins import MAX_DIGITS, MIN_DIGITS, PinMismatchError
from ui.formatting import sentence
from ui.i18n import _
from ui.screens.signin import field_label
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS
from ui.widgets.pin_pad import PinPad

if TYPE_CHECKING:
    from ui.controller import StationController


def secret_field(name: str) -> QLineEdit:
    """A masked line edit (password or PIN)."""
    field = QLineEdit()
    field.setObjectName(name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class PinDialog(QDialog):
    """Password, new PIN, the same PIN again; « Save » asks the core, « Cancel » leaves.

    ``accepted`` once the core stored the PIN; refused, the dialog stays open
    with the reason and nothing is stored.
    """

    def __init__(self, controller: StationController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("pin-dialog")
        self.setWindowTitle(_("My PIN"))
        self.setModal(True)
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        self.password = secret_field("pin-password")
        self.pin = secret_field("pin-new")
        self.repeat = secret_field("pin-repeat")
        self.pad = PinPad(self.pin)
        self.error = QLabel()
        self.error.setObjectName("pin-error")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.save = QPushButton(_("Save the PIN"))
        self.save.setObjectName("pin-save")
        self.save.setProperty("kind", "primary")
        self.cancel = QPushButton(_("Cancel"))
        self.cancel.setObjectName("pin-cancel")
        self._lay_out()
        self._connect()
        self.password.setFocus()

    def _lay_out(self) -> None:
        heading = QLabel(_("Change your PIN") if self.controller.has_pin()
                         else _("Choose a PIN"))
        heading.setStyleSheet("font-size: 17pt; font-weight: 600;")
        hint = QLabel(_("{min} to {max} digits, to unlock the station quickly. Your password "
                        "comes first: the PIN opens a session holding health data.").format(
                            min=MIN_DIGITS, max=MAX_DIGITS))
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        fields = QVBoxLayout()
        fields.setSpacing(8)
        for label, field in ((_("Your password"), self.password), (_("New PIN"), self.pin),
                             (_("The same PIN again"), self.repeat)):
            fields.addWidget(field_label(label, field))
            fields.addWidget(field)
        fields.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(24)
        columns.addLayout(fields, 1)
        columns.addWidget(self.pad, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 22, 28, 22)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addLayout(columns, 1)
        layout.addLayout(buttons)
        self.resize(840, 640)  # room for the keypad and a three-line error above it

    def _connect(self) -> None:
        # Enter is handled by each field (on to the next, or save): no default button,
        # which a dialog would press as well.
        for button in (self.save, self.cancel, *self.pad.keys.values()):
            button.setAutoDefault(False)
        self.setTabOrder(self.password, self.pin)
        self.setTabOrder(self.pin, self.repeat)
        self.setTabOrder(self.repeat, self.save)
        self.setTabOrder(self.save, self.cancel)
        # The keypad types into whichever PIN field has the focus.
        self.pin.installEventFilter(self)
        self.repeat.installEventFilter(self)
        self.password.returnPressed.connect(self.pin.setFocus)
        self.pin.returnPressed.connect(self.repeat.setFocus)
        self.repeat.returnPressed.connect(self.submit)
        self.pad.confirmed.connect(self._pad_ok)
        self.save.clicked.connect(self.submit)
        self.cancel.clicked.connect(self.reject)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Point the keypad at the PIN field that just got the focus."""
        if event.type() == QEvent.Type.FocusIn and isinstance(watched, QLineEdit):
            self.pad.set_target(watched)
        return super().eventFilter(watched, event)

    def _pad_ok(self) -> None:
        """OK on the keypad: from the new PIN on to its repetition, then save."""
        if self.pad.target is self.pin:
            self.repeat.setFocus()
        else:
            self.submit()

    def submit(self) -> None:
        """Ask the core to store the PIN; on refusal say why and what to do."""
        if not self.password.text():
            self._refuse(_("Type your password."), "", self.password)
            return
        try:
            self.controller.set_own_pin(self.password.text(), self.pin.text(),
                                        self.repeat.text())
        except PinMismatchError as error:
            self._refuse(sentence(error.message), _("Type the new PIN twice, the same."),
                         self.pin, clear=(self.pin, self.repeat))
        except ValidationError as error:
            self._refuse(sentence(error.message), _("Choose another PIN and type it twice."),
                         self.pin, clear=(self.pin, self.repeat))
        except AccountLockedError as error:
            self._refuse(sentence(error.message), _("Wait, then try again."), self.password,
                         clear=(self.password,))
        except SignInError as error:
            self._refuse(sentence(error.message),
                         _("Type your password again (capital letters count)."),
                         self.password, clear=(self.password,))
        else:
            self.accept()

    def _refuse(self, message: str, what_to_do: str, focus: QLineEdit,
                clear: tuple[QLineEdit, ...] = ()) -> None:
        text = message if not what_to_do else f"{message}\n{_('What to do:')} {what_to_do}"
        self.error.setText(text)
        self.error.show()
        for field in clear:
            field.clear()
        focus.setFocus()
