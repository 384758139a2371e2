"""Simulated cameras: moving, textured 1920x1080 scenes with a burned-in clock, and faults.

``sim://dermatoscope``, ``sim://otoscope`` and ``sim://room`` stand in for the
USB cameras on the cart, for demos, tests and benchmarks. Each frame carries
a clock (date, time to the millisecond, frame counter) burned into its top
left corner, so a frozen or stale stream is obvious to anyone watching, and
the same capture time as a machine-readable block code in its bottom left
corner (:func:`burn_machine_clock`, read back by :func:`read_machine_clock`,
e.g. by ``bench/call.py`` to measure glass-to-glass latency).

Misbehaviour switches, settable while streaming (or as URL query, e.g.
``sim://otoscope?fps=5&fault=freeze``): ``freeze`` repeats the last frame
(the clock stops), ``black`` sends black frames, ``dropped`` makes the camera
vanish (the consumer gets ConnectionLostError), ``fps`` lowers the rate.

Textures are painted once per process and scene (about 2 s each) and shared;
a frame then costs a few milliseconds, well within 33 ms on one core.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

from devices.camera.frame import VIDEO_HEIGHT, VIDEO_WIDTH, ExamKind, Image
from devices.camera.scene import Scene
from devices.camera.scene_ear import EardrumScene
from devices.camera.scene_room import RoomScene
from devices.camera.scene_skin import SkinLesionScene
from devices.errors import ConnectionLostError, DeviceConfigurationError

SCENES: dict[str, type[Scene]] = {
    scene.name: scene for scene in (SkinLesionScene, EardrumScene, RoomScene)
}
CLOCK_ROWS = slice(16, 74)
"""Rows of every video frame holding the burned-in clock (with ``CLOCK_COLUMNS``)."""
CLOCK_COLUMNS = slice(16, 1316)
MACHINE_CLOCK_BLOCK = 32
"""Side, in pixels of a 1920-wide frame, of one block of the machine-readable clock."""
MACHINE_CLOCK_PER_LINE = 24
MACHINE_CLOCK_LINES = 2
MACHINE_CLOCK_MARGIN = 16
MACHINE_CLOCK_ROWS = slice(VIDEO_HEIGHT - MACHINE_CLOCK_MARGIN
                           - MACHINE_CLOCK_LINES * MACHINE_CLOCK_BLOCK - 8,
                           VIDEO_HEIGHT - MACHINE_CLOCK_MARGIN + 8)
"""Rows of every video frame holding the machine clock, with its 8 px grey border."""
MACHINE_CLOCK_COLUMNS = slice(MACHINE_CLOCK_MARGIN - 8, MACHINE_CLOCK_MARGIN
                                   + MACHINE_CLOCK_PER_LINE * MACHINE_CLOCK_BLOCK + 8)
_GUARD_START = (1, 0, 1, 0)
_GUARD_END = (0, 1, 1, 0)
_FAULTS = ("freeze", "black", "drop")
_painted: dict[tuple[str, int], Scene] = {}
_painting = threading.Lock()


def scene_for(name: str, seed: int = 7,
              video_size: tuple[int, int] = (VIDEO_WIDTH, VIDEO_HEIGHT)) -> Scene:
    """The painted scene ``name`` in a video mode, painted on first use and then
    shared (thread-safe; other video modes share the painting)."""
    if name not in SCENES:
        raise DeviceConfigurationError(f"no simulated camera {name!r}; "
                                       f"choose one of {', '.join(SCENES)}")
    with _painting:  # two cameras asking at once must not paint twice
        if (name, seed) not in _painted:
            _painted[(name, seed)] = SCENES[name](seed)
        return _painted[(name, seed)].in_video_mode(video_size)


def parse_video_size(text: str) -> tuple[int, int]:
    """``1280x720`` → (1280, 720): a 16:9 video mode no larger than 1920x1080."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise DeviceConfigurationError(f"video mode {text!r}: expected WIDTHxHEIGHT, "
                                       "e.g. 1280x720") from None
    if not (16 <= width <= VIDEO_WIDTH and width * 9 == height * 16):
        raise DeviceConfigurationError(f"video mode {text!r}: a 16:9 size up to "
                                       f"{VIDEO_WIDTH}x{VIDEO_HEIGHT} is expected")
    return width, height


