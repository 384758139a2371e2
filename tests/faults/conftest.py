"""Fixtures of the fault tests."""

from __future__ import annotations

import pytest

from station.consent import ConsentCapacity, ConsentDecision
from station.device_bridge import DeviceSessionBridge
from station.people import NurseAccount
from station.session import SessionEngine
from station.store.database import Store
from station.store.residents import Resident


@pytest.fixture
def recording_bridge(store: Store, nurse: NurseAccount,
                     resident: Resident) -> DeviceSessionBridge:
    """A session past consent, examining, with the bridge that records devices into it
    (``bridge.session``): what a flooding device would fill if nothing stopped it."""
    session = SessionEngine.start(store, nurse)
    session.identify(resident)
    session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    return DeviceSessionBridge(session)
