"""A QR code of the doctor's link, drawn by segno (PNG bytes → QPixmap)."""

from __future__ import annotations

import io

import segno
from PySide6.QtGui import QPixmap


def qr_png(text: str, scale: int = 4) -> bytes:
    """``text`` as a QR code PNG (error correction M, a quiet zone of 4 modules)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_pixmap(text: str, size_px: int = 160) -> QPixmap:
    """A QR code of ``text`` about ``size_px`` wide (whole modules: never blurred)."""
    modules = int(segno.make(text, error="m", micro=False).symbol_size(scale=1, border=4)[0])
    pixmap = QPixmap()
    pixmap.loadFromData(qr_png(text, scale=max(1, size_px // modules)), "PNG")
    return pixmap