REFERENCE_PERIOD_MS = 3_600_000  # the clock-driven scene repeats every hour


def reference_frame(scene: Scene, millis: int) -> Image:
    """The frame a clock-driven simulator (``?clock=1``) films at Unix time ``millis``,
    without its overlays: what the video should show, to compare what a
    receiver decoded against (PSNR). The scene's time and its sensor noise
    both follow from ``millis``, which the frame carries in its machine clock."""
    millis %= 1 << 32  # what the machine clock carries
    t = (millis % REFERENCE_PERIOD_MS) / 1000
    grain = ((millis * 7919) % 64, (millis * 104729) % 64)
    return scene.frame(t, grain)


def overlay_mask(width: int, height: int) -> npt.NDArray[np.bool_]:
    """True where a simulated frame shows the scene, False under the burned-in
    clock and the machine clock (they differ from frame to frame by design)."""
    mask = np.ones((height, width), bool)
    mask[CLOCK_ROWS, CLOCK_COLUMNS] = False
    scale = width / VIDEO_WIDTH
    top = height - round((MACHINE_CLOCK_MARGIN + MACHINE_CLOCK_LINES * MACHINE_CLOCK_BLOCK
                          + 16) * scale)
    right = round((MACHINE_CLOCK_MARGIN + MACHINE_CLOCK_PER_LINE * MACHINE_CLOCK_BLOCK + 16)
                  * scale)
    mask[max(0, top):, :right] = False
    return mask


def burn_clock(image: Image, label: str, when: datetime, counter: int) -> None:
    """Draw ``label``, date, time to the millisecond and ``counter`` in the top-left box."""
    text = f"{label}  {when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}  #{counter:06d}"
    image[CLOCK_ROWS, CLOCK_COLUMNS] = (24, 24, 24)
    cv2.putText(image, text, (CLOCK_COLUMNS.start + 14, CLOCK_ROWS.stop - 18),
                cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2, cv2.LINE_AA)


