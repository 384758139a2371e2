"""The doctor's voice reaches the bedside: his microphone track is decoded and played."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
import pytest
from aiortc import MediaStreamTrack
from av import AudioFrame

from devices.audio.block import BLOCK_FRAMES, SAMPLE_RATE
from devices.audio.playback import Samples, level_dbfs, open_speaker
from devices.errors import DeviceError
from station.call.events import RemoteTrack
from station.call.loopback import allow_loopback_candidates
from station.call.peer import StationCall
from station.call.voice import DoctorVoice
from tests.call.doctor import Doctor, until

TONE_HZ = 440.0
AMPLITUDE = 0.5  # a sine's RMS is amplitude / sqrt(2): −9.0 dBFS


class ToneTrack(MediaStreamTrack):
    """A microphone saying one steady note, 20 ms frames paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * BLOCK_FRAMES / SAMPLE_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(BLOCK_FRAMES) + self._index * BLOCK_FRAMES) / SAMPLE_RATE
        pcm = (AMPLITUDE * np.sin(2 * math.pi * TONE_HZ * t) * 32767).astype(np.int16)
        # stereo like a browser's Opus: aiortc's encoder would upmix mono at −3 dB
        frame = AudioFrame.from_ndarray(np.repeat(pcm, 2).reshape(1, -1), format="s16",
                                        layout="stereo")
        frame.sample_rate, frame.pts = SAMPLE_RATE, self._index * BLOCK_FRAMES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._index += 1
        return frame


class Recorder:
    """Stands in for the loudspeaker (there is no sound card here): keeps what it is given."""

    def __init__(self) -> None:
        self.blocks: list[Samples] = []

    def play(self, samples: Samples) -> None:
        self.blocks.append(samples)

    def close(self) -> None:
        pass


def test_the_doctors_voice_is_decoded_and_played_at_its_level_and_pitch() -> None:
    allow_loopback_candidates()

    async def scenario() -> None:
        call = StationCall({}, ice_servers=[])
        remote: list[MediaStreamTrack] = []
        call.subscribe(lambda e: remote.append(e.track) if isinstance(e, RemoteTrack)
                       and e.track.kind == "audio" else None)
        doctor = Doctor(voice=ToneTrack())
        speaker = Recorder()
        try:
            await call.accept_answer(await doctor.answer(await call.create_offer()))
            await until(lambda: bool(remote), "the doctor's microphone track arrives")
            voice = DoctorVoice(remote[0], speaker)
            voice.start()
            await until(lambda: len(speaker.blocks) > 100, "two seconds of speech played",
                        timeout=20)
            await voice.stop()
        finally:
            await call.close()
            await doctor.close()
        heard = np.concatenate(speaker.blocks[-50:])  # the last second, codec settled
        spectrum = np.abs(np.fft.rfft(heard * np.hanning(heard.size)))
        peak_hz = np.argmax(spectrum) * SAMPLE_RATE / heard.size
        assert abs(peak_hz - TONE_HZ) < 5
        assert abs(level_dbfs(heard) - 20 * math.log10(AMPLITUDE / math.sqrt(2))) < 1.5
        assert abs(voice.level - level_dbfs(speaker.blocks[-1])) < 1e-6

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_no_sound_card_is_a_clear_device_error() -> None:
    try:
        speaker = open_speaker()
    except DeviceError as error:
        assert "loudspeaker" in str(error) or "audio output" in str(error)
    else:  # a machine with a sound card: it plays silence happily
        speaker.close()
        pytest.skip("this machine has a loudspeaker")
