"""Stethoscope audio: real capture (sounddevice/PortAudio) and a simulator, one face.

Both are :class:`AudioSource`\\ s delivering 20 ms mono 48 kHz
:class:`AudioBlock`\\ s to an asyncio consumer, with no echo cancellation, noise
suppression or automatic gain anywhere in the chain.
"""

from devices.audio.block import (
    BLOCK_FRAMES,
    SAMPLE_RATE,
    AudioBlock,
    AudioSource,
    BlockChannel,
)
from devices.audio.capture import (
    AudioCapture,
    AudioInputInfo,
    list_input_devices,
    parse_audio_url,
    translate_audio_error,
)
from devices.audio.simulator import Fault, SimulatedStethoscope
from devices.audio.synth import Beat, HeartLungSynth, Scene

__all__ = ["BLOCK_FRAMES", "SAMPLE_RATE", "AudioBlock", "AudioCapture", "AudioInputInfo",
           "AudioSource", "Beat", "BlockChannel", "Fault", "HeartLungSynth", "Scene",
           "SimulatedStethoscope", "list_input_devices", "parse_audio_url",
           "translate_audio_error"]