def _crc8(data: bytes) -> int:
    """CRC-8, polynomial 0x07 (ATM), initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def machine_clock_bits(millis: int) -> list[int]:
    """The 48 blocks (1 white, 0 black) coding ``millis`` modulo 2**32.

    Guard ``1010``, the 32 bits of the time (most significant first), its
    CRC-8 (8 bits), guard ``0110``: read row by row, 24 blocks a row.
    """
    value = millis % (1 << 32)
    data = value.to_bytes(4, "big")
    word = (value << 8) | _crc8(data)
    return [*_GUARD_START, *((word >> (39 - i)) & 1 for i in range(40)), *_GUARD_END]


def burn_machine_clock(image: Image, millis: int) -> None:
    """Stamp ``millis`` (e.g. capture time in Unix ms) as blocks in the bottom-left corner.

    Two lines of 24 black/white blocks of ``MACHINE_CLOCK_BLOCK`` px (for a
    1920-wide frame; scaled with the width) on a mid-grey border: they
    survive scaling to 640x360 and lossy video coding. ``image`` is BGR.
    """
    scale: float = image.shape[1] / VIDEO_WIDTH
    height = image.shape[0]

    def px(value: float) -> int:
        return round(value * scale)

    top = height - px(MACHINE_CLOCK_MARGIN + MACHINE_CLOCK_LINES * MACHINE_CLOCK_BLOCK)
    left = px(MACHINE_CLOCK_MARGIN)
    border = px(8)
    image[top - border:top + px(MACHINE_CLOCK_LINES * MACHINE_CLOCK_BLOCK) + border,
          max(0, left - border):left + px(MACHINE_CLOCK_PER_LINE * MACHINE_CLOCK_BLOCK)
          + border] = 128
    for index, bit in enumerate(machine_clock_bits(millis)):
        line, column = divmod(index, MACHINE_CLOCK_PER_LINE)
        y0 = top + px(line * MACHINE_CLOCK_BLOCK)
        x0 = left + px(column * MACHINE_CLOCK_BLOCK)
        image[y0:top + px((line + 1) * MACHINE_CLOCK_BLOCK),
              x0:left + px((column + 1) * MACHINE_CLOCK_BLOCK)] = 255 if bit else 0


def read_machine_clock(image: Image) -> int | None:
    """The milliseconds stamped by :func:`burn_machine_clock`, or None if unreadable.

    ``image`` is a frame of any size with the 16:9 layout of the camera
    (BGR or grey), e.g. after scaling and lossy coding. Each block is read
    as the mean brightness of its central half, against the threshold
    halfway between the guard blocks' black and white; a damaged code
    (guards or CRC wrong, too little contrast) gives None.
    """
    grey = np.asarray(image, dtype=np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    scale = grey.shape[1] / VIDEO_WIDTH
    block = MACHINE_CLOCK_BLOCK * scale
    top = grey.shape[0] - (MACHINE_CLOCK_MARGIN + MACHINE_CLOCK_LINES * MACHINE_CLOCK_BLOCK) * scale
    left = MACHINE_CLOCK_MARGIN * scale
    levels = []
    for index in range(MACHINE_CLOCK_LINES * MACHINE_CLOCK_PER_LINE):
        line, column = divmod(index, MACHINE_CLOCK_PER_LINE)
        cy, cx = top + (line + 0.5) * block, left + (column + 0.5) * block
        half = max(block / 4, 0.5)
        y0, y1 = round(cy - half), max(round(cy + half), round(cy - half) + 1)
        x0, x1 = round(cx - half), max(round(cx + half), round(cx - half) + 1)
        if y0 < 0 or x0 < 0 or y1 > grey.shape[0] or x1 > grey.shape[1]:
            return None
        levels.append(float(grey[y0:y1, x0:x1].mean()))
    guards = [*_GUARD_START, *_GUARD_END]
    guard_levels = [*levels[:4], *levels[-4:]]
    white = [v for g, v in zip(guards, guard_levels, strict=True) if g]
    black = [v for g, v in zip(guards, guard_levels, strict=True) if not g]
    if min(white) - max(black) < 40:
        return None
    threshold = (min(white) + max(black)) / 2
    bits = [1 if level > threshold else 0 for level in levels]
    if tuple(bits[:4]) != _GUARD_START or tuple(bits[-4:]) != _GUARD_END:
        return None
    word = 0
    for bit in bits[4:44]:
        word = (word << 1) | bit
    value, crc = word >> 8, word & 0xFF
    return value if _crc8(value.to_bytes(4, "big")) == crc else None


def _label_still(image: Image, label: str, when: datetime) -> None:
    """Mark a simulated still as such, so it can never pass for a real examination."""
    scale = image.shape[1] / VIDEO_WIDTH
    text = f"{label}  still  {when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}"
    origin, thickness = (round(30 * scale), round(60 * scale)), max(2, round(2 * scale))
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.1 * scale, thickness)
    pad = round(14 * scale)
    image[origin[1] - height - pad:origin[1] + pad, origin[0] - pad:origin[0] + width + pad] = 24
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 1.1 * scale, (255, 255, 255),
                thickness, cv2.LINE_AA)


class SimulatedCamera:
    """A :class:`~devices.camera.source.CameraBackend` rendering one of :data:`SCENES`.

    The switches ``freeze``, ``black``, ``dropped`` and ``fps`` may be changed
    from any thread while the camera streams.
    """

    def __init__(self, scene: str, *, fps: float = 30.0, seed: int = 7,
                 url: str | None = None,
                 video_size: tuple[int, int] = (VIDEO_WIDTH, VIDEO_HEIGHT)) -> None:
        if scene not in SCENES:
            raise DeviceConfigurationError(f"no simulated camera {scene!r}; "
                                           f"choose one of {', '.join(SCENES)}")
        if fps <= 0:
            raise DeviceConfigurationError(f"simulated camera fps must be positive, not {fps}")
        self.scene_name = scene
        self.exam: ExamKind = SCENES[scene].exam
        self.fps = fps
        self.video_size = video_size
        self.clock_driven = False  # scene time and noise from the wall clock (reference_frame)
        self.freeze = False
        self.black = False
        self.dropped = False
        self._seed = seed
        self._url = url or f"sim://{scene}"
        self._label = f"SIMULATED {scene}"
        self._scene: Scene | None = None
        self._wake = threading.Event()
        self._start = self._due = 0.0
        self._count = 0
        self._last: Image | None = None

    @classmethod
    def from_url(cls, url: str) -> SimulatedCamera:
        """``sim://<scene>[?fps=N][&seed=N][&video=WxH][&clock=1][&fault=freeze|black|drop]``.

        ``video`` is the video mode (1920x1080 by default), as a real camera is
        set to the mode nearest the size the call sends; stills keep the full
        sensor resolution either way. ``clock=1`` drives the scene from the wall
        clock, so any frame can be rendered again by :func:`reference_frame`.
        """
        parts = urlsplit(url)
        if parts.scheme != "sim" or parts.path not in ("", "/"):
            raise DeviceConfigurationError(f"{url!r} is not a simulated camera URL "
                                           "(expected sim://otoscope, sim://room...)")
        query = parse_qs(parts.query)
        unknown = set(query) - {"fps", "seed", "fault", "video", "clock"}
        faults = set(query.get("fault", [])) - set(_FAULTS)
        if unknown or faults:
            raise DeviceConfigurationError(f"{url!r}: unknown option {sorted(unknown | faults)}")
        try:
            fps = float(query.get("fps", ["30"])[-1])
            seed = int(query.get("seed", ["7"])[-1])
        except ValueError as bad:
            raise DeviceConfigurationError(f"{url!r}: {bad}") from None
        video = parse_video_size(query["video"][-1]) if "video" in query else (
            VIDEO_WIDTH, VIDEO_HEIGHT)
        camera = cls(parts.netloc, fps=fps, seed=seed, url=url, video_size=video)
        camera.clock_driven = query.get("clock", ["0"])[-1] == "1"
        camera.freeze = "freeze" in query.get("fault", [])
        camera.black = "black" in query.get("fault", [])
        camera.dropped = "drop" in query.get("fault", [])
        return camera

    @property
    def url(self) -> str:
        """The URL this simulator answers to, as recorded in snapshots."""
        return self._url

    def open(self) -> None:
        """Paint (or reuse) the scene's textures and start the frame clock."""
        self._scene = scene_for(self.scene_name, self._seed, self.video_size)
        self._wake.clear()
        self._start = self._due = time.monotonic()
        self._count, self._last = 0, None

    def read(self) -> Image:
        """The next frame, paced to ``fps``; honours the misbehaviour switches."""
        self._pace()
        if self.dropped:
            raise ConnectionLostError(f"camera {self._url} vanished (simulated drop)")
        if self.freeze and self._last is not None:
            return self._last
        if self.black:
            image = np.zeros((self.video_size[1], self.video_size[0], 3), np.uint8)
        else:
            now = datetime.now().astimezone()
            millis = round(now.timestamp() * 1000)
            if self.clock_driven:
                image = reference_frame(self._live(), millis)
            else:
                image = self._live().frame(time.monotonic() - self._start)
            burn_clock(image, self._label, now, self._count)
            burn_machine_clock(image, millis)
        self._count += 1
        self._last = image
        return image

    def still(self) -> Image:
        """A full-resolution still of the current view (e.g. 2592x1944), labelled simulated."""
        scene = self._live()
        if self.dropped:
            raise ConnectionLostError(f"camera {self._url} vanished (simulated drop)")
        if self.black:
            return np.zeros((scene.still_size[1], scene.still_size[0], 3), np.uint8)
        image = scene.still(time.monotonic() - self._start)
        _label_still(image, self._label, datetime.now().astimezone())
        return image

    def interrupt(self) -> None:
        """Cut the wait for the next frame short (the camera is being stopped)."""
        self._wake.set()

    def close(self) -> None:
        """Nothing to release: the painted textures stay cached for the next open."""
        self._scene = None

    def _pace(self) -> None:
        """Sleep until the next frame is due, without bursts to catch up after a stall."""
        period = 1.0 / self.fps
        now = time.monotonic()
        if self._due > now:
            self._wake.wait(self._due - now)
            now = time.monotonic()
        self._due = max(self._due + period, now)

    def _live(self) -> Scene:
        if self._scene is None:
            raise ConnectionLostError(f"camera {self._url} is closed")
        return self._scene
