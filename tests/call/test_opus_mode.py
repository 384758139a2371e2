"""The stethoscope's Opus encoder keeps heart-sound frequencies that VOIP mode cuts."""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from av import AudioFrame

from station.call.opus import StethoscopeOpusEncoder, sender_encoder
from station.call.peer import StationCall
from station.call.tracks import StethoscopeTrack

RATE = 48_000
REFERENCE_HZ = 1000.0  # well inside every Opus mode's pass band: normalises codec gain


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return 0.25 * (np.sin(2 * np.pi * 40 * t) + np.sin(2 * np.pi * 80 * t)
                   + np.sin(2 * np.pi * REFERENCE_HZ * t))


def _round_trip(encoder: OpusEncoder, signal: np.ndarray) -> np.ndarray:
    """Encode 20 ms mono frames with ``encoder``, decode with aiortc's decoder (left channel)."""
    decoder = OpusDecoder()
    pcm = np.rint(signal * 32767).astype(np.int16)
    out: list[np.ndarray] = []
    for start in range(0, len(pcm) - 959, 960):
        frame = AudioFrame.from_ndarray(pcm[start:start + 960].reshape(1, -1), format="s16",
                                        layout="mono")
        frame.sample_rate, frame.pts = RATE, start
        frame.time_base = fractions.Fraction(1, RATE)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            for decoded in decoder.decode(JitterFrame(data=payload, timestamp=timestamp)):
                out.append(decoded.to_ndarray().reshape(-1, 2)[:, 0])
    return np.concatenate(out).astype(np.float64) / 32768.0


def _energy(signal: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    return float(spectrum[(freqs > hz - 3) & (freqs < hz + 3)].sum())


def kept(encoder: OpusEncoder, hz: float) -> float:
    """Share of the ``hz`` component's energy (relative to 1 kHz) that survives the codec."""
    signal = _tone(3.0)
    decoded = _round_trip(encoder, signal)[RATE:]  # skip the encoder's warm-up
    original = signal[RATE:RATE + len(decoded)]
    gain = _energy(decoded, REFERENCE_HZ) / _energy(original, REFERENCE_HZ)
    return _energy(decoded, hz) / _energy(original, hz) / gain


def _station_encoder() -> object:
    """The encoder object the station's stethoscope sender will encode with."""

    async def build() -> object:
        call = StationCall({"stethoscope": StethoscopeTrack()}, ice_servers=[])
        await call.create_offer()
        sender = call.sender("stethoscope")
        assert sender is not None
        encoder = sender_encoder(sender)
        await call.close()
        return encoder

    return asyncio.run(asyncio.wait_for(build(), 20))


def test_stethoscope_sender_encoder_is_forced_to_audio_application() -> None:
    encoder = _station_encoder()
    assert isinstance(encoder, StethoscopeOpusEncoder)
    assert encoder.codec.options["application"] == "audio"


def test_station_encoder_keeps_low_frequencies_and_voip_cuts_them() -> None:
    encoder = _station_encoder()
    assert isinstance(encoder, StethoscopeOpusEncoder)
    assert kept(encoder, 40) >= 0.9
    assert kept(encoder, 80) >= 0.9
    voip = StethoscopeOpusEncoder(application="voip")  # same settings, speech mode
    assert kept(voip, 40) < 0.3  # libopus's VOIP high-pass: this is what the test guards

