"""The link monitor: video stops by itself on a lossy link and comes back when it clears."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiortc.stats import RTCRemoteInboundRtpStreamStats

from station.call.events import AudioOnlyChanged
from station.call.link import Decision, LinkPolicy, LinkSample, worst_sample
from tests.call.doctor import loopback_call, until

CLEAN = LinkSample(loss=0.0, rtt=0.05)
LOSSY = LinkSample(loss=0.25, rtt=0.05)
SLOW = LinkSample(loss=0.0, rtt=1.5)


def feed(policy: LinkPolicy, samples: list[LinkSample], start: float, video_on: bool,
         step: float = 2.0) -> list[tuple[float, Decision]]:
    decisions = []
    for index, sample in enumerate(samples):
        now = start + index * step
        decision = policy.observe(sample, now, video_on)
        if decision is not None:
            decisions.append((now, decision))
            video_on = decision is Decision.RESUME_VIDEO
    return decisions


def test_three_bad_samples_in_a_row_stop_video_and_isolated_ones_do_not() -> None:
    policy = LinkPolicy()
    assert feed(policy, [LOSSY, LOSSY, CLEAN, LOSSY, CLEAN, SLOW, LOSSY, CLEAN], 0, True) == []
    assert feed(policy, [LOSSY, SLOW, LOSSY], 100, True) == [(104, Decision.STOP_VIDEO)]


def test_video_comes_back_after_clean_sound_and_waits_longer_after_a_relapse() -> None:
    policy = LinkPolicy(good_seconds=10)
    assert feed(policy, [LOSSY] * 3, 0, True) == [(4, Decision.STOP_VIDEO)]
    # 10 s of clean sound (a bad sample restarts the count)
    assert feed(policy, [CLEAN, CLEAN, LOSSY, CLEAN, CLEAN, CLEAN, CLEAN, CLEAN, CLEAN], 6,
                False) == [(22, Decision.RESUME_VIDEO)]
    # video fails again within a minute: the next wait doubles
    assert feed(policy, [LOSSY] * 3, 24, True) == [(28, Decision.STOP_VIDEO)]
    assert policy.wait == 20
    assert feed(policy, [CLEAN] * 12, 30, False) == [(50, Decision.RESUME_VIDEO)]
    # a long stable period after that resets the wait
    assert feed(policy, [LOSSY] * 3, 200, True) == [(204, Decision.STOP_VIDEO)]
    assert policy.wait == 10


def _report(ssrc: int, fraction: int, rtt: float | None, when: datetime
            ) -> RTCRemoteInboundRtpStreamStats:
    return RTCRemoteInboundRtpStreamStats(
        timestamp=when, type="remote-inbound-rtp", id=f"remote-inbound-rtp_{ssrc}", ssrc=ssrc,
        kind="video", transportId="t", packetsReceived=100, packetsLost=3, jitter=0,
        roundTripTime=rtt, fractionLost=fraction)


def test_worst_sample_takes_the_worst_fresh_report_only() -> None:
    seen: dict[str, object] = {}
    now = datetime(2026, 11, 23, tzinfo=UTC)
    reports = [_report(1, 13, 0.04, now), _report(2, 64, 0.2, now)]
    sample = worst_sample(reports, seen)
    assert sample == LinkSample(loss=0.25, rtt=0.2)
    assert worst_sample(reports, seen) is None  # nothing new arrived
    later = [_report(1, 0, 0.05, now + timedelta(seconds=1)), reports[1]]
    assert worst_sample(later, seen) == LinkSample(loss=0.0, rtt=0.05)


def test_a_lossy_link_switches_the_call_to_sound_only_and_back() -> None:
    """Real RTCP from a doctor that loses 30 % of the packets makes the station stop video;
    when the loss ends, video comes back by itself, and the doctor is told each time.
    The monitor alone: with the video adaptation on, it lets the adaptation step down
    first (tests/e2e/test_network.py and test_weak_networks.py show the whole)."""
    policy = LinkPolicy(bad_samples=2, good_seconds=2.0)

    async def scenario() -> None:
        async with loopback_call(link_policy=policy, link_interval=0.5,
                                 adapt_video=False) as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            await until(lambda: doctor.video_frames[0] > 10, "video flows")
            assert not call.audio_only
            doctor.loss = 0.3
            await until(lambda: call.audio_only, "video stopped by the link", timeout=20)
            assert call.audio_only_cause == "link"
            await until(lambda: {"type": "audio-only", "on": True, "cause": "link"}
                        in doctor.messages["control"], "doctor told")
            energy = doctor.audio_energy[3]
            await until(lambda: doctor.audio_energy[3] > energy, "stethoscope goes on")
            doctor.loss = 0.0
            await until(lambda: not call.audio_only, "video back", timeout=20)
            frames = doctor.video_frames[0]
            await until(lambda: doctor.video_frames[0] > frames + 5, "video flows again")
            changes = [e for e in loop_call.events if isinstance(e, AudioOnlyChanged)]
            assert [(e.on, e.cause) for e in changes] == [(True, "link"), (False, "link")]

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_a_persons_choice_of_sound_only_is_never_undone_by_the_link() -> None:
    policy = LinkPolicy(bad_samples=2, good_seconds=0.5)

    async def scenario() -> None:
        async with loopback_call(link_policy=policy, link_interval=0.3) as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            await until(lambda: doctor.video_frames[0] > 5, "video flows")
            call.set_audio_only(True, cause="nurse")
            await asyncio.sleep(3.0)  # clean link, many samples: still sound only
            assert call.audio_only and call.audio_only_cause == "nurse"
            assert {"type": "audio-only", "on": True, "cause": "nurse"} in \
                doctor.messages["control"]

    asyncio.run(asyncio.wait_for(scenario(), 60))
