"""Device adapters: codecs, transports, drivers and simulators.

This package knows nothing of sessions, storage or Qt: it turns bytes, audio
samples and camera frames into :class:`devices.measurement.Measurement` values
and media tracks.
"""
