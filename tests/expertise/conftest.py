"""A real finished télé-expertise session in a real store: photo, stethoscope clips, vitals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest

from devices.audio import SimulatedStethoscope
from devices.camera.frame import ExamKind
from devices.camera.snapshot import Snapshot
from devices.measurement import Kind, Measurement
from station.consent import Act, ConsentCapacity, ConsentDecision
from station.expertise import Expert, Expertise
from station.outbox import Outbox
from station.people import NurseAccount
from station.session import SessionEngine
from station.store.clips import ClipStore, record_clip
from station.store.database import Store
from station.store.residents import Resident
from station.store.snapshots import SnapshotStore
from tests.conftest import FakeClock

EXPERT_RPPS = "10001234565"
EXPERT = Expert("Dr Hélène Roux", EXPERT_RPPS, "dermatologie", "dr.roux@derm.mssante.test")
BASE_URL = "https://station.ehpad.test"


@dataclass
class ExpertiseSession:
    """What the fixture built, for the tests to compare against."""

    engine: SessionEngine
    store: Store
    photo_id: int
    clip_ids: list[int]


def clip_wav(seconds: float = 0.5, dtype: str = "int16") -> bytes:
    """A real recording from the simulated stethoscope (unpaced: no waiting)."""
    async def main() -> bytes:
        source = SimulatedStethoscope(paced=False, dtype=dtype)
        try:
            return await record_clip(source, seconds)
        finally:
            await source.close()
    return asyncio.run(main())


def build_session(store: Store, nurse: NurseAccount, resident: Resident, clock: FakeClock, *,
                  image: np.ndarray | None = None, finish: bool = True) -> ExpertiseSession:
    engine = SessionEngine.start(store, nurse, Act.TELE_EXPERTISE, clock=clock)
    engine.identify(resident)
    clock.advance(seconds=20)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT,
                          note="informée de la télé-expertise, accord oral")
    clock.advance(seconds=30)
    t = clock.now
    engine.add_measurements([
        Measurement(Kind.SPO2, 95.0, "%", t, "sim://oximeter-ble"),
        Measurement(Kind.PULSE_RATE, 78.0, "/min", t, "sim://oximeter-ble"),
        Measurement(Kind.BODY_TEMPERATURE, 37.9, "Cel", t + timedelta(seconds=5),
                    "sim://thermometer-ble", decimals=1),
    ])
    if image is None:
        image = np.random.default_rng(3).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    photo = SnapshotStore(store).add(engine.id, Snapshot.create(
        image, "sim://dermatoscope", ExamKind.DERMATOSCOPE, clock.now), nurse.login)
    clips = ClipStore(store, clock=clock)
    clip_ids = [clips.add(engine.id, clip_wav(), site=site, device="sim://stethoscope",
                          actor=nurse.login).id
                for site in ("foyer_mitral", "poumon_droit_bas")]
    clock.advance(seconds=60)
    if finish:
        engine.finish_examination("éléments recueillis pour la télé-expertise")
    return ExpertiseSession(engine, store, photo.id, clip_ids)


@pytest.fixture
def session(store: Store, nurse: NurseAccount, resident: Resident,
            clock: FakeClock) -> ExpertiseSession:
    return build_session(store, nurse, resident, clock)


@pytest.fixture
def expertise(store: Store, clock: FakeClock) -> Expertise:
    return Expertise(store, Outbox(store, clock=clock), clock=clock)
