"""The look: touch-first (every target at least 48 px), readable at arm's length,
high contrast, no hover-only action. One stylesheet for the whole app."""

from __future__ import annotations

from resources import resource_path

MIN_TARGET_PX = 48  # WCAG / Material minimum touch target; gloved fingers need it
BASE_FONT_PT = 13

ACCENT = "#0b5f8a"
ACCENT_INK = "#ffffff"
DANGER = "#b3261e"
OK = "#1e7b3c"
WARN = "#9a6700"
SURFACE = "#f4f7f9"
INK = "#17222e"
MUTED = "#4d5d6c"
# The focus ring of buttons filled with a colour (primary, danger): an accent ring
# would vanish into an accent fill. Amber stands out from both fills (>= 4:1).
FOCUS_ON_FILL = "#ffbf47"

# Borders are 1 px, focus rings 3 px. A focused widget's padding gives back the
# 2 px its ring takes, so the content box stays the same and its text is neither
# clipped nor shifted: padding + border is constant.
BORDER_PX, FOCUS_PX = 1, 3
# For a widget whose own style sheet fills its checked buttons with the accent
# (its own sheet outranks this one, so the rule must go there too).
CHECKED_FOCUS = f"QPushButton:checked:focus {{ border-color: {FOCUS_ON_FILL}; }}"
BUTTON_PAD = (6, 18)  # vertical, horizontal
FIELD_PAD = (4, 10)


def _padding(pad: tuple[int, int], border_px: int) -> str:
    """The padding that keeps the content box of a widget with a ``border_px`` border."""
    give = border_px - BORDER_PX
    return f"padding: {pad[0] - give}px {pad[1] - give}px;"


# A plain chevron: the platform's drop-down button clashes with the rounded fields.
CHEVRON = resource_path("icons", "chevron-down.svg").as_posix()

STYLESHEET = f"""
QWidget {{ font-size: {BASE_FONT_PT}pt; color: {INK}; }}
QMainWindow, QStackedWidget > QWidget {{ background: {SURFACE}; }}
QLabel[role="title"] {{ font-size: 22pt; font-weight: 600; }}
QLabel[role="subtitle"] {{ font-size: 14pt; color: {MUTED}; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="error"] {{ color: {DANGER}; font-weight: 600; }}
QLabel[role="badge"] {{ border-radius: 6px; padding: 4px 10px; font-weight: 600; }}
QLabel[status="qualifiee"] {{ background: #dff3e6; color: {OK}; }}
QLabel[status="validee"], QLabel[status="recuperee"] {{ background: #e4eef6; color: {ACCENT}; }}
QLabel[status="provisoire"] {{ background: #fff1d6; color: {WARN}; }}
QPushButton, QToolButton {{
    min-height: {MIN_TARGET_PX}px; min-width: {MIN_TARGET_PX}px; {_padding(BUTTON_PAD, BORDER_PX)}
    border: {BORDER_PX}px solid #9fb3c3; border-radius: 8px; background: white;
}}
QPushButton[kind="primary"] {{ background: {ACCENT}; color: {ACCENT_INK}; border-color: {ACCENT};
    font-weight: 600; }}
QPushButton[kind="danger"] {{ background: {DANGER}; color: white; border-color: {DANGER};
    font-weight: 600; }}
QPushButton:disabled {{ background: #e3e8ec; color: #7d8b97; border-color: #cfd8df; }}
QLineEdit, QComboBox, QDateEdit, QTextEdit, QPlainTextEdit {{
    min-height: {MIN_TARGET_PX}px; {_padding(FIELD_PAD, BORDER_PX)}
    border: {BORDER_PX}px solid #9fb3c3; border-radius: 8px; background: white;
}}
QPushButton:focus, QToolButton:focus {{
    border-width: {FOCUS_PX}px; border-color: {ACCENT}; {_padding(BUTTON_PAD, FOCUS_PX)}
}}
QPushButton[kind="primary"]:focus, QPushButton[kind="danger"]:focus {{
    border-color: {FOCUS_ON_FILL};
}}
QComboBox::drop-down {{ subcontrol-origin: padding; subcontrol-position: center right;
    width: 36px; border: none; }}
QComboBox::down-arrow {{ image: url("{CHEVRON}"); width: 20px; height: 20px; }}
QLineEdit:focus, QComboBox:focus, QDateEdit:focus, QTextEdit:focus, QPlainTextEdit:focus {{
    border-width: {FOCUS_PX}px; border-color: {ACCENT}; {_padding(FIELD_PAD, FOCUS_PX)}
}}
QCheckBox, QRadioButton {{ min-height: {MIN_TARGET_PX}px; spacing: 12px; }}
QCheckBox::indicator, QRadioButton::indicator {{ width: 28px; height: 28px; }}
QListWidget::item {{ min-height: {MIN_TARGET_PX}px; padding: 4px; }}
QFrame[role="card"] {{ background: white; border: 1px solid #d5dee5; border-radius: 10px; }}
QFrame[role="banner-error"] {{ background: #fde7e5; border: 1px solid {DANGER};
    border-radius: 8px; }}
QFrame[role="banner-info"] {{ background: #e4eef6; border: 1px solid {ACCENT};
    border-radius: 8px; }}
"""
