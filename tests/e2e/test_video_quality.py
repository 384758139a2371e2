"""What the doctor sees is what the camera filmed: decoded exam frames against the sent ones.

The dermatoscope simulator is clock-driven, so each frame the browser decodes
can be rendered again from the clock it carries (bench/video_quality.py does
the same with more frames and prints the figures).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.video_quality import ClockDrivenStation, compare, grab_frames
from tests.e2e.doctor_browser import needs_chromium

pytestmark = needs_chromium


def test_the_exam_video_arrives_at_720p_close_to_what_was_filmed(tmp_path: Path) -> None:
    station = ClockDrivenStation(tmp_path, (1280, 720), "dermatoscope")
    try:
        frames = grab_frames(station.link, 4, 0.4, "dermatoscope")
    finally:
        assert station.stop() == 0
    assert {rgb.shape for _, rgb in frames} == {(720, 1280, 3)}
    scores = [compare(rgb, millis) for millis, rgb in frames]
    # measured here: median PSNR 39.8 dB, SSIM 0.925 (bench/video_quality.py)
    assert statistics.median(s["psnr_y"] for s in scores) >= 32.0
    assert statistics.median(s["ssim_y"] for s in scores) >= 0.85
