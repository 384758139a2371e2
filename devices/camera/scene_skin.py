"""Dermatoscope scene: an irregular pigmented lesion on textured skin, crossed by hairs.

Painted features a dermatologist would expect to see at x10: skin furrows
and follicle openings, an asymmetric lesion with a partly sharp, partly
fading border, a reticular pigment network, dark globules, a blue-grey veil
and terminal hairs. Values are chosen by eye, not from an atlas.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from devices.camera.frame import ExamKind
from devices.camera.scene import Scene, wander
from devices.camera.textures import (
    Field,
    bezier,
    blend,
    blob,
    blurred,
    cell_borders,
    fractal_noise,
    grid,
    mask_of,
    radial_falloff,
    shade,
    smooth_noise,
    solid,
    weight,
)

SKIN = (150.0, 172.0, 220.0)  # BGR, fair skin under polarised light
LIGHT_BROWN = (78.0, 112.0, 168.0)
DARK_BROWN = (28.0, 42.0, 78.0)
VEIL = (150.0, 125.0, 115.0)  # blue-grey
HAIR = (30.0, 36.0, 48.0)


class SkinLesionScene(Scene):
    """A pigmented skin lesion as seen through a contact dermatoscope (5 MP sensor)."""

    name = "dermatoscope"
    exam = ExamKind.DERMATOSCOPE
    still_size = (2592, 1944)

    def offset(self, t: float) -> tuple[float, float]:
        """Hand-held: a slow drift of a few tens of pixels and a light tremor."""
        return wander(t, (45.0, 30.0), (9.0, 7.3), tremor=2.5)

    def paint(self, height: int, width: int, rng: np.random.Generator) -> Field:
        """Skin, lesion, hairs, then the dermatoscope's even but not perfect lighting."""
        image = solid(height, width, SKIN)
        self._skin(image, rng)
        self._lesion(image, rng)
        self._hairs(image, rng)
        center = self.sensor(0.5, 0.5)
        shade(image, radial_falloff(height, width, center, self.unit * 0.9, 0.18))
        image += rng.normal(0.0, 2.0, (height, width, 1)).astype(np.float32)  # fine grain
        return image

    def _skin(self, image: Field, rng: np.random.Generator) -> None:
        height, width = image.shape[:2]
        shade(image, 1.0 + 0.06 * fractal_noise(height, width, 500, rng))
        redness = fractal_noise(height, width, 300, rng, octaves=3)
        image[:, :, 2] += 10 * redness
        image[:, :, 1] -= 8 * np.maximum(redness, 0)
        furrows = mask_of(height, width)
        for angle in (rng.uniform(20, 40), rng.uniform(-55, -35), rng.uniform(80, 100)):
            for _ in range(height * width // 2500):
                x, y = rng.uniform(0, width), rng.uniform(0, height)
                length, a = rng.uniform(15, 70), math.radians(angle + rng.normal(0, 10))
                end = (round(x + length * math.cos(a)), round(y + length * math.sin(a)))
                cv2.line(furrows, (round(x), round(y)), end, 255, 1, cv2.LINE_AA)
        shade(image, 1.0 - 0.11 * weight(furrows, 1.6))
        pores = mask_of(height, width)
        for _ in range(height * width // 9000):
            center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(pores, center, int(rng.integers(2, 5)), 255, -1, cv2.LINE_AA)
        shade(image, 1.0 - 0.22 * weight(pores, 1.5))

    def _lesion(self, image: Field, rng: np.random.Generator) -> None:
        radius = 0.24 * self.unit
        cx, cy = self.sensor(0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.04, 0.04))
        # Work on the lesion's surroundings only: a third of the texture, three times faster.
        left, top = round(cx - 1.7 * radius), round(cy - 1.7 * radius)
        image = image[top:round(cy + 1.7 * radius), left:round(cx + 1.7 * radius)]
        cx, cy = cx - left, cy - top
        height, width = image.shape[:2]
        outline = mask_of(height, width)
        cv2.fillPoly(outline, [blob((cx, cy), radius, rng, roughness=0.2, lobes=9)], 255)
        # Part of the border is sharp, part fades out: a classic worrying sign.
        sharpness = (smooth_noise(height, width, 260, rng) + 1) / 2
        extent = weight(outline, 4) * sharpness + weight(outline, 28) * (1 - sharpness)

        y, x = grid(height, width)
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / np.float32(radius)
        bx, by = cx + 0.3 * radius, cy - 0.2 * radius  # off-centre dark blotch: asymmetry
        blotch = np.exp(-((x - bx) ** 2 + (y - by) ** 2) / np.float32(2 * (0.32 * radius) ** 2))
        darkness = 0.25 + 0.3 * np.clip(1 - r, 0, 1) ** 0.6 + 0.45 * blotch
        darkness += 0.22 * fractal_noise(height, width, 110, rng)
        darkness = np.clip(darkness, 0, 1)
        lesion = solid(height, width, LIGHT_BROWN)
        blend(lesion, DARK_BROWN, darkness)

        # Pigment network: an irregular honeycomb, patchy, clearest towards the rim.
        lines = cell_borders(height, width, 28, rng, sigma=2.4) * 2.4
        patchy = np.clip(0.5 + 1.2 * smooth_noise(height, width, 120, rng), 0, 1)
        rim = np.clip(1.6 * r - 0.2, 0, 1) * patchy
        shade(lesion, 1 - np.clip(0.55 * lines * rim, 0, 0.8))

        veil = np.exp(-((x - (cx - 0.35 * radius)) ** 2 + (y - (cy + 0.3 * radius)) ** 2)
                      / np.float32(2 * (0.22 * radius) ** 2))
        blend(lesion, VEIL, 0.6 * veil * (0.8 + 0.2 * smooth_noise(height, width, 60, rng)))
        blend(image, lesion, extent)

        globules = mask_of(height, width)
        for _ in range(70):
            gx, gy = rng.normal(bx, 0.35 * radius), rng.normal(by, 0.35 * radius)
            cv2.circle(globules, (round(gx), round(gy)), int(rng.integers(4, 13)), 255, -1,
                       cv2.LINE_AA)
        shade(image, 1 - 0.5 * weight(globules, 2.0) * extent)

    def _hairs(self, image: Field, rng: np.random.Generator) -> None:
        height, width = image.shape[:2]
        # Hairs lie mostly one way (as they grow), curve a little, and vary in length.
        flow = rng.uniform(0, math.pi)
        for count, thickness, strength in ((7, (5, 9), 0.9), (10, (2, 4), 0.5)):
            canvas = mask_of(height, width)
            for _ in range(count):
                a = flow + rng.normal(0, 0.35)
                length = rng.uniform(0.3, 0.8) * width
                start = (rng.uniform(0, width), rng.uniform(0, height))
                end = (start[0] + length * math.cos(a), start[1] + length * math.sin(a))
                bend = ((start[0] + end[0]) / 2 + rng.normal(0, 0.06 * length),
                        (start[1] + end[1]) / 2 + rng.normal(0, 0.06 * length))
                cv2.polylines(canvas, [bezier(start, bend, end, 80)], False, 255,
                              int(rng.integers(*thickness)), cv2.LINE_AA)
            hair = blurred(weight(canvas), 0.8)
            blend(image, HAIR, strength * hair)
