"""A camera's live picture on screen, pulled from ``Camera.latest`` by a timer.

The camera keeps only its latest frame (latest-frame semantics); the preview
looks at it ~20 times a second and paints it when it is new. Pulling rather
than pushing every frame keeps the GUI thread's work bounded whatever the
camera's rate: a busy camera never floods the event loop. OpenCV scales the
frame to the box once, before the QImage is made, so a 1920x1080 frame costs
a small copy and painting costs no scaling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

PREVIEW_FPS = 20


class FrameLike(Protocol):
    """What the preview needs of a frame (``devices.camera.frame.Frame``)."""

    @property
    def image(self) -> Any:
        """The picture (BGR or grey uint8)."""

    @property
    def sequence(self) -> int:
        """Frame counter of the camera."""


FrameSource = Callable[[], FrameLike | None]


def fitted_size(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """The largest size with the picture's aspect ratio that fits in the box."""
    scale = min(box_width / max(1, width), box_height / max(1, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_qimage(image: Any, max_width: int, max_height: int) -> QImage:
    """A BGR (or grey) uint8 image as a QImage fitted to the box (aspect kept).

    OpenCV scales it here, once per new frame (area averaging, SIMD, without the
    GIL), so painting is a plain copy: scaling in ``paintEvent`` with smoothing
    on every paint took the Qt thread several milliseconds per camera during a
    call (``bench/ui.py --profile-lag``)."""
    array = np.asarray(image)
    height, width = array.shape[:2]
    size = fitted_size(width, height, max_width, max_height)
    if size != (width, height):
        interpolation = cv2.INTER_AREA if size[0] < width else cv2.INTER_LINEAR
        array = cv2.resize(array, size, interpolation=interpolation)
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    if array.ndim == 2:
        qimage = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_Grayscale8)
    else:
        qimage = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_BGR888)
    return qimage.copy()  # own the pixels: the numpy buffer goes away


class VideoPreview(QWidget):
    """Paints the latest frame of ``source`` (a callable, e.g. ``lambda: camera.latest``),
    scaled to fit with its aspect ratio kept; ``placeholder`` shows while there is none."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder
        self.caption = ""
        self._source: FrameSource | None = None
        self._image: QImage | None = None
        self._sequence: int | None = None
        self.frames_shown = 0
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PREVIEW_FPS)
        self._timer.timeout.connect(self.pull)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(400, 225)

    def set_source(self, source: FrameSource | None) -> None:
        """Show another camera (or none); the picture is pulled while the widget lives."""
        self._source = source
        self._image, self._sequence = None, None
        if source is None:
            self._timer.stop()
        else:
            self._timer.start()
        self.update()

    def set_caption(self, caption: str) -> None:
        """A short text drawn over the picture's corner (which camera it is)."""
        self.caption = caption
        self.update()

    @property
    def has_picture(self) -> bool:
        """True once a frame has been painted."""
        return self._image is not None

    def pull(self) -> None:
        """Take the camera's latest frame if it is new (the timer calls this)."""
        if self._source is None or not self.isVisible():
            return
        try:
            frame = self._source()
        except Exception:  # a camera going away must not break the screen
            frame = None
        if frame is None or frame.sequence == self._sequence:
            return
        self._sequence = frame.sequence
        self._image = to_qimage(frame.image, max(1, self.width()), max(1, self.height()))
        self.frames_shown += 1
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1b2530"))
        if self._image is not None:
            scaled = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(self.rect().center())
            if target.size() != self._image.size():  # resized since: scale this once
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._image)
        elif self.placeholder:
            painter.setPen(QColor("#dfe7ee"))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
        if self.caption:
            metrics = painter.fontMetrics()
            box = QRect(8, 8, metrics.horizontalAdvance(self.caption) + 16, metrics.height() + 8)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor("white"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.caption)
        painter.end()
