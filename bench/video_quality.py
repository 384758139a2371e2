"""Video quality at the doctor's screen: frames decoded in the browser against the frames sent.

    python bench/video_quality.py [--json] [--frames N] [--video-size WxH]

The station runs ``station demo --wait-for-doctor`` with its exam camera
simulator clock-driven (``sim://dermatoscope?clock=1``: the textured skin
scene fills the whole picture, unlike the otoscope's dark surround): the scene's time and its
sensor noise follow the wall clock, and every frame carries that clock in its
machine-readable corner. Headless Chromium joins as the doctor, grabs decoded
frames of the exam video at their native size (requestVideoFrameCallback →
canvas), and this script reads each frame's clock, renders the very frame the
camera filmed at that instant (devices.camera.simulator.reference_frame) and
computes PSNR (luma, and RGB) and SSIM (luma) over the scene, the burned-in
clocks left out. With --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages, not bench/
    sys.path.insert(0, str(ROOT))
if sys.path[0] == str(ROOT / "bench"):
    sys.path.pop(0)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from devices.camera.simulator import (  # noqa: E402
    overlay_mask,
    read_machine_clock,
    reference_frame,
    scene_for,
)
from station.demo_doctor import CHROMIUM, CHROMIUM_ARGS, DEMO_RPPS  # noqa: E402
from station.headless import STATION_BIN, HeadlessStation  # noqa: E402

RPPS = DEMO_RPPS
TIMEOUT = 60.0

# One decoded frame of the exam video at its native size, as base64 RGBA.
GRAB_JS = """() => new Promise((resolve) => {
  const video = document.querySelector('[data-testid="video-exam"]');
  video.requestVideoFrameCallback(() => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, canvas.width, canvas.height);
    const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000)
      binary += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
    resolve({ width: canvas.width, height: canvas.height, rgba: btoa(binary) });
  });
})"""

Image = npt.NDArray[np.uint8]


def psnr(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Peak signal-to-noise ratio of two arrays of 0..255 values, in dB."""
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per-pixel SSIM map of two luma images (Gaussian window 11, sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(cv2.GaussianBlur(x, (11, 11), 1.5), dtype=np.float64)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def compare(decoded_rgb: Image, millis: int, scene: str = "dermatoscope",
            seed: int = 7) -> dict[str, float]:
    """PSNR (luma, RGB) and SSIM (luma) of a decoded frame against what was filmed."""
    height, width = decoded_rgb.shape[:2]
    sent = cv2.cvtColor(reference_frame(scene_for(scene, seed, (width, height)), millis),
                        cv2.COLOR_BGR2RGB)
    mask = overlay_mask(width, height)
    luma_sent = cv2.cvtColor(sent, cv2.COLOR_RGB2GRAY).astype(np.float64)
    luma_got = cv2.cvtColor(decoded_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return {
        "psnr_y": psnr(luma_sent[mask], luma_got[mask]),
        "psnr_rgb": psnr(sent[mask].astype(np.float64), decoded_rgb[mask].astype(np.float64)),
        "ssim_y": float(np.mean(ssim(luma_sent, luma_got)[mask])),
    }


class ClockDrivenStation(HeadlessStation):
    """The headless station with an exam camera clock-driven (and a chosen video size)."""

    def __init__(self, home: Path, video_size: tuple[int, int], scene: str) -> None:
        argv = ["--verbose", "demo", "--wait-for-doctor", "--port", "0"]
        patch = ("import sys, station.runtime as r; "
                 f"r.DEVICE_URLS = tuple('sim://{scene}?clock=1' if u == 'sim://{scene}' "
                 "else u for u in r.DEVICE_URLS); "
                 f"r.VIDEO_SIZE = {tuple(video_size)!r}; "
                 "from station.cli.main import entry; "
                 f"sys.argv = ['station', *{argv!r}]; sys.exit(entry())")
        assert STATION_BIN.exists()
        super().__init__(home, [sys.executable, "-c", patch], timeout=TIMEOUT)


def grab_frames(link: str, count: int, spacing: float,
                scene: str, width: int = 1280) -> list[tuple[int, Image]]:
    """Join as the doctor, show ``scene``'s camera, wait for the exam video at ``width``
    pixels wide, grab ``count`` decoded exam frames with their clocks."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - dev dependency

    frames: list[tuple[int, Image]] = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        # The doctor's browser is another computer in life; on this machine it shares
        # the cores with the station, so it runs at a lower priority (as in
        # tests/netlab.py): the station's encoding is what is measured.
        niced = Path(folder) / "chromium"
        niced.write_text(f'#!/bin/sh\nexec nice -n 10 {CHROMIUM} "$@"\n', encoding="utf-8")
        niced.chmod(0o755)
        browser = playwright.chromium.launch(executable_path=str(niced), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(TIMEOUT * 1000)
            page.goto(link)
            page.wait_for_function("() => window.__console !== undefined")
            page.get_by_test_id("join-name").fill("Dr Jeanne Lefèvre")
            page.get_by_test_id("join-rpps").fill(RPPS)
            page.get_by_test_id("join-submit").click()
            page.wait_for_function(
                "() => document.querySelector('[data-testid=video-exam]').videoWidth > 0")
            page.locator(f".seg-btn[data-exam='{scene}']").click()
            # The call opens small and climbs to full size once the link is known
            # (station/call/adapt.py): compare only full-size frames.
            page.wait_for_function(
                "(width) => document.querySelector('[data-testid=video-exam]').videoWidth"
                " >= width", arg=width)
            time.sleep(4.0)  # the switch, a key frame and the encoder's ramp-up
            attempts = 0
            while len(frames) < count:
                attempts += 1
                if attempts > count * 25:
                    raise RuntimeError(f"no readable clock in {attempts} grabs of the exam video")
                grabbed: dict[str, Any] = page.evaluate(GRAB_JS)
                rgba = np.frombuffer(base64.b64decode(grabbed["rgba"]), np.uint8)
                rgb = rgba.reshape(grabbed["height"], grabbed["width"], 4)[:, :, :3].copy()
                millis = read_machine_clock(rgb)
                if millis is not None:
                    frames.append((millis, rgb))
                time.sleep(spacing)
        finally:
            browser.close()
    return frames


def main() -> None:
    """Print the table, and the JSON line with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--video-size", default="1280x720")
    parser.add_argument("--scene", default="dermatoscope", choices=("dermatoscope", "otoscope"))
    args = parser.parse_args()
    width, height = (int(v) for v in args.video_size.split("x"))
    with tempfile.TemporaryDirectory() as home:
        station = ClockDrivenStation(Path(home), (width, height), args.scene)
        try:
            frames = grab_frames(station.link, args.frames, 0.5, args.scene, width)
        finally:
            station.stop()
    scores = [compare(rgb, millis, args.scene) for millis, rgb in frames]
    sizes = {f"{rgb.shape[1]}x{rgb.shape[0]}" for _, rgb in frames}
    print(f"video quality, exam camera ({args.scene} scene), sent {args.video_size}, "
          f"decoded {', '.join(sorted(sizes))}, {len(scores)} frames")
    print(f"  {'':24}{'min':>8}{'median':>9}{'max':>8}")
    for key, label in (("psnr_y", "PSNR luma, dB"), ("psnr_rgb", "PSNR RGB, dB"),
                       ("ssim_y", "SSIM luma")):
        values = sorted(s[key] for s in scores)
        print(f"  {label:24}{values[0]:8.3f}{values[len(values) // 2]:9.3f}{values[-1]:8.3f}")
    result = {"video_psnr_db": round(float(np.median([s["psnr_y"] for s in scores])), 2),
              "video_ssim": round(float(np.median([s["ssim_y"] for s in scores])), 4)}
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
