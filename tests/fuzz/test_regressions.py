"""Inputs the fuzzers found crashing, each pinned to the typed refusal it now gets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from station.call import messages
from station.call.peer import StationCall
from station.errors import StationError
from station.signaling.client_api import record_doctor_joined
from station.signaling.limits import read_json
from station.signaling.rooms import Role
from station.signaling.server import origin_of
from station.signaling.sockets import check_message
from station.store.database import Store
from tests.fuzz.targets import (
    GOOD_RPPS,
    SESSION,
    _make_session,
    _StubCall,
    station_client,
)

DEEP = "[" * 5000 + "]" * 5000


def test_deeply_nested_frames_are_bad_json_not_a_crash() -> None:
    # json.loads raised RecursionError, which escaped the socket's handler.
    for text in (DEEP, '{"type":"offer","sdp":' + "{\"a\":" * 2000 + "1" + "}" * 2001):
        checked = check_message(text, Role.STATION)
        assert checked.message is None and checked.error["code"] == "signaling.bad_json"


@pytest.mark.parametrize("body", [
    DEEP, '{"name":' + "[" * 40 + "]" * 40 + "}", '{"name":"\\ud800","rpps":"1"}',
    '{"\\udfff":1}', "NaN x",
])
def test_request_bodies_too_deep_or_not_text_are_value_errors(body: str) -> None:
    # Each of these gave a 500 (RecursionError; UnicodeEncodeError from SQLite).
    with pytest.raises(ValueError):
        read_json(body)


def test_request_bodies_the_api_expects_still_parse() -> None:
    body = {"name": "Dr Anne Leroy", "rpps": GOOD_RPPS, "specialty": "Gériatrie 🩺",
            "context": {"a": [1, 2, {"b": None}]}}
    assert read_json(json.dumps(body)) == body


@pytest.mark.parametrize("origin", ["http://[::1", "http://a:99999", "https://[x"])
def test_a_malformed_origin_is_no_origin(origin: str) -> None:
    # urlsplit raised ValueError from origin_refused: a 500 for any request with this header.
    assert origin_of(origin) == f"invalid:{origin}"
    assert origin_of("HTTP://Example.FR:443/") == "http://example.fr:443"


@pytest.mark.parametrize("message", [
    {"type": "report-draft", "revision": [], "author": "doctor", "fields": {}},
    {"type": "report-draft", "revision": "x" * 100, "fields": {}},
    {"type": "report-draft", "revision": 1e999, "fields": {}},
    {"type": "report-validate", "revision": 2, "fields": {"billing": 5}},
    {"type": "report-validate", "fields": {"conclusion": "\ud800"}},
    {"type": "report-draft", "revision": 1, "fields": []},
    {"type": "heartbeat", "seq": "1"}, {"type": "audio-only", "on": "yes"},
    {"type": "switch-exam", "exam": ["otoscope"]},
])
def test_ill_typed_doctor_messages_are_message_errors(message: dict[str, Any]) -> None:
    # int(revision) in StationCall._on_message raised TypeError/ValueError/OverflowError;
    # a non-list billing broke report validation later.
    text = json.dumps(message)
    with pytest.raises(messages.MessageError):
        messages.decode(text)
    with pytest.raises(messages.MessageError):
        messages.decode(DEEP)

    async def body() -> None:
        call = StationCall({}, ice_servers=[], adapt_video=False)
        call._on_message("report", text)  # logged and dropped, no exception
        call._on_message("control", text)
        assert call.report_revisions == []
        await call.close()
    asyncio.run(body())


def test_well_typed_doctor_messages_still_decode() -> None:
    draft = {"type": "report-draft", "revision": 3, "author": "doctor",
             "fields": {"conclusion": "RAS", "prescriptions": None, "act": "TCG",
                        "billing": ["TCG"]}}
    assert messages.decode(json.dumps(draft)) == draft
    assert messages.decode('{"type":"heartbeat","seq":1,"vitals":0}')["seq"] == 1


def test_a_huge_invitation_number_in_doctor_joined_is_refused(tmp_path: Path) -> None:
    # SQLite raised OverflowError on an integer past 2**63 - 1.
    with Store.open(tmp_path / "s.sqlite3") as store:
        _make_session(store, SESSION)
        with pytest.raises(StationError) as caught:
            record_doctor_joined(store, SESSION, {
                "invitation": 10**30, "name": "Dr A", "rpps": GOOD_RPPS, "specialty": "",
                "time": "2026-11-23T09:00:00Z"})
        assert caught.value.code == "signaling.bad_doctor_joined"


def test_an_answer_without_offer_or_with_bad_sdp_does_not_end_the_signaling(
        tmp_path: Path) -> None:
    # StationCall.accept_answer raised CallError (no offer) or aiortc's parser errors,
    # which escaped SignalingClient.run and ended the station's signaling for good.
    assert _StubCall is not None
    tally = station_client(600, 7, tmp_path)
    assert tally.unexpected == 0, tally.report()
