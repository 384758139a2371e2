"""Exam snapshots are stored losslessly and any later change is caught."""

from __future__ import annotations

import numpy as np
import pytest

from devices.camera import SimulatedCamera, open_camera
from station.errors import StoreError
from station.people import NurseAccount
from station.session import SessionEngine
from station.store import audit
from station.store.database import Store
from station.store.snapshots import SnapshotStore


def test_a_dermatoscope_still_round_trips(store: Store, nurse: NurseAccount) -> None:
    session = SessionEngine.start(store, nurse)
    camera = open_camera("sim://dermatoscope")
    with camera:
        still = camera.snapshot()
    assert isinstance(camera.backend, SimulatedCamera)
    assert (still.info.width, still.info.height) == (2592, 1944)  # the still, not the video

    snapshots = SnapshotStore(store)
    stored = snapshots.add(session.id, still, nurse.login)
    assert stored.path.exists() and stored.path.suffix == ".png"
    back = snapshots.load(stored.id)
    assert np.array_equal(back.image, still.image)  # lossless
    assert back.info == still.info
    assert [s.id for s in snapshots.for_session(session.id)] == [stored.id]
    assert audit.verify(store.conn).ok

    data = bytearray(stored.path.read_bytes())
    data[-100] ^= 0x01
    stored.path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="a été modifiée"):
        snapshots.load(stored.id)
