"""What the fuzz tests and ``bench/fuzz.py`` feed: every parser of untrusted input.

Each target is ``run(count, seed, home) -> Tally``: ``count`` inputs derived
from the seed, driven in-process into the real parsing code (the aiohttp
handlers through ``make_mocked_request``, the socket's checker, the station's
signaling client and data-channel receiver), each outcome checked against
the contract (docs/call-protocol.md, resources/openapi.json):

- signaling socket: a relayed message of a known type with string fields,
  or the protocol's ``{"type": "error", "code", "message"}``;
- data channels: handled, or :class:`~station.call.messages.MessageError`;
- HTTP: a documented status; for the JSON API a 4xx carries the server's
  ``{"error", "message"}``.

``home`` is a scratch folder (a store per target). Anything else — an
exception, a 5xx, an undocumented status, an ERROR logged — is counted as
unexpected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import string
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_urldispatcher import UrlMappingMatchInfo
from multidict import CIMultiDict, CIMultiDictProxy
from stdnum import luhn
from yarl import URL

from station.call import messages
from station.call.events import CallState
from station.call.peer import CallError, StationCall
from station.call.signaling import SignalingClient
from station.consent import Act
from station.errors import StationError
from station.signaling.client_api import record_doctor_joined
from station.signaling.expertise_routes import answer_api, material_api, photo_api
from station.signaling.limits import MAX_REQUEST_BYTES
from station.signaling.rooms import Role
from station.signaling.server import STATE, create_app, join_api, join_page
from station.signaling.sockets import check_message
from station.signaling.station_api import create_invitation, revoke_invitation
from station.signaling.stations import StationDirectory
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.fuzz.engine import Tally, as_text, byte_inputs, json_inputs, mutate_bytes, run_target

KEY = "fuzz-station-key-0123456789"
SESSION = "sess-fuzz"
GOOD_RPPS = "1000000000" + luhn.calc_check_digit("1000000000")
DOCTOR = {"name": "Dr Anne Leroy", "rpps": GOOD_RPPS, "specialty": "Médecine générale"}
SDP = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
       "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
       "a=rtpmap:111 opus/48000/2\r\na=setup:active\r\na=fingerprint:sha-256 "
       + ":".join(["AB"] * 32) + "\r\na=ice-ufrag:abcd\r\na=ice-pwd:" + "p" * 22 + "\r\n")
ALLOWED_ORIGIN = "http://127.0.0.1:8443"
ORIGINS = ("https://evil.example", "null", "", "http://[::1", "http://a:99999", "\u00e9://x",
           "x" * 5000, "HTTP://127.0.0.1:8443/", "http://127.0.0.1:8443@evil.example")
TEXT_PREFIX = 150  # error messages echo at most a short prefix of what they got

SOCKET_SEEDS: list[dict[str, Any]] = [
    {"type": "offer", "sdp": SDP}, {"type": "answer", "sdp": SDP},
    {"type": "bye", "reason": "fin"}, {"type": "bye"},
]
SERVER_TO_STATION: list[dict[str, Any]] = [
    {"type": "peer-joined", "role": "doctor"}, {"type": "peer-left", "role": "doctor"},
    {"type": "answer", "sdp": SDP}, {"type": "bye", "reason": "hung up"},
    {"type": "error", "code": "signaling.no_peer", "message": "personne"},
    {"type": "doctor-joined", "invitation": 1, "name": "Dr Anne Leroy", "rpps": GOOD_RPPS,
     "specialty": "Gériatrie", "time": "2026-11-23T09:00:00Z"},
]
DATA_SEEDS: list[dict[str, Any]] = [
    {"type": "heartbeat", "seq": 12, "vitals": 40},
    {"type": "audio-only", "on": True}, {"type": "audio-only", "on": False},
    {"type": "switch-exam", "exam": "dermatoscope"}, {"type": "end"},
    {"type": "report-draft", "revision": 3, "author": "doctor",
     "fields": {"conclusion": "RAS", "prescriptions": "Paracétamol", "act": "TCG",
                "billing": ["TCG", "MD"]}},
    {"type": "report-validate", "revision": 4,
     "fields": {"conclusion": "RAS", "prescriptions": "", "act": "TCG", "billing": ["TCG"]}},
    {"type": "snapshot-begin", "id": "s1", "name": "otoscope.png", "exam": "otoscope",
     "width": 4, "height": 4, "size": 3, "sha256": "00" * 32},
    {"type": "snapshot-end", "id": "s1"},
]
INVITATION_SEEDS: list[dict[str, Any]] = [
    {"session_id": "s-a", "ttl_s": 600, "context": {"room": "12"}},
    {"session_id": "s-a.2_x", "ttl_s": 0.5}, {"session_id": "s-b"},
]
ANSWER_SEEDS: list[dict[str, Any]] = [
    {"name": "Dr Paul Martin", "rpps": GOOD_RPPS, "conclusion": "Eczéma",
     "prescriptions": "Dermocorticoïde"},
]


def _token(rng: random.Random) -> str:
    """A path token: mostly plausible (url-safe, 43 chars), sometimes anything at all."""
    pick = rng.randrange(8)
    if pick < 4:
        return "".join(rng.choice(string.ascii_letters + string.digits + "-_")
                       for _ in range(43))
    if pick == 4:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 60)))
    if pick == 5:
        return "A" * rng.choice((1, 4096, 70_000))
    if pick == 6:
        # (No lone surrogate: a URL path is UTF-8, aiohttp never hands one over.)
        return rng.choice(("..", "%00", "%2e%2e%2f", "' OR 1=1", "é", "0", "-1"))
    return mutate_bytes(rng, b"Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg").decode(
        "latin-1")


# --- signaling socket (server side) -----------------------------------------------------

def signaling_socket(count: int, seed: int, home: Path) -> Tally:
    """The server's check of every text frame either peer sends (sockets.check_message)."""
    def body(tally: Tally) -> None:
        rng = random.Random(seed)
        for i, data in enumerate(json_inputs(rng, SOCKET_SEEDS, count)):
            role = Role.STATION if i & 1 else Role.DOCTOR
            text = as_text(data)
            try:
                checked = check_message(text, role)
                problem = _socket_outcome(checked.message, checked.error)
            except Exception as error:
                tally.crash(text, error)
                continue
            if problem:
                tally.crash(text, problem)
            elif checked.message is not None:
                tally.outcome(f"relay {checked.message['type']}")
            else:
                tally.outcome(f"error {checked.error['code']}")
    return run_target("signaling-socket", body)


