"""``python -m ui``: the nurse's app."""

from ui.app import entry

entry()
