"""The look: touch-first (every target at least 48 px), readable at arm's length,
high contrast, no hover-only action. One stylesheet for the whole app."""

from __future__ import annotations

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
    min-height: {MIN_TARGET_PX}px; min-width: {MIN_TARGET_PX}px; padding: 6px 18px;
    border: 1px solid #9fb3c3; border-radius: 8px; background: white;
}}
QPushButton:focus, QToolButton:focus, QLineEdit:focus, QComboBox:focus {{
    border: 3px solid {ACCENT};
}}
QPushButton[kind="primary"] {{ background: {ACCENT}; color: {ACCENT_INK}; border-color: {ACCENT};
    font-weight: 600; }}
QPushButton[kind="danger"] {{ background: {DANGER}; color: white; border-color: {DANGER};
    font-weight: 600; }}
QPushButton:disabled {{ background: #e3e8ec; color: #7d8b97; border-color: #cfd8df; }}
QLineEdit, QComboBox, QDateEdit, QTextEdit, QPlainTextEdit {{
    min-height: {MIN_TARGET_PX}px; padding: 4px 10px; border: 1px solid #9fb3c3;
    border-radius: 8px; background: white;
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