def _socket_outcome(message: dict[str, Any] | None, error: dict[str, Any]) -> str:
    """Why a checked frame breaks the contract ("" when it does not)."""
    if message is not None:
        if message.get("type") not in ("offer", "answer", "bye") \
                or not all(isinstance(v, str) for v in message.values()):
            return f"relayed an off-contract message {message!r:.200}"
        json.dumps(message)  # it must go out again as JSON
        return ""
    if error.get("type") != "error" or not isinstance(error.get("code"), str) \
            or not isinstance(error.get("message"), str):
        return f"malformed error reply {error!r:.200}"
    json.dumps(error)
    return ""


# --- signaling socket (station side) -----------------------------------------------------

class _StubCall:
    """Stands for a StationCall: the answer is parsed by aiortc like a real one."""

    def __init__(self) -> None:
        self.state = CallState.RINGING
        self.offers = 0

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        return lambda: None

    async def accept_answer(self, sdp: str) -> None:
        from aiortc.sdp import SessionDescription  # noqa: PLC0415 - aiortc's SDP parser

        if self.offers % 3 == 0:
            raise CallError("no offer to answer")
        SessionDescription.parse(sdp)

    async def create_offer(self) -> str:
        self.offers += 1
        return SDP

    async def reconnect(self) -> str:
        return await self.create_offer()

    async def close(self, reason: str = "ended") -> None:
        self.state = CallState.RINGING  # keep listening: the loop goes on


