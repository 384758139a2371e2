"""Room scene: a nursing-home bedroom with a resident in bed, as the cart's room camera sees it.

Painted: a cream wall with a window (sky, clouds, tree tops), curtains and
a picture, a wooden floor, a medical bed with its headboard, pillow, the
resident's head and a blanket over the body, and a bedside table. The
camera sways very slightly on its cart and the blanket over the chest rises
and falls (about 15 breaths a minute), so a frozen stream shows at a glance.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from devices.camera.frame import ExamKind, Image
from devices.camera.scene import Scene, wander
from devices.camera.textures import (
    Field,
    blend,
    blurred,
    fractal_noise,
    grid,
    mask_of,
    radial_falloff,
    rounded,
    shade,
    smooth_noise,
    solid,
    weight,
)

WALL = (176.0, 199.0, 214.0)  # BGR
WOOD_FLOOR = (70.0, 112.0, 160.0)
SKY_TOP, SKY_LOW = (228.0, 188.0, 140.0), (238.0, 222.0, 200.0)
WHITE_PAINT = (232.0, 236.0, 238.0)
CURTAIN = (82.0, 128.0, 176.0)
SHEET = (226.0, 230.0, 232.0)
BLANKET = (170.0, 138.0, 104.0)
HEADBOARD = (60.0, 92.0, 132.0)
SKIN = (150.0, 172.0, 212.0)
GREY_HAIR = (200.0, 202.0, 206.0)
METAL = (150.0, 152.0, 155.0)
BREATHS_PER_SECOND = 0.25
CHEST = (0.50, 0.40, 0.66, 0.585)  # sensor fractions: the region that breathes


class RoomScene(Scene):
    """A resident's bedroom seen by the cart's room camera (1440p sensor)."""

    name = "room"
    exam = ExamKind.ROOM
    still_size = (2560, 1440)

    def __init__(self, seed: int = 7) -> None:
        super().__init__(seed)
        self._feathers: dict[tuple[int, int], Field] = {}

    def offset(self, t: float) -> tuple[float, float]:
        """A camera on a cart: a slow sway of a few pixels, no tremor."""
        return wander(t, (14.0, 6.0), (11.0, 13.0), tremor=0.6)

    def box(self, fx0: float, fy0: float, fx1: float, fy1: float) -> tuple[int, int, int, int]:
        """Texture pixel rectangle (x0, y0, x1, y1) from sensor fractions."""
        x0, y0 = self.sensor(fx0, fy0)
        x1, y1 = self.sensor(fx1, fy1)
        return round(x0), round(y0), round(x1), round(y1)

    def paint(self, height: int, width: int, rng: np.random.Generator) -> Field:
        """Wall and floor, window, furniture, bed and resident, then lens falloff."""
        image = solid(height, width, WALL)
        shade(image, 1.0 + 0.025 * fractal_noise(height, width, 60, rng, 3))
        _, x = grid(height, width)
        shade(image, 1.12 - 0.22 * x / np.float32(width))  # daylight from the window side
        self._floor(image, rng)
        self._window(image, rng)
        self._picture(image, rng)
        self._table(image, rng)
        self._bed(image, rng)
        center = self.sensor(0.5, 0.5)
        shade(image, radial_falloff(height, width, center, self.unit * 1.2, 0.25))
        return image

    def _fill(self, image: Field, box: tuple[int, int, int, int], color: tuple[float, ...],
              relief: float, rng: np.random.Generator, cell: float = 40) -> None:
        """A rectangle of ``color`` with some surface relief."""
        x0, y0, x1, y1 = box
        region = image[y0:y1, x0:x1]
        region[:] = color
        shade(region, 1.0 + relief * fractal_noise(y1 - y0, x1 - x0, cell, rng, 3))

    def _floor(self, image: Field, rng: np.random.Generator) -> None:
        height, width = image.shape[:2]
        top = self.box(0, 0.76, 0, 0)[1]
        floor = image[top:]
        floor[:] = WOOD_FLOOR
        rows = height - top
        grain = cv2.resize(rng.uniform(-1, 1, (rows // 3, width // 90)).astype(np.float32),
                           (width, rows), interpolation=cv2.INTER_CUBIC)
        shade(floor, 1.0 + 0.12 * grain)
        plank = 34
        for y0 in range(0, rows, plank):  # each plank its own tone, dark seams between
            floor[y0:y0 + plank] *= np.float32(rng.uniform(0.85, 1.1))
            floor[y0:y0 + 2] *= np.float32(0.55)
            for x0 in rng.integers(0, width, 3):
                floor[y0:y0 + plank, x0:x0 + 2] *= np.float32(0.6)
        image[top - 22:top] = WHITE_PAINT  # skirting board

    def _window(self, image: Field, rng: np.random.Generator) -> None:
        x0, y0, x1, y1 = self.box(0.05, 0.10, 0.29, 0.56)
        glass = image[y0:y1, x0:x1]
        y, _ = grid(y1 - y0, x1 - x0)
        glass[:] = SKY_LOW
        blend(glass, SKY_TOP, 1 - y / np.float32(y1 - y0))
        clouds = np.clip(fractal_noise(y1 - y0, x1 - x0, 160, rng, 4) * 1.8 - 0.2, 0, 1)
        blend(glass, (245.0, 245.0, 245.0), 0.8 * clouds)
        trees = mask_of(y1 - y0, x1 - x0)
        for _ in range(14):
            center = (int(rng.integers(0, x1 - x0)), int(rng.integers(int(0.8 * (y1 - y0)),
                                                                    y1 - y0)))
            cv2.circle(trees, center, int(rng.integers(40, 90)), 255, -1, cv2.LINE_AA)
        leaves = weight(trees, 3) * (0.75 + 0.25 * smooth_noise(y1 - y0, x1 - x0, 8, rng))
        blend(glass, (60.0, 110.0, 72.0), np.clip(leaves, 0, 1))
        frame = mask_of(*image.shape[:2])
        cv2.rectangle(frame, (x0, y0), (x1, y1), 255, 28)
        cv2.line(frame, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), 255, 18)
        cv2.line(frame, (x0, (y0 + 2 * y1) // 3), (x1, (y0 + 2 * y1) // 3), 255, 14)
        blend(image, WHITE_PAINT, weight(frame, 1.2))
        for fx0, fx1 in ((0.015, 0.075), (0.27, 0.33)):
            cx0, cy0, cx1, cy1 = self.box(fx0, 0.07, fx1, 0.66)
            curtain = image[cy0:cy1, cx0:cx1]
            curtain[:] = CURTAIN
            _, cx = grid(cy1 - cy0, cx1 - cx0)
            folds = np.sin(cx * np.float32(2 * math.pi / 46) + 2 * smooth_noise(
                cy1 - cy0, cx1 - cx0, 200, rng))
            shade(curtain, 0.82 + 0.18 * folds)

    def _picture(self, image: Field, rng: np.random.Generator) -> None:
        x0, y0, x1, y1 = self.box(0.58, 0.12, 0.76, 0.31)
        self._fill(image, (x0 - 16, y0 - 16, x1 + 16, y1 + 16), (40.0, 60.0, 90.0), 0.08, rng)
        painting = image[y0:y1, x0:x1]
        h, w = painting.shape[:2]
        painting[:] = (210.0, 190.0, 160.0)
        y, x = grid(h, w)
        hills = y > h * (0.55 + 0.12 * np.sin(x / np.float32(w) * 5.0)
                         + 0.05 * smooth_noise(h, w, 60, rng))
        blend(painting, (70.0, 140.0, 110.0), hills.astype(np.float32))
        sun = mask_of(h, w)
        cv2.circle(sun, (int(w * 0.72), int(h * 0.28)), h // 9, 255, -1, cv2.LINE_AA)
        blend(painting, (90.0, 200.0, 245.0), weight(sun, 2))
        shade(painting, 1.0 + 0.06 * fractal_noise(h, w, 12, rng, 2))  # brush strokes

    def _table(self, image: Field, rng: np.random.Generator) -> None:
        x0, y0, x1, y1 = self.box(0.20, 0.53, 0.31, 0.80)
        self._fill(image, (x0, y0, x1, y1), (58.0, 98.0, 150.0), 0.1, rng, 20)
        image[y0:y0 + 16, x0 - 8:x1 + 8] = (48.0, 82.0, 128.0)  # top edge
        drawer_y = y0 + (y1 - y0) // 3
        image[drawer_y:drawer_y + 4, x0 + 10:x1 - 10] *= np.float32(0.6)
        knob = ((x0 + x1) // 2, drawer_y + (y1 - y0) // 6)
        cv2.circle(image, knob, 9, (180.0, 190.0, 200.0), -1)
        gx0, gy1 = x0 + (x1 - x0) // 4, y0
        glass = image[gy1 - 110:gy1, gx0:gx0 + 60]
        blend(glass, (225.0, 215.0, 200.0), np.full(glass.shape[:2], 0.6, np.float32))

    def _bed(self, image: Field, rng: np.random.Generator) -> None:
        self._fill(image, self.box(0.355, 0.33, 0.395, 0.74), HEADBOARD, 0.1, rng, 15)
        self._fill(image, self.box(0.39, 0.67, 0.93, 0.70), METAL, 0.03, rng)  # frame rail
        for fx in (0.41, 0.90):
            x0, y0, x1, y1 = self.box(fx, 0.69, fx + 0.012, 0.79)
            image[y0:y1, x0:x1] = METAL
            cv2.circle(image, ((x0 + x1) // 2, y1), 22, (40.0, 40.0, 42.0), -1, cv2.LINE_AA)
        shadow = mask_of(*image.shape[:2])
        sx0, sy0, sx1, sy1 = self.box(0.40, 0.77, 0.93, 0.84)
        cv2.ellipse(shadow, ((sx0 + sx1) // 2, (sy0 + sy1) // 2), ((sx1 - sx0) // 2,
                    (sy1 - sy0) // 2), 0, 0, 360, 255, -1)
        shade(image, 1.0 - 0.35 * weight(shadow, 30))
        self._fill(image, self.box(0.39, 0.575, 0.93, 0.675), SHEET, 0.04, rng, 30)
        pillow = mask_of(*image.shape[:2])
        px0, py0, px1, py1 = self.box(0.405, 0.49, 0.52, 0.585)
        cv2.ellipse(pillow, ((px0 + px1) // 2, (py0 + py1) // 2), ((px1 - px0) // 2,
                    (py1 - py0) // 2), 0, 0, 360, 255, -1, cv2.LINE_AA)
        blend(image, SHEET, weight(pillow, 3))
        hx, hy = self.sensor(0.465, 0.50)
        head, hair = mask_of(*image.shape[:2]), mask_of(*image.shape[:2])
        axes = (round(0.045 * self.unit), round(0.06 * self.unit))
        cv2.ellipse(head, (round(hx), round(hy)), axes, 15, 0, 360, 255, -1, cv2.LINE_AA)
        cv2.ellipse(hair, (round(hx - 20), round(hy - 15)), axes, 15, 120, 330, 255, -1,
                    cv2.LINE_AA)
        blend(image, SKIN, weight(head, 2))
        blend(image, GREY_HAIR, weight(hair, 3) * 0.9)
        # Blanket: chest, belly, legs and feet under it, hanging over the bed side.
        outline = [(0.505, 0.56), (0.53, 0.475), (0.60, 0.455), (0.66, 0.49), (0.75, 0.515),
                   (0.86, 0.52), (0.89, 0.49), (0.915, 0.53), (0.93, 0.58), (0.935, 0.72),
                   (0.50, 0.72)]
        points = rounded(np.array([self.sensor(fx, fy) for fx, fy in outline], np.float64))
        bx0, by0 = np.floor(points.min(axis=0)).astype(int) - 8
        bx1, by1 = np.ceil(points.max(axis=0)).astype(int) + 8
        region = image[by0:by1, bx0:bx1]
        h, w = by1 - by0, bx1 - bx0
        blanket = mask_of(h, w)
        cv2.fillPoly(blanket, [np.round(points - (bx0, by0)).astype(np.int32)], 255, cv2.LINE_AA)
        cover = solid(h, w, BLANKET)
        shade(cover, 1.0 + 0.06 * fractal_noise(h, w, 70, rng, 3))
        gy, gx = grid(h, w)
        folds = np.sin((gx + 0.6 * gy) * np.float32(2 * math.pi / 140)
                       + 3 * smooth_noise(h, w, 180, rng))
        shade(cover, 1.0 + 0.07 * folds)
        blend(region, cover, blurred(weight(blanket), 2.5))

    def animate(self, view: Image, texture: Image, x0: int, y0: int, t: float,
                scale: float) -> None:
        """Breathing: the chest region stretches up and down from the mattress."""
        left, top, right, bottom = (round(v * scale) for v in self.box(*CHEST))
        rise = 0.035 * (0.5 - 0.5 * math.cos(2 * math.pi * BREATHS_PER_SECOND * t))
        source = texture[top:bottom, left:right]
        h, w = source.shape[:2]
        taller = cv2.resize(source, (w, round(h * (1 + rise))), interpolation=cv2.INTER_LINEAR)
        moved = taller[-h:].astype(np.float32)  # anchored on the mattress
        feather = self._feather(h, w)
        ry, rx = top - y0, left - x0
        target = view[ry:ry + h, rx:rx + w]
        if target.shape != moved.shape:  # the chest left the picture: nothing to animate
            return
        target[:] = np.round(moved * feather + target * (1 - feather)).astype(np.uint8)

    def _feather(self, height: int, width: int) -> Field:
        """A soft-edged weight so the stretched patch has no visible seam."""
        key = (height, width)
        if key not in self._feathers:
            canvas = np.zeros((height, width), np.float32)
            pad = max(2, height // 8)
            canvas[pad:-pad, pad:-pad] = 1.0
            self._feathers[key] = blurred(canvas, pad / 2)[:, :, None]
        return self._feathers[key]
