"""What a simulated camera looks at: a painted texture and how the view wanders over it.

A :class:`Scene` paints its texture once, at the resolution of the simulated
sensor's full-resolution still plus a margin, and keeps a copy downscaled to
video scale. Per video frame it only copies a shifted 1920x1080 window of
that copy (about a millisecond), animates small regions (breathing), adds
sensor grain from a precomputed tile and applies instrument-fixed overlays
(the otoscope's speculum). A still is the same window cut from the
full-resolution texture, so it has real extra detail, not upscaled pixels.

Geometry: the video is the sensor's central 16:9 band scaled to 1920 wide,
as UVC cameras with 4:3 sensors do; ``scale`` is video pixels per sensor pixel.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from typing import ClassVar, cast

import cv2
import numpy as np

from devices.camera.frame import VIDEO_HEIGHT, VIDEO_WIDTH, ExamKind, Image
from devices.camera.textures import Field, to_image

_GRAIN_PAD = 64  # the grain tile is this much bigger than a frame, to shift it around


def wander(t: float, amplitude: tuple[float, float], period: tuple[float, float],
           tremor: float = 0.0) -> tuple[float, float]:
    """A slow two-axis drift plus an optional hand tremor, in pixels, at time ``t`` (s).

    Incommensurate periods keep the path from visibly repeating.
    """
    x = amplitude[0] * math.sin(2 * math.pi * t / period[0])
    y = amplitude[1] * math.sin(2 * math.pi * t / period[1] + 1.1)
    x += tremor * (math.sin(2 * math.pi * 1.7 * t) + 0.5 * math.sin(2 * math.pi * 4.3 * t + 2))
    y += tremor * (math.sin(2 * math.pi * 1.3 * t + 0.7) + 0.5 * math.sin(2 * math.pi * 3.1 * t))
    return x, y


class Scene(ABC):
    """A simulated camera's subject: textures painted once, frames cut from them cheaply."""

    name: ClassVar[str]
    exam: ClassVar[ExamKind]
    still_size: ClassVar[tuple[int, int]]  # the simulated sensor, (width, height)
    margin: ClassVar[int] = 160  # sensor pixels of texture around the sensor, for the drift

    def __init__(self, seed: int = 7,
                 video_size: tuple[int, int] = (VIDEO_WIDTH, VIDEO_HEIGHT)) -> None:
        self.seed = seed
        width, height = self.still_size
        full = (height + 2 * self.margin, width + 2 * self.margin)
        self.master: Image = to_image(self.paint(full[0], full[1], np.random.default_rng(seed)))
        self._set_video(video_size)

    def _set_video(self, video_size: tuple[int, int]) -> None:
        """Prepare the video mode: the texture scaled once, the grain, the view's origin."""
        rng = np.random.default_rng(self.seed + 2)
        width, height = self.still_size
        self.video_width, self.video_height = video_size
        self.scale = self.video_width / width
        full = self.master.shape
        scaled = (round(full[1] * self.scale), round(full[0] * self.scale))
        self.video = cast(Image, cv2.resize(self.master, scaled, interpolation=cv2.INTER_AREA))
        band = (height - self.video_height / self.scale) / 2  # sensor rows above the video
        self._origin = (self.margin * self.scale, (self.margin + band) * self.scale)
        self._grain: Image = rng.integers(0, 7, (self.video_height + _GRAIN_PAD,
                                                 self.video_width + _GRAIN_PAD, 3),
                                          dtype=np.uint8)
        self._frame_rng = np.random.default_rng(self.seed + 1)

    def in_video_mode(self, video_size: tuple[int, int]) -> Scene:
        """The same painted subject filmed in another video mode (sharing the painting)."""
        if video_size == (self.video_width, self.video_height):
            return self
        other = copy.copy(self)
        other._set_video(video_size)
        return other

    def sensor(self, fx: float, fy: float) -> tuple[float, float]:
        """Texture coordinates of a point given as fractions of the sensor (0..1)."""
        return (self.margin + fx * self.still_size[0], self.margin + fy * self.still_size[1])

    @property
    def unit(self) -> float:
        """The sensor height in texture pixels: painters size things relative to it."""
        return float(self.still_size[1])

    @abstractmethod
    def paint(self, height: int, width: int, rng: np.random.Generator) -> Field:
        """Paint the full-resolution texture (float BGR, sensor at ``margin``)."""

    @abstractmethod
    def offset(self, t: float) -> tuple[float, float]:
        """Where the view has wandered at time ``t`` (s), in pixels of a 1920x1080 video."""

    def animate(self, view: Image, texture: Image, x0: int, y0: int, t: float,  # noqa: B027
                scale: float) -> None:
        """Animate regions of ``view`` in place (``view`` is ``texture`` cut at x0, y0).

        ``scale`` is texture pixels per sensor pixel. Default: nothing moves.
        """

    def instrument(self, view: Image) -> Image:
        """Overlay what is fixed to the camera, not the subject. Default: nothing."""
        return view

    def frame(self, t: float, grain: tuple[int, int] | None = None) -> Image:
        """A video frame (1920x1080 unless another video mode was chosen) at time ``t``
        (seconds since the stream started); ``grain`` fixes the sensor noise's offset
        (random otherwise), so that a frame can be rendered again identically."""
        dx, dy = self.offset(t)
        dx, dy = dx * self.video_width / VIDEO_WIDTH, dy * self.video_width / VIDEO_WIDTH
        x0, y0 = round(self._origin[0] + dx), round(self._origin[1] + dy)
        width, height = self.video_width, self.video_height
        view = self.video[y0:y0 + height, x0:x0 + width].copy()
        self.animate(view, self.video, x0, y0, t, self.scale)
        gx, gy = grain if grain is not None else self._frame_rng.integers(0, _GRAIN_PAD, 2)
        cv2.add(view, self._grain[gy:gy + height, gx:gx + width], dst=view)
        return self.instrument(view)

    def still(self, t: float) -> Image:
        """A full-resolution still (``still_size``) of the same view at time ``t``."""
        dx, dy = self.offset(t)
        width, height = self.still_size
        x0 = round(self.margin + dx * width / VIDEO_WIDTH)  # offsets are in 1080p pixels
        y0 = round(self.margin + dy * width / VIDEO_WIDTH)
        view = self.master[y0:y0 + height, x0:x0 + width].copy()
        self.animate(view, self.master, x0, y0, t, 1.0)
        return self.instrument(view)
