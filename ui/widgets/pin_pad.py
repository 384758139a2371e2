"""A numeric keypad for gloved fingers, typing into a line edit (the keyboard works too)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QWidget

from ui.i18n import _

KEY_PX = 72


class PinPad(QWidget):
    """Digits 0-9, erase and confirm; ``confirmed`` when the nurse taps OK.

    The keys type into ``target``, which :meth:`set_target` may change (one pad
    serving two fields, e.g. a new PIN and its repetition).
    """

    confirmed = Signal()

    def __init__(self, target: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = target
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(10)
        self.keys: dict[str, QPushButton] = {}
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "erase", "0", "ok"]
        for index, key in enumerate(keys):
            if key == "erase":
                button = QPushButton("⌫")
                button.setAccessibleName(_("Erase"))
                button.clicked.connect(self._erase)
            elif key == "ok":
                button = QPushButton(_("OK"))
                button.setProperty("kind", "primary")
                button.clicked.connect(self.confirmed)
            else:
                button = QPushButton(key)
                button.clicked.connect(lambda _checked=False, key=key: self._type(key))
            button.setObjectName(f"pin-key-{key}")
            button.setFixedSize(KEY_PX + 24, KEY_PX)
            button.setStyleSheet("font-size: 20pt;")
            # The keypad never takes the focus: typed keys keep going to the field.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            grid.addWidget(button, index // 3, index % 3)
            self.keys[key] = button

    def set_target(self, target: QLineEdit) -> None:
        """Type into ``target`` from now on."""
        self.target = target

    def _type(self, key: str) -> None:
        self.target.insert(key)

    def _erase(self) -> None:
        self.target.backspace()