class _FakeSocket:
    """An aiohttp client socket that yields the fuzz inputs as frames."""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames
        self.closed = True  # send() finds the socket down: nothing to write to

    async def __aiter__(self) -> AsyncIterator[Any]:
        for frame in self.frames:
            yield frame


def station_client(count: int, seed: int, home: Path) -> Tally:
    """What the station's signaling client does with the server's frames (SignalingClient)."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        call = _StubCall()
        joined: list[dict[str, Any]] = []
        client = SignalingClient("http://127.0.0.1:1", SESSION, KEY, call,  # type: ignore[arg-type]
                                 on_doctor_joined=joined.append)
        inputs = json_inputs(rng, SERVER_TO_STATION, count)
        batch = 500
        for start in range(0, count, batch):
            frames = []
            for _ in range(min(batch, count - start)):
                data = next(inputs)
                kind = WSMsgType.TEXT if rng.randrange(20) else WSMsgType.BINARY
                frames.append(SimpleNamespace(type=kind, data=as_text(data)
                                              if kind is WSMsgType.TEXT else data))
            try:
                await client._read(_FakeSocket(frames))  # type: ignore[arg-type]
            except Exception as error:
                tally.crash(f"one of frames {start}..{start + len(frames)}", error)
                continue
            for _ in frames:
                tally.outcome("read")
        await client.close()
        tally.outcomes["offers made"] = call.offers
        tally.outcomes["doctor-joined handed on"] = len(joined)

    return run_target("station-client", lambda tally: asyncio.run(body_async(tally)))


def doctor_joined(count: int, seed: int, home: Path) -> Tally:
    """The station recording a relayed ``doctor-joined`` (client_api.record_doctor_joined)."""
    def body(tally: Tally) -> None:
        rng = random.Random(seed)
        seeds = [SERVER_TO_STATION[-1]]
        with Store.open(home / "doctor-joined.sqlite3") as store:
            _make_session(store, SESSION)
            for data in json_inputs(rng, seeds, count, oversize=5000):
                try:
                    message = json.loads(data)
                except (ValueError, RecursionError):
                    tally.outcome("not JSON")
                    continue
                if not isinstance(message, dict):
                    tally.outcome("not an object")
                    continue
                try:
                    event = record_doctor_joined(store, SESSION, message)
                except StationError as error:
                    tally.outcome(f"refused {error.code}")
                except Exception as error:
                    tally.crash(data, error)
                else:
                    tally.outcome("recorded" if event else "already recorded")
    return run_target("doctor-joined", body)


# --- data channels -------------------------------------------------------------------------

def data_channels(count: int, seed: int, home: Path) -> Tally:
    """What the station does with the doctor's data-channel messages (StationCall)."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        call = StationCall({}, ice_servers=[], adapt_video=False)
        events: list[Any] = []
        call.subscribe(events.append)
        assembler = messages.SnapshotAssembler()
        channels = ("report", "control", "report", "control", "snapshots", "vitals")
        for data in json_inputs(rng, DATA_SEEDS, count, oversize=20_000):
            channel = rng.choice(channels)
            message: str | bytes = data if rng.randrange(10) == 0 else as_text(data)
            try:
                if channel == "snapshots":
                    label = _snapshot_outcome(assembler, message)
                else:
                    call._on_message(channel, message)
                    label = _data_outcome(message)
            except Exception as error:
                tally.crash(message, error)
                continue
            tally.outcome(label)
            if len(events) > 1000:
                events.clear()
        tally.outcomes["drafts kept"] = len(call.report_revisions)
        await call.close()

    return run_target("data-channels", lambda tally: asyncio.run(body_async(tally)))


def _data_outcome(message: str | bytes) -> str:
    try:
        parsed = messages.decode(message)
    except messages.MessageError:
        return "refused"
    return f"handled {str(parsed['type'])[:20]}"


