"""The preview's picture: scaled once to its box with the aspect ratio kept, colours
right (BGR in, the same colour on screen)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from ui.app import make_application
from ui.widgets.video_preview import fitted_size, to_qimage


def test_a_full_hd_frame_is_fitted_to_the_box_keeping_its_shape() -> None:
    make_application()
    assert fitted_size(1920, 1080, 400, 300) == (400, 225)
    assert fitted_size(1280, 720, 300, 400) == (300, 169)
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[:, :960] = (0, 0, 255)  # BGR red on the left half
    frame[:, 960:] = (255, 0, 0)  # blue on the right
    image = to_qimage(frame, 400, 300)
    assert (image.width(), image.height()) == (400, 225)
    assert image.pixelColor(50, 100) == QColor(255, 0, 0)
    assert image.pixelColor(350, 100) == QColor(0, 0, 255)


def test_a_grey_frame_already_at_size_is_kept_as_it_is() -> None:
    make_application()
    frame = np.full((225, 400), 128, np.uint8)
    image = to_qimage(frame, 400, 300)
    assert (image.width(), image.height()) == (400, 225)
    assert image.pixelColor(10, 10) == QColor(128, 128, 128)
