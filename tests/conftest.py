"""Shared fixtures: real SQLite files in a temporary folder, a settable clock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from station.i18n import set_language
from station.identity import ResidentIdentity, identity_from_input
from station.people import NurseAccount
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry

STATION_BIN = Path(sys.executable).parent / "station"
QUALIFIED_INS = "232047505601214"  # F, born 04/1932 in Paris (75056)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(autouse=True)
def french() -> Iterator[None]:
    """Every test starts in French, the default language."""
    set_language("fr")
    yield
    set_language("fr")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "station.sqlite3") as opened:
        yield opened


@pytest.fixture
def nurse(store: Store) -> NurseAccount:
    return AccountDirectory(store).create("claire.m", "Claire Martin", "correct horse", "test")


def marie(**overrides: object) -> ResidentIdentity:
    """A qualified identity, with any field overridden."""
    fields: dict[str, object] = {
        "birth_name": "Dupont", "birth_first_names": "Marie Jeanne", "sex": "F",
        "birth_date": "1932-04-12", "birth_place_code": "75056", "used_name": "Martin",
        "ins": QUALIFIED_INS, "status": "qualifiee", "document": "cni",
    }
    fields.update(overrides)
    return identity_from_input(**fields)  # type: ignore[arg-type]


@pytest.fixture
def resident(store: Store) -> Resident:
    return ResidentRegistry(store).create(marie(), "claire.m")


def run_station(*args: str, home: Path, stdin: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``station`` command in a real subprocess."""
    full_env = {**os.environ, "STATION_HOME": str(home), **(env or {})}
    return subprocess.run([str(STATION_BIN), *args], capture_output=True, text=True,
                          env=full_env, input=stdin, timeout=120, check=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End aiortc decoder threads a test left waiting (a peer connection whose loop was
    closed under it): they are not daemons, so the interpreter would wait for them at
    exit for ever and CI would hang after a green run."""
    import gc  # noqa: PLC0415

    from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: PLC0415

    for obj in gc.get_objects():
        if isinstance(obj, RTCRtpReceiver):
            thread = obj._RTCRtpReceiver__decoder_thread  # type: ignore[attr-defined]
            if thread is not None and thread.is_alive():
                obj._RTCRtpReceiver__decoder_queue.put(None)  # type: ignore[attr-defined]
