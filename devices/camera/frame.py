"""What a camera hands out: frames of video and the kind of exam they serve.

A :class:`Frame` is immutable all the way down: the dataclass is frozen and
its pixel array is made read-only, because one frame object is shared by
every consumer (local preview, WebRTC track, snapshot) without copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Image: TypeAlias = npt.NDArray[np.uint8]
"""An 8-bit BGR picture, shape (height, width, 3), OpenCV's native layout."""

VIDEO_WIDTH = 1920
VIDEO_HEIGHT = 1080


class ExamKind(StrEnum):
    """What a camera is used to examine. Values are the stable names used in storage."""

    OTOSCOPE = "otoscope"
    DERMATOSCOPE = "dermatoscope"
    ROOM = "room"


def check_image(image: Image, what: str = "image") -> None:
    """Raise ``ValueError`` unless ``image`` is an 8-bit, 3-channel HxWx3 array."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be uint8 HxWx3 BGR, got {image.dtype} {image.shape}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture of a video stream.

    ``sequence`` counts frames delivered by the camera since it started
    (0, 1, 2, ...); a gap means frames were dropped because nobody asked for
    them in time, which is intended (latest-frame semantics).
    ``captured_at`` is the timezone-aware time the picture reached the
    station. The frame takes ownership of ``image`` and makes it read-only:
    copy it before drawing on it.
    """

    image: Image
    captured_at: datetime
    sequence: int
    width: int
    height: int

    def __post_init__(self) -> None:
        check_image(self.image, "Frame.image")
        if self.captured_at.tzinfo is None:
            raise ValueError("Frame.captured_at must be timezone-aware")
        if self.image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"Frame is {self.width}x{self.height} but its image is "
                f"{self.image.shape[1]}x{self.image.shape[0]}"
            )
        # Shared between consumers: a stray in-place draw must fail loudly.
        self.image.flags.writeable = False

    @classmethod
    def of(cls, image: Image, captured_at: datetime, sequence: int) -> Frame:
        """A frame whose width and height are read from ``image``."""
        return cls(image, captured_at, sequence, int(image.shape[1]), int(image.shape[0]))
