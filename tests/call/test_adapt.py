"""Video adaptation alone: the rung policy on recorded-like samples, the loss window,
the encoder that hears the REMB, the camera track's size and frame rate, Opus retuning."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any

from aiortc.codecs.opus import OpusEncoder

from devices.camera import open_camera
from station.call.adapt import (
    LADDER,
    OPEN_LEVEL,
    START_LEVEL,
    AdaptiveVp8Encoder,
    AdaptPolicy,
    LossWindow,
    VideoAdaptation,
    set_opus_bitrate,
)
from station.call.link import LinkSample
from station.call.opus import STETHOSCOPE_BITRATE, StethoscopeOpusEncoder
from station.call.tracks import CameraTrack

BASE_RTT = 0.16  # the 4G-weak profile's round trip, queue empty
CLEAN = LinkSample(0.0, BASE_RTT)


def feed(policy: AdaptPolicy, samples: list[tuple[float, LinkSample | None, float | None]]
         ) -> list[str]:
    """Labels of the rungs chosen, one per change."""
    changes = []
    for now, sample, estimate in samples:
        level = policy.observe(now, sample, estimate)
        if level is not None:
            changes.append(level.label)
    return changes


def test_the_ladder_is_16_9_and_decreasing() -> None:
    for level in LADDER:
        assert level.width * 9 == level.height * 16
        assert level.min_bitrate < level.max_bitrate
    assert [level.width for level in LADDER] == sorted((level.width for level in LADDER),
                                                       reverse=True)
    assert LADDER[0].label == "1280x720@30" and LADDER[0].max_bitrate == 1_500_000


def opened(**options: Any) -> AdaptPolicy:
    """A policy whose first round trip was a cellular one: it opened at 640x360."""
    return AdaptPolicy(level=OPEN_LEVEL, opened=True, **options)


def test_the_first_round_trip_chooses_the_opening_rung() -> None:
    assert AdaptPolicy().level == START_LEVEL == len(LADDER) - 1  # fits any link meanwhile
    fast = AdaptPolicy()
    assert feed(fast, [(0.0, LinkSample(0.0, None), None)]) == []  # no round trip yet
    assert feed(fast, [(1.0, LinkSample(0.0, 0.04), None)]) == ["1280x720@30"]  # good link
    assert fast.bitrate == LADDER[0].max_bitrate
    assert feed(AdaptPolicy(), [(1.0, CLEAN, None)]) == ["640x360@20"]  # 4G
    poor = AdaptPolicy()
    assert feed(poor, [(1.0, LinkSample(0.0, 0.31), None)]) == []  # a slow link: stays
    assert feed(poor, [(t, LinkSample(0.3, 0.31), None) for t in (2.0, 5.0)]) == []
    assert poor.exhausted  # ... and may stop video when even the bottom rung drowns it
    # A fall after opening at full size is not a failed climb: the usual wait, not doubled.
    assert feed(fast, [(3.0, LinkSample(0.08, 0.04), None)]) == ["960x540@25"]
    assert fast.wait == fast.up_after


def test_a_fast_link_climbs_back_without_waiting_for_the_estimate() -> None:
    policy = AdaptPolicy(level=3, opened=True)
    fast = LinkSample(0.0, 0.04)
    changes = feed(policy, [(float(t), fast, 300e3) for t in range(10)])
    assert changes == ["640x360@20", "960x540@25", "1280x720@30"]


def test_a_good_link_climbs_to_720p_within_seconds() -> None:
    policy = opened()
    # The browser's estimate grows with what it receives (1.5x at most).
    samples = [(float(t), CLEAN, 1.2e6 if t < 4 else 4e6) for t in range(12)]
    assert feed(policy, samples) == ["960x540@25", "1280x720@30"]
    assert policy.bitrate == 1_500_000


def test_an_estimate_not_above_what_is_sent_holds_the_rung_but_never_lowers_it() -> None:
    policy = opened()
    # Start of a call: the estimate is low because little was sent yet, not congestion.
    assert feed(policy, [(float(t), CLEAN, 400e3) for t in range(30)]) == []
    assert policy.level == OPEN_LEVEL
    assert policy.bitrate == LADDER[OPEN_LEVEL].min_bitrate  # within the rung, follows it


def test_congestion_steps_down_at_once_severe_congestion_two_rungs() -> None:
    policy = AdaptPolicy(level=0, opened=True)
    assert feed(policy, [(0.0, CLEAN, None), (1.0, LinkSample(0.06, BASE_RTT), None)]) == [
        "960x540@25"]
    # A filling queue: the round trip 300 ms above the lowest seen.
    assert feed(policy, [(2.0, LinkSample(0.0, BASE_RTT + 0.3), None)]) == ["640x360@20"]
    assert feed(policy, [(3.0, LinkSample(0.4, BASE_RTT), None)]) == ["320x180@10"]
    assert policy.bitrate == LADDER[-1].max_bitrate


def test_random_loss_of_a_4g_link_does_not_move_the_rung() -> None:
    policy = opened()
    jitter = [0.0, 0.03, -0.02, 0.04, 0.01]
    samples = [(float(t), LinkSample(0.01, BASE_RTT + jitter[t % 5]), 700e3)
               for t in range(60)]
    assert feed(policy, samples) == []


def test_a_failed_climb_doubles_the_wait() -> None:
    policy = AdaptPolicy(level=3, opened=True, start_up_after=10.0)
    big = 5e6
    changes = feed(policy, [(float(t), CLEAN, big) for t in range(11)])
    assert changes == ["640x360@20"]
    assert feed(policy, [(12.0, LinkSample(0.08, BASE_RTT), big)]) == ["480x270@15"]
    assert policy.wait == 20.0
    # Clean again: 19 s is not enough, 20 s is.
    assert feed(policy, [(12.0 + t, CLEAN, big) for t in range(1, 20)]) == []
    assert feed(policy, [(32.0 + t, CLEAN, big) for t in range(3)]) == ["640x360@20"]


def test_the_bitrate_follows_the_estimate_within_the_rung_seldom() -> None:
    policy = opened(up_gate=10.0, fast_rtt=0.0)  # 640x360: 300-450 kbit/s, no climbing
    assert policy.bitrate == 450_000
    policy.observe(0.0, CLEAN, 2 * 320e3 / policy.headroom)
    assert policy.bitrate == 320_000  # down at once
    policy.observe(1.0, CLEAN, 2 * 430e3 / policy.headroom)
    assert policy.bitrate == 320_000  # up waits (each change is a keyframe)
    policy.observe(4.0, CLEAN, 2 * 430e3 / policy.headroom)
    assert policy.bitrate == 430_000


def test_the_bottom_rung_drowning_asks_to_stop_video() -> None:
    policy = AdaptPolicy()
    drowning = LinkSample(0.5, None)
    policy.observe(0.0, drowning, None)
    assert policy.level == len(LADDER) - 1 and not policy.exhausted
    policy.observe(3.0, drowning, None)
    assert not policy.exhausted  # the loss window still holds the rung above's losses
    policy.observe(4.0, drowning, None)
    assert policy.exhausted
    policy.observe(5.0, LinkSample(0.06, None), None)
    assert not policy.exhausted
    policy.observe(6.0, LinkSample(0.0, BASE_RTT + 0.6), None)  # a full queue, no loss
    assert not policy.exhausted
    policy.observe(7.0, drowning, 400e3)  # the browser sees room for 2 x 130 kbit/s
    assert not policy.exhausted
    policy.reset(10.0)  # video back after a stop: a new grace period
    policy.observe(11.0, drowning, None)
    assert not policy.exhausted
    policy.observe(14.0, drowning, None)
    assert policy.exhausted


def report(ssrc: int, lost: int, received: int) -> Any:
    return SimpleNamespace(type="remote-inbound-rtp", ssrc=ssrc, packetsLost=lost,
                           packetsReceived=received)


def test_loss_window_sums_both_streams_over_seconds() -> None:
    window = LossWindow(span=3.0)
    window.add([report(1, 0, 0), report(2, 0, 0)], 0.0)
    assert window.loss() is None
    window.add([report(1, 1, 14), report(2, 0, 15)], 1.0)  # one loss in 30: 3.3 %
    assert abs((window.loss() or 0) - 1 / 30) < 1e-9
    window.add([report(1, 1, 29), report(2, 0, 30)], 2.0)
    assert abs((window.loss() or 0) - 1 / 60) < 1e-9
    window.add([report(1, 1, 44), report(2, 0, 45)], 5.5)  # the loss left the window
    assert window.loss() == 0.0


def test_the_encoder_notes_the_remb_and_keeps_its_bitrate() -> None:
    encoder = AdaptiveVp8Encoder(450_000)
    encoder.target_bitrate = 3_000_000  # what aiortc's sender does on a REMB
    assert encoder.estimate == 3_000_000 and encoder.target_bitrate == 450_000
    encoder.set_bitrate(80_000)  # below aiortc's 250 kbit/s floor
    assert encoder.target_bitrate == 80_000


def test_opus_bitrate_is_changed_with_a_fresh_context() -> None:
    encoder = OpusEncoder()
    sender = SimpleNamespace(_RTCRtpSender__encoder=encoder)
    before = encoder.codec
    assert set_opus_bitrate(sender, 24_000)  # type: ignore[arg-type]
    assert encoder.codec is not before and encoder.codec.bit_rate == 24_000
    assert not set_opus_bitrate(sender, 24_000)  # type: ignore[arg-type]
    assert not set_opus_bitrate(None, 24_000)


def test_camera_track_output_size_and_frame_rate_can_be_lowered() -> None:
    async def scenario() -> None:
        camera = open_camera("sim://otoscope")
        async with camera:
            track = CameraTrack(camera)
            first = await track.recv()
            assert (first.width, first.height) == (1280, 720)
            track.set_output(640, 360, 10)
            frames = [await track.recv() for _ in range(6)]
            assert all((f.width, f.height) == (640, 360) for f in frames)
            gaps = [(b.pts - a.pts) / 90_000 for a, b in itertools.pairwise(frames)]
            assert min(gaps) >= 0.9 / 10  # the 30 fps camera, sent at 10 fps at most
            track.set_output(1280, 720, None)
            again = [await track.recv() for _ in range(4)]
            assert all((f.width, f.height) == (1280, 720) for f in again)
            track.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_lean_audio_gives_back_each_encoders_own_bitrate() -> None:
    steth = SimpleNamespace(_RTCRtpSender__encoder=StethoscopeOpusEncoder())
    voice = SimpleNamespace(_RTCRtpSender__encoder=OpusEncoder())
    lean = [False]
    adaptation = VideoAdaptation(AdaptPolicy(), list, lean_audio=lambda: lean[0],
                                 audio_senders=lambda: {"stethoscope": steth,  # type: ignore
                                                        "voice": voice})
    lean[0] = True
    adaptation._tune_audio()
    assert steth._RTCRtpSender__encoder.codec.bit_rate == 48_000
    assert voice._RTCRtpSender__encoder.codec.bit_rate == 24_000
    lean[0] = False
    adaptation._tune_audio()
    assert steth._RTCRtpSender__encoder.codec.bit_rate == STETHOSCOPE_BITRATE
    assert voice._RTCRtpSender__encoder.codec.bit_rate == 96_000


def test_a_climb_waits_for_room_for_the_rung_above() -> None:
    policy = opened(fast_rtt=0.0)  # a 4G round trip: the estimate decides
    assert policy.current.label == "640x360@20"
    # A 1 Mbit/s link: the browser sees ~900 kbit/s, room for 2 x 450 but not for the
    # 2 x 550 kbit/s floor of 960x540.
    assert feed(policy, [(float(t), CLEAN, 900e3) for t in range(30)]) == []
    assert feed(policy, [(30.0 + t, CLEAN, 1.2e6) for t in range(12)]) == ["960x540@25"]
