"""Simulated cameras: moving, textured 1920x1080 scenes with a burned-in clock, and faults.

``sim://dermatoscope``, ``sim://otoscope`` and ``sim://room`` stand in for the
USB cameras on the cart, for demos, tests and benchmarks. Each frame carries
a clock (date, time to the millisecond, frame counter) burned into its top
left corner, so a frozen or stale stream is obvious to anyone watching.

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
_FAULTS = ("freeze", "black", "drop")
_painted: dict[tuple[str, int], Scene] = {}
_painting = threading.Lock()


def scene_for(name: str, seed: int = 7) -> Scene:
    """The painted scene ``name``, painted on first use and then shared (thread-safe)."""
    if name not in SCENES:
        raise DeviceConfigurationError(f"no simulated camera {name!r}; "
                                       f"choose one of {', '.join(SCENES)}")
    with _painting:  # two cameras asking at once must not paint twice
        if (name, seed) not in _painted:
            _painted[(name, seed)] = SCENES[name](seed)
        return _painted[(name, seed)]


def burn_clock(image: Image, label: str, when: datetime, counter: int) -> None:
    """Draw ``label``, date, time to the millisecond and ``counter`` in the top-left box."""
    text = f"{label}  {when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}  #{counter:06d}"
    image[CLOCK_ROWS, CLOCK_COLUMNS] = (24, 24, 24)
    cv2.putText(image, text, (CLOCK_COLUMNS.start + 14, CLOCK_ROWS.stop - 18),
                cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2, cv2.LINE_AA)


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
                 url: str | None = None) -> None:
        if scene not in SCENES:
            raise DeviceConfigurationError(f"no simulated camera {scene!r}; "
                                           f"choose one of {', '.join(SCENES)}")
        if fps <= 0:
            raise DeviceConfigurationError(f"simulated camera fps must be positive, not {fps}")
        self.scene_name = scene
        self.exam: ExamKind = SCENES[scene].exam
        self.fps = fps
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
        """``sim://<scene>[?fps=N][&seed=N][&fault=freeze|black|drop]``."""
        parts = urlsplit(url)
        if parts.scheme != "sim" or parts.path not in ("", "/"):
            raise DeviceConfigurationError(f"{url!r} is not a simulated camera URL "
                                           "(expected sim://otoscope, sim://room...)")
        query = parse_qs(parts.query)
        unknown = set(query) - {"fps", "seed", "fault"}
        faults = set(query.get("fault", [])) - set(_FAULTS)
        if unknown or faults:
            raise DeviceConfigurationError(f"{url!r}: unknown option {sorted(unknown | faults)}")
        try:
            fps = float(query.get("fps", ["30"])[-1])
            seed = int(query.get("seed", ["7"])[-1])
        except ValueError as bad:
            raise DeviceConfigurationError(f"{url!r}: {bad}") from None
        camera = cls(parts.netloc, fps=fps, seed=seed, url=url)
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
        self._scene = scene_for(self.scene_name, self._seed)
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
            image = np.zeros((VIDEO_HEIGHT, VIDEO_WIDTH, 3), np.uint8)
        else:
            image = self._live().frame(time.monotonic() - self._start)
            burn_clock(image, self._label, datetime.now().astimezone(), self._count)
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
