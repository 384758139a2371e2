"""Drawing primitives for the camera simulators: noise fields, curves, blending.

Everything here runs once per simulator, when its textures are painted, so
it favours clarity over speed; per-frame work lives in ``simulator.py``.
Fields are float32 images in [0, 255] BGR (or 2-D weights in [0, 1]) until
the scene converts the result to uint8.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

Field: TypeAlias = npt.NDArray[np.float32]
Weight: TypeAlias = npt.NDArray[np.floating[Any]]  # float32 at run time; numpy stubs widen it
Color: TypeAlias = tuple[float, float, float]


def smooth_noise(height: int, width: int, cell: float, rng: np.random.Generator) -> Field:
    """Random values every ``cell`` pixels, bicubically interpolated: roughly in [-1, 1]."""
    rows, cols = max(2, round(height / cell) + 2), max(2, round(width / cell) + 2)
    coarse = rng.uniform(-1.0, 1.0, (rows, cols)).astype(np.float32)
    big = cv2.resize(coarse, (round(cols * cell), round(rows * cell)),
                     interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(big[:height, :width], dtype=np.float32)


def fractal_noise(height: int, width: int, cell: float, rng: np.random.Generator,
                  octaves: int = 4, persistence: float = 0.5) -> Field:
    """Sum of :func:`smooth_noise` octaves (halving cell size), normalised to about [-1, 1]."""
    total = np.zeros((height, width), np.float32)
    amplitude, norm = 1.0, 0.0
    for _ in range(octaves):
        total += amplitude * smooth_noise(height, width, cell, rng)
        norm += amplitude
        amplitude *= persistence
        cell = max(1.5, cell / 2)
    return total / np.float32(norm)


def solid(height: int, width: int, color: Color) -> Field:
    """A float image filled with one BGR colour."""
    return np.full((height, width, 3), color, np.float32)


def shade(image: Field, gain: Weight) -> None:
    """Multiply ``image`` in place by a 2-D ``gain`` (lighting, relief)."""
    image *= gain[:, :, None]


def blend(base: Field, top: Field | Color, weight: Weight) -> None:
    """In place: ``base = base * (1 - weight) + top * weight`` with a 2-D weight."""
    w = weight[:, :, None]
    top_array = np.asarray(top, np.float32)
    base *= 1.0 - w
    base += top_array * w


def grid(height: int, width: int) -> tuple[Field, Field]:
    """Pixel coordinate arrays (y, x), as float32."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return y, x


def blurred(field: Field, sigma: float) -> Field:
    """Gaussian blur (a new array); used to soften drawn masks into natural edges."""
    return np.asarray(cv2.GaussianBlur(field, (0, 0), sigma), np.float32)


def mask_of(height: int, width: int) -> npt.NDArray[np.uint8]:
    """An empty 8-bit canvas for cv2 drawing calls, later turned into a weight."""
    return np.zeros((height, width), np.uint8)


def weight(canvas: npt.NDArray[np.uint8], sigma: float = 0.0) -> Field:
    """An 8-bit drawing as a [0, 1] weight, optionally blurred."""
    field = canvas.astype(np.float32) / np.float32(255.0)
    return blurred(field, sigma) if sigma > 0 else field


def bezier(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float],
           steps: int = 40) -> npt.NDArray[np.int32]:
    """Points of a quadratic Bézier curve, shaped for ``cv2.polylines``."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a, b, c = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    points = (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def blob(center: tuple[float, float], radius: float, rng: np.random.Generator,
         roughness: float = 0.12, lobes: int = 7, points: int = 360) -> npt.NDArray[np.int32]:
    """An irregular closed outline: a circle whose radius wobbles with several lobes."""
    theta = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    wobble = np.zeros_like(theta)
    for k in range(2, lobes + 2):
        wobble += rng.uniform(0.3, 1.0) * roughness / np.sqrt(k) * np.cos(
            k * theta + rng.uniform(0, 2 * np.pi))
    wobble += rng.normal(0.0, roughness / 12, theta.shape)  # ragged small-scale border
    r = radius * (1.0 + wobble)
    xy = np.stack([center[0] + r * np.cos(theta), center[1] + r * np.sin(theta)], axis=1)
    return np.round(xy).astype(np.int32).reshape(-1, 1, 2)


def radial_falloff(height: int, width: int, center: tuple[float, float], radius: float,
                   strength: float, power: float = 2.0) -> Field:
    """A gain of 1 at ``center`` falling by ``strength`` at ``radius`` (lens or lamp)."""
    y, x = grid(height, width)
    r = np.sqrt((x - center[0]) ** 2 + (y - center[1]) ** 2) / np.float32(radius)
    return np.clip(1.0 - strength * r**power, 0.0, 1.0).astype(np.float32)


def to_image(field: Field) -> npt.NDArray[np.uint8]:
    """Clip and round a float BGR field to an 8-bit image."""
    image: npt.NDArray[np.uint8] = np.clip(field + 0.5, 0, 255).astype(np.uint8)
    return image


def cell_borders(height: int, width: int, cell: float, rng: np.random.Generator,
                 sigma: float = 1.2) -> Field:
    """Borders of random Voronoi cells about ``cell`` pixels wide, as a [0, 1] weight.

    Irregular honeycombs like this look like a pigment network or skin furrows.
    """
    seeds = np.full((height, width), 255, np.uint8)
    count = max(1, round(height * width / cell**2))
    seeds[rng.integers(0, height, count), rng.integers(0, width, count)] = 0
    _, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    edges = np.zeros((height, width), np.float32)
    edges[1:, :] += labels[1:, :] != labels[:-1, :]
    edges[:, 1:] += labels[:, 1:] != labels[:, :-1]
    return blurred(np.minimum(edges, 1.0), sigma)


def rounded(points: npt.NDArray[np.float64], iterations: int = 3) -> npt.NDArray[np.float64]:
    """A closed polygon with its corners cut (Chaikin), so drawn cloth looks soft."""
    for _ in range(iterations):
        following = np.roll(points, -1, axis=0)
        points = np.stack([0.75 * points + 0.25 * following,
                           0.25 * points + 0.75 * following], axis=1).reshape(-1, 2)
    return points
