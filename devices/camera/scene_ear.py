"""Otoscope scene: a right tympanic membrane at the end of the ear canal, seen through a speculum.

Painted: pink canal skin with fine vessels and a crumb of wax, the pearly
grey membrane with its whiter annulus, radial fibres, the malleus handle
ending in the short process, the pars flaccida above it, and the cone of
light pointing antero-inferiorly (5 o'clock for a right ear). The speculum
is fixed to the camera, not the ear: everything outside its circle is black
and the lamp falls off towards the rim; the membrane drifts behind it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from devices.camera.frame import ExamKind, Image
from devices.camera.scene import Scene, wander
from devices.camera.textures import (
    Field,
    bezier,
    blend,
    fractal_noise,
    grid,
    mask_of,
    shade,
    smooth_noise,
    solid,
    weight,
)

CANAL = (112.0, 128.0, 205.0)  # BGR
MEMBRANE = (176.0, 176.0, 182.0)
ANNULUS = (200.0, 206.0, 228.0)
MALLEUS = (188.0, 208.0, 224.0)
FLACCIDA = (128.0, 140.0, 205.0)
VESSEL = (70.0, 70.0, 170.0)
WAX = (40.0, 105.0, 160.0)
SPECULUM_RADIUS = 0.47  # of the video height


class EardrumScene(Scene):
    """A healthy right tympanic membrane through a video otoscope (5 MP sensor)."""

    name = "otoscope"
    exam = ExamKind.OTOSCOPE
    still_size = (2592, 1944)

    def __init__(self, seed: int = 7) -> None:
        super().__init__(seed)
        self._vignettes: dict[tuple[int, int], tuple[slice, slice, Image]] = {}

    def offset(self, t: float) -> tuple[float, float]:
        """The speculum in a moving ear: small drift and a visible tremor."""
        return wander(t, (35.0, 25.0), (6.1, 8.3), tremor=3.0)

    def paint(self, height: int, width: int, rng: np.random.Generator) -> Field:
        """Canal, membrane, ossicle landmarks, light reflex."""
        image = solid(height, width, CANAL)
        shade(image, 1.0 + 0.08 * fractal_noise(height, width, 200, rng))
        cx, cy = self.sensor(0.5, 0.5)
        rx, ry, tilt = 0.21 * self.unit, 0.245 * self.unit, -20.0
        y, x = grid(height, width)
        depth = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
        shade(image, 0.72 + 0.28 * np.clip((depth - 1.0) / 0.8, 0, 1))  # deeper is darker
        self._vessels(image, (cx, cy), (rx, ry), rng)
        wax = mask_of(height, width)
        cv2.ellipse(wax, (round(cx - 1.25 * rx), round(cy + 0.8 * ry)), (70, 45), 30, 0, 360,
                    255, -1, cv2.LINE_AA)
        blend(image, WAX, 0.85 * weight(wax, 6) * (0.8 + 0.2 * smooth_noise(height, width, 20,
                                                                          rng)))
        self._membrane(image, (cx, cy), (rx, ry), tilt, rng)
        image += rng.normal(0.0, 1.5, (height, width, 1)).astype(np.float32)
        return image

    def _vessels(self, image: Field, center: tuple[float, float], radii: tuple[float, float],
                 rng: np.random.Generator) -> None:
        canvas = mask_of(*image.shape[:2])
        for _ in range(7):
            a = rng.uniform(0, 2 * math.pi)
            r0, r1 = rng.uniform(1.05, 1.15), rng.uniform(1.3, 1.6)
            a2 = a + rng.normal(0, 0.25)
            start = (center[0] + r0 * radii[0] * math.cos(a),
                     center[1] + r0 * radii[1] * math.sin(a))
            end = (center[0] + r1 * radii[0] * math.cos(a2),
                   center[1] + r1 * radii[1] * math.sin(a2))
            bend = ((start[0] + end[0]) / 2 + rng.normal(0, 25), (start[1] + end[1]) / 2
                    + rng.normal(0, 25))
            cv2.polylines(canvas, [bezier(start, bend, end)], False, 255,
                          int(rng.integers(2, 4)), cv2.LINE_AA)
        blend(image, VESSEL, 0.4 * weight(canvas, 2.0))

    def _membrane(self, image: Field, center: tuple[float, float], radii: tuple[float, float],
                  tilt: float, rng: np.random.Generator) -> None:
        # Work in the membrane's bounding box only.
        left, top = round(center[0] - 1.2 * radii[1]), round(center[1] - 1.2 * radii[1])
        box = image[top:round(center[1] + 1.2 * radii[1]), left:round(center[0] + 1.2 * radii[1])]
        cx, cy = center[0] - left, center[1] - top
        height, width = box.shape[:2]
        axes = (round(radii[0]), round(radii[1]))
        outline = mask_of(height, width)
        cv2.ellipse(outline, (round(cx), round(cy)), axes, tilt, 0, 360, 255, -1, cv2.LINE_AA)
        ux, uy = cx + 0.06 * radii[0], cy + 0.08 * radii[1]  # umbo, just below the centre
        y, x = grid(height, width)
        r = np.sqrt(((x - ux) / radii[0]) ** 2 + ((y - uy) / radii[1]) ** 2)
        theta = np.arctan2(y - uy, x - ux)
        membrane = solid(height, width, MEMBRANE)
        shade(membrane, 0.86 + 0.16 * np.clip(r, 0, 1))  # concave: darker at the umbo
        membrane[:, :, 2] += 14 * np.clip(r - 0.5, 0, 1)  # pinker, thinner periphery
        fibres = np.sin(theta * 90 + 6 * fractal_noise(height, width, 60, rng, 2))
        shade(membrane, 1.0 + 0.012 * fibres + 0.05 * fractal_noise(height, width, 90, rng, 3))
        membrane[:, :, 2] += 8 * fractal_noise(height, width, 70, rng, 2)  # translucent mottling
        # The incus and promontory shadow show through, behind and above the umbo.
        shadow = np.exp(-(((x - (ux - 0.45 * radii[0])) / (0.25 * radii[0])) ** 2
                          + ((y - (uy - 0.35 * radii[1])) / (0.35 * radii[1])) ** 2))
        shade(membrane, 1.0 - 0.13 * shadow)
        blend(box, membrane, weight(outline, 2.5))

        annulus = mask_of(height, width)
        cv2.ellipse(annulus, (round(cx), round(cy)), axes, tilt, 0, 360, 255, 22, cv2.LINE_AA)
        blend(box, ANNULUS, 0.7 * weight(annulus, 7))

        short = (ux + 0.22 * radii[0], uy - 0.78 * radii[1])  # short process, upper front
        handle = mask_of(height, width)
        path = bezier((ux, uy), ((ux + short[0]) / 2 + 14, (uy + short[1]) / 2), short, 12)
        for i in range(len(path) - 1):  # tapering towards the umbo
            cv2.line(handle, tuple(path[i, 0]), tuple(path[i + 1, 0]), 255, 22 + 3 * i,
                     cv2.LINE_AA)
        cv2.circle(handle, (round(short[0]), round(short[1])), 24, 255, -1, cv2.LINE_AA)
        flaccida = mask_of(height, width)
        cv2.ellipse(flaccida, (round(short[0] - 10), round(short[1] - 50)), (80, 40), -10, 0,
                    360, 255, -1, cv2.LINE_AA)
        blend(box, FLACCIDA, 0.45 * weight(flaccida, 18))
        blend(box, MALLEUS, 0.7 * weight(handle, 7))

        # Cone of light: apex at the umbo, opening towards 5 o'clock, brighter outwards.
        direction, spread, reach = math.radians(55), math.radians(11), 0.8
        corners = [(ux, uy)] + [
            (ux + reach * radii[0] * math.cos(direction + s),
             uy + reach * radii[1] * math.sin(direction + s)) for s in (-spread, spread)
        ]
        cone = mask_of(height, width)
        cv2.fillPoly(cone, [np.round(np.array(corners)).astype(np.int32)], 255, cv2.LINE_AA)
        blend(box, (250.0, 250.0, 248.0), 0.85 * weight(cone, 16) * np.clip(0.2 + r, 0, 1))

    def instrument(self, view: Image) -> Image:
        """Black outside the speculum, lamp falling off towards its rim."""
        rows, cols, gain = self._vignette(view.shape[0], view.shape[1])
        lit = cv2.multiply(view[rows, cols], gain, scale=1 / 255)
        view[:] = 0
        view[rows, cols] = lit
        return view

    def _vignette(self, height: int, width: int) -> tuple[slice, slice, Image]:
        """The speculum's gain for a picture of this size (8-bit, cached, bounding box only)."""
        key = (height, width)
        if key not in self._vignettes:
            # a fraction of the 16:9 band's height: the video's, or the still's
            radius = SPECULUM_RADIUS * width * 9 / 16
            cx, cy = width / 2, height / 2
            rows = slice(max(0, round(cy - radius) - 2), min(height, round(cy + radius) + 2))
            cols = slice(max(0, round(cx - radius) - 2), min(width, round(cx + radius) + 2))
            y, x = grid(rows.stop - rows.start, cols.stop - cols.start)
            r = np.sqrt((x + cols.start - cx) ** 2 + (y + rows.start - cy) ** 2) / radius
            lamp = np.clip(1.0 - 0.55 * r**4, 0, 1) * np.clip((1.0 - r) * radius / 2 + 0.5, 0, 1)
            gain = np.repeat(np.round(lamp * 255).astype(np.uint8)[:, :, None], 3, axis=2)
            self._vignettes[key] = (rows, cols, gain)
        return self._vignettes[key]