def _snapshot_outcome(assembler: messages.SnapshotAssembler, message: str | bytes) -> str:
    try:
        snapshot = assembler.feed(message)
    except messages.MessageError:
        return "snapshot refused"
    if snapshot is None:
        return "snapshot part"
    return "snapshot intact" if snapshot.intact else "snapshot damaged"


# --- HTTP ----------------------------------------------------------------------------------

def _make_session(store: Store, session_id: str) -> None:
    SessionRecords(store).create(session_id, Act.TELECONSULTATION, "claire.m", "calling",
                                 datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


class _Reading:
    """The protocol side a StreamReader pokes (a Mock costs more than the handler)."""

    _reading_paused = False

    def pause_reading(self, *args: object, **kwargs: object) -> None:
        """Nothing to pause: the body is all there."""

    def resume_reading(self, *args: object, **kwargs: object) -> None:
        """Nothing to resume."""


_PROTOCOL = _Reading()


def _payload(body: bytes) -> StreamReader:
    loop = asyncio.get_running_loop()
    reader = StreamReader(_PROTOCOL, 2**16, loop=loop)  # type: ignore[arg-type]
    reader.feed_data(body)
    reader.feed_eof()
    return reader


class _Requests:
    """Requests for calling handlers directly, as ``make_mocked_request`` makes them.

    ``make_mocked_request`` builds some fifteen ``Mock`` objects per request
    (~2 ms); 100,000 requests per target need the transport mocks built once.
    Only what a handler sees differs per request: method, path, headers,
    body, the route's match_info.
    """

    def __init__(self, app: web.Application) -> None:
        template = make_mocked_request("GET", "/", app=app)
        self.app = app
        self.protocol = template.protocol
        self.writer = template.writer
        self.task = template.task
        self.route = template.match_info.route

    def __call__(self, method: str, path: str, match_info: dict[str, str], *,
                 body: bytes = b"", headers: dict[str, str] | None = None) -> web.Request:
        proxy = CIMultiDictProxy(CIMultiDict(headers or {}))
        raw = tuple((k.encode(), v.encode("utf-8", "surrogateescape"))
                    for k, v in proxy.items())
        message = RawRequestMessage(method, path, HttpVersion11, proxy, raw, False, None,
                                    False, False, URL(path))
        request = web.Request(message, _payload(body), self.protocol, self.writer, self.task,
                              asyncio.get_running_loop(), client_max_size=MAX_REQUEST_BYTES)
        info = UrlMappingMatchInfo(match_info, self.route)
        info.add_app(self.app)
        request._match_info = info  # what the router sets; make_mocked_request does the same
        return request


async def _call(tally: Tally, data: object, handler: Callable[[web.Request], Any],
                request: web.Request, allowed: set[int], *, json_errors: bool = True) -> None:
    """Run one handler; record its status, or what about it breaks the contract."""
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        tally.outcome("413 too large")  # aiohttp's bound (client_max_size), documented
        return
    except Exception as error:
        tally.crash(data, error)
        return
    status = response.status
    if status not in allowed:
        tally.crash(data, f"status {status}")
        return
    label = str(status)
    if json_errors and status >= 400:
        try:
            reply = json.loads(response.body)
            label = f"{status} {reply['error']}"
            assert isinstance(reply["message"], str)
        except Exception:
            tally.crash(data, f"{status} without the JSON error: {response.body!r:.200}")
            return
    tally.outcome(label)


def _origin_headers(rng: random.Random, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(extra or {})
    # Mostly none (the station's client) or the right one (a browser), so that
    # most requests get past the origin check to the body.
    pick = rng.randrange(8)
    origin = None if pick < 4 else ALLOWED_ORIGIN if pick < 7 else rng.choice(ORIGINS)
    if origin is not None:
        headers["Origin"] = origin
    return headers


class _Links:
    """Fresh invitation links for the join fuzz (a used one is replaced)."""

    def __init__(self, app: web.Application) -> None:
        self.invitations = app[STATE].invitations
        self.live = [self.invitations.create(SESSION)[0] for _ in range(4)]
        self.dead: list[str] = []
        revoked = self.invitations.create(SESSION)[0]
        self.invitations.revoke(revoked)
        self.dead.append(revoked)

    def pick(self, rng: random.Random) -> str:
        # A live link in 1 of 5: each successful join costs a store write and a new link.
        pick = rng.randrange(10)
        if pick < 2:
            return rng.choice(self.live)
        if pick < 5:
            return rng.choice(self.dead)
        return _token(rng)

    def refresh(self) -> None:
        for i, token in enumerate(self.live):
            if self.invitations.find(token) is not None and \
                    self.invitations.state(token).value != "valid":
                self.dead.append(token)
                self.live[i] = self.invitations.create(SESSION)[0]
        del self.dead[:-50]


def join_page_target(count: int, seed: int, home: Path) -> Tally:
    """``GET /join/<token>``: console page (200) or a French error page (404, 410)."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        with Store.open(home / "join-page.sqlite3") as store:
            _make_session(store, SESSION)
            app = create_app(store, station_key=KEY, public_url="http://127.0.0.1:8443")
            links = _Links(app)
            _request = _Requests(app)
            expired = app[STATE].invitations.create(SESSION, ttl=timedelta(microseconds=1))[0]
            links.dead.append(expired)
            for i in range(count):
                token = links.pick(rng)
                request = _request("GET", "/join/x", {"token": token})
                await _call(tally, token, join_page, request, {200, 404, 410},
                            json_errors=False)
                if i % 2000 == 0:  # use a live link now and then: it must turn to 410
                    app[STATE].invitations.join(links.live[0], DOCTOR["name"], DOCTOR["rpps"],
                                                DOCTOR["specialty"])
                    links.refresh()

    return run_target("join-page", lambda tally: asyncio.run(body_async(tally)))


def join_api_target(count: int, seed: int, home: Path) -> Tally:
    """``POST /api/join/<token>``: ticket (200) or the JSON error (400, 403, 404, 410)."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        with Store.open(home / "join-api.sqlite3") as store:
            _make_session(store, SESSION)
            app = create_app(store, station_key=KEY, public_url="http://127.0.0.1:8443")
            links = _Links(app)
            _request = _Requests(app)
            for data in json_inputs(rng, [DOCTOR], count, oversize=20_000):
                token = links.pick(rng)
                request = _request("POST", "/api/join/x", {"token": token}, body=data,
                                   headers=_origin_headers(rng))
                before = tally.outcomes["200"]
                await _call(tally, data, join_api, request, {200, 400, 403, 404, 410})
                if tally.outcomes["200"] != before:
                    links.refresh()

    return run_target("join-api", lambda tally: asyncio.run(body_async(tally)))


def invitations_api_target(count: int, seed: int, home: Path) -> Tally:
    """The stations' API: ``POST /api/invitations`` and ``DELETE /api/invitations/<id>``."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        with Store.open(home / "invitations-api.sqlite3") as store:
            stations = StationDirectory(store)
            keys = {name: stations.add(name, f"EHPAD {name}") for name in ("a", "b")}
            app = create_app(store, public_url="http://127.0.0.1:8443")
            auths = [f"Bearer a.{keys['a']}", f"Bearer b.{keys['b']}", f"Bearer a.{keys['b']}",
                     "Bearer ", "Basic YTpi", f"Bearer a.{keys['a']}x", "Bearer \u00e9.\u00e9"]
            inputs = json_inputs(rng, INVITATION_SEEDS, count, oversize=8000)
            _request = _Requests(app)
            for data in inputs:
                headers = _origin_headers(rng)
                pick = rng.randrange(8)
                if pick:
                    headers["Authorization"] = auths[min(pick - 1, len(auths) - 1)] \
                        if pick < 4 else rng.choice(auths)
                if rng.randrange(4) == 0:
                    ident = rng.choice(("1", "2", "0", "-1", "99999999999999999999", "x",
                                        "1.5", "\u0661", " 1", "1e3", "") + (str(
                                            rng.randrange(1, 50)),) * 4)
                    request = _request("DELETE", "/api/invitations/x",
                                       {"invitation_id": ident}, headers=headers)
                    await _call(tally, ident, revoke_invitation, request,
                                {200, 401, 403, 404, 409})
                else:
                    request = _request("POST", "/api/invitations", {}, body=data,
                                       headers=headers)
                    await _call(tally, data, create_invitation, request,
                                {201, 400, 401, 403})

    return run_target("invitations-api", lambda tally: asyncio.run(body_async(tally)))


def expertise_api_target(count: int, seed: int, home: Path) -> Tally:
    """The expert's API with unknown, damaged and odd tokens, and odd answers."""
    async def body_async(tally: Tally) -> None:
        rng = random.Random(seed)
        with Store.open(home / "expertise.sqlite3") as store:
            app = create_app(store, station_key=KEY, public_url="http://127.0.0.1:8443")
            _request = _Requests(app)
            for data in json_inputs(rng, ANSWER_SEEDS, count, oversize=20_000):
                token = _token(rng)
                pick = rng.randrange(6)
                if pick == 0:
                    request = _request("GET", "/api/expertise/x/material",
                                       {"token": token})
                    await _call(tally, token, material_api, request, {404, 410})
                elif pick == 1:
                    request = _request("GET", "/api/expertise/x/photo/1",
                                       {"token": token, "item": rng.choice(("1", "x", "-1"))})
                    await _call(tally, token, photo_api, request, {404, 410})
                else:
                    request = _request("POST", "/api/expertise/x/answer",
                                       {"token": token}, body=data,
                                       headers=_origin_headers(rng))
                    await _call(tally, data, answer_api, request, {400, 403, 404, 410})

    return run_target("expertise-api", lambda tally: asyncio.run(body_async(tally)))


# --- codecs --------------------------------------------------------------------------------

def codec_target(name: str) -> Callable[[int, int, Path], Tally]:
    """A codec of tests/devices/test_fuzz_codecs.py as a target (bench/fuzz.py uses these)."""
    def run(count: int, seed: int, home: Path) -> Tally:
        from devices.errors import DecodeError  # noqa: PLC0415
        from tests.devices.test_fuzz_codecs import CODECS  # noqa: PLC0415

        decode, _, to_measurements, seeds = CODECS[name]

        def body(tally: Tally) -> None:
            rng = random.Random(seed)
            now = datetime(2025, 1, 1, tzinfo=UTC)
            for data in byte_inputs(rng, seeds, count, max(map(len, seeds)) + 8):
                try:
                    decoded = decode(data)
                    if to_measurements is not None:
                        to_measurements(decoded, "fuzz", now)
                except DecodeError:
                    tally.outcome("DecodeError")
                except Exception as error:
                    tally.crash(data, error)
                else:
                    tally.outcome("decoded")
        return run_target(f"codec {name}", body)
    return run


TARGETS: dict[str, Callable[[int, int, Path], Tally]] = {
    "signaling-socket": signaling_socket,
    "station-client": station_client,
    "doctor-joined": doctor_joined,
    "data-channels": data_channels,
    "join-page": join_page_target,
    "join-api": join_api_target,
    "invitations-api": invitations_api_target,
    "expertise-api": expertise_api_target,
}


class ErrorLog(logging.Handler):
    """Counts records at ERROR and above (a handler that logged a crash)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_logged(name: str, count: int, seed: int, home: Path) -> Tally:
    """Run target ``name`` with warnings muted; an ERROR logged meanwhile is unexpected."""
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    logging.disable(logging.WARNING)  # refusals are logged as warnings: 100,000 of them
    try:
        target = TARGETS.get(name) or codec_target(name.removeprefix("codec "))
        tally = target(count, seed, home)
    finally:
        logging.disable(logging.NOTSET)
        root.removeHandler(handler)
    for record in handler.records[:5]:
        tally.crash(record.name, f"logged {record.levelname}: {record.getMessage()}",
                    new_input=False)
    tally.unexpected += max(0, len(handler.records) - 5)
    return tally
