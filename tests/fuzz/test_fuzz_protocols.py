"""100,000 fuzz inputs per parser of untrusted input, zero unexpected outcomes.

The signaling socket's checker, the station's signaling client, the relayed
``doctor-joined`` record, the doctor's data-channel messages, and the HTTP
endpoints (join page, join API, the stations' invitation API, the expert's
API) called in-process; see :mod:`tests.fuzz.targets` for what each target
feeds and what counts as expected. ``bench/fuzz.py`` runs the same targets
for longer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import run_logged

COUNT = 100_000
# target -> inputs in the suite (the expert's API shares its parsing with the join API:
# a smaller share keeps the suite fast).
TARGETS = {"signaling-socket": COUNT, "station-client": COUNT, "doctor-joined": COUNT,
           "data-channels": COUNT, "join-page": COUNT, "join-api": COUNT,
           "invitations-api": COUNT, "expertise-api": 20_000}


@pytest.mark.parametrize("name", list(TARGETS))
def test_no_unexpected_outcome(name: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_HOME", str(tmp_path))
    tally = run_logged(name, TARGETS[name], sum(map(ord, name)), tmp_path)
    assert tally.unexpected == 0, tally.report()
    assert tally.inputs >= TARGETS[name]
    # The mutations reach past the first check: several distinct outcomes.
    assert len(tally.outcomes) >= 3, tally.outcomes
