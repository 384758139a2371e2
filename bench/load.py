"""Load on the standalone signaling server: concurrent calls, relay latency, links per second.

    python bench/load.py [--json] [--quick] [--sessions N] [--hold S] [--interval S]

Everything runs on this machine, in three processes:

- ``station serve`` on 127.0.0.1 with a fresh home, pinned to **core 0**
  (``taskset -c 0``). Its stations are registered before it starts: the first
  with the CLI (``station serve stations add``), the others through the same
  code the CLI runs (:class:`station.signaling.stations.StationDirectory` on
  the server's store: a random key, stored as its SHA-256), because one CLI
  run per station costs a second.
- the load generator (this file with ``--generator``), asyncio + aiohttp,
  pinned to **core 1**. For each session a station and a doctor do what the
  real ones do: the station asks for a link with the station's own client
  (:class:`station.signaling.client_api.InvitationClient`, Bearer
  ``<station-id>.<key>``) and opens ``/ws/station/<session>`` (heartbeat 10 s,
  as :class:`station.call.signaling.SignalingClient`); the doctor opens the
  link (``GET /join/<token>``, ``GET /api/config``), posts the join form
  (name, RPPS, specialty, with the browser's ``Origin``), opens
  ``/ws/doctor?ticket=`` and gets its rejoin ticket. The station waits for
  ``doctor-joined`` and ``peer-joined``, offers, the doctor answers: SDPs of
  the real size (an aiortc offer with the call's four transceivers and data
  channels, and its answer, made once at start). While the load is held each
  station offers again every ``--interval`` seconds (default 10 s: the
  station's ``RETRY_OFFER_AFTER``, the most a real call sends, when stuck
  in ``reconnecting``; a healthy call sends nothing after setup) and the
  doctor answers; at the end the station says ``bye`` and both close.
- this process: registers the stations, starts both, samples the server's
  CPU and memory from ``/proc``, prints the table.

Everything goes over TLS, as in production: the server runs on its local
certificate (``--self-signed``, ECDSA P-256) and every client verifies it;
the handshakes are part of the set-up times and of the server's CPU.

Relay latency: every relayed message carries its sender's ``time.monotonic()``
at sending (in the SDP's session name ``s=``, or the bye's reason: the server
relays only the protocol's fields) and the receiver takes arrival − send, in
the same generator process. It includes the generator's own delays (its loop
lag is reported). Errors: a refused connection, an HTTP status ≥ 400, a
socket closed by the server or with an error, a protocol ``error`` message, a
timeout, a message never received, and any line the server logs (it logs
errors only). ``invitations_per_s``: sessions set up (link made, opened,
joined, both sockets seated) per second of ramp, ``--concurrency`` set-ups at
a time. With --json the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and
# bench/devices.py would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

import aiohttp

from station.signaling.client_api import InvitationClient, signaling_config
from station.signaling.tls import client_context

STATION = Path(sys.executable).parent / "station"
SERVER_CORE, GENERATOR_CORE = 0, 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
RPPS = "10001234565"  # a test RPPS with a valid Luhn key (station.demo_doctor)
STEP_TIMEOUT = 30.0  # seconds for one HTTP call, one socket opening, one awaited message
GOAL_SESSIONS, GOAL_P99_MS = 1000, 50.0
STAMP = re.compile(r"\ns=bench (\d+) ([0-9.]+)\r?\n")


# --------------------------------------------------------------------------- generator


async def real_sdps() -> tuple[str, str]:
    """An aiortc offer shaped like the station's (room and exam video, voice and
    stethoscope audio, five data channels) and the answer to it."""
    from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: PLC0415 - heavy

    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    try:
        for kind in ("video", "video", "audio", "audio"):
            offerer.addTransceiver(kind, direction="sendonly" if kind == "video" else "sendrecv")
        for name in ("vitals", "waveforms", "snapshots", "report", "control"):
            offerer.createDataChannel(name)
        await offerer.setLocalDescription(await offerer.createOffer())
        offer = offerer.localDescription.sdp
        await answerer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await answerer.setLocalDescription(await answerer.createAnswer())
        return offer, answerer.localDescription.sdp
    finally:
        await offerer.close()
        await answerer.close()


def stamped(sdp: str, seq: int) -> str:
    """``sdp`` with its session name carrying ``seq`` and the send time."""
    return sdp.replace("\ns=-\r\n", f"\ns=bench {seq} {time.monotonic():.6f}\r\n", 1)


@dataclass
class Figures:
    """What the generator measures, for all sessions."""

    setup_relay_ms: list[float] = field(default_factory=list)
    hold_relay_ms: list[float] = field(default_factory=list)
    bye_relay_ms: list[float] = field(default_factory=list)
    setup_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)
    holding: bool = False

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{kind}: {detail}"[:300])

    def relayed(self, sent: float, bye: bool = False) -> None:
        ms = (time.monotonic() - sent) * 1000.0
        if bye:
            self.bye_relay_ms.append(ms)
        else:
            (self.hold_relay_ms if self.holding else self.setup_relay_ms).append(ms)


class Side:
    """One WebSocket of a session (the station's or the doctor's) and what it received."""

    def __init__(self, name: str, figures: Figures) -> None:
        self.name = name
        self.figures = figures
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closing = False
        self.reader: asyncio.Task[None] | None = None

    def start(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            await self._receive(ws)
        except Exception as error:  # a malformed relay is a counted error, not a crash
            self.figures.error("receive", f"{self.name}: {error!r}")
            self.inbox.put_nowait({"type": "closed"})

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                self.figures.error("frame", f"{self.name}: {frame.type!r}")
                continue
            message = json.loads(frame.data)
            kind = message.get("type")
            if kind == "error":
                self.figures.error("protocol_error", f"{self.name}: {message.get('code')}")
                continue
            if kind in ("offer", "answer"):
                found = STAMP.search(message["sdp"])
                if found is None:
                    self.figures.error("unstamped", self.name)
                    continue
                self.figures.relayed(float(found.group(2)))
                message["seq"] = int(found.group(1))
            elif kind == "bye":
                self.figures.relayed(float(message["reason"].split()[-1]), bye=True)
            self.inbox.put_nowait(message)
        if not self.closing:
            self.figures.error("socket_closed",
                               f"{self.name}: code {ws.close_code} {ws.exception()!r}")
            self.inbox.put_nowait({"type": "closed"})

    async def expect(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next message of ``kind`` (others of the setup are skipped); TimeoutError."""
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                message = await self.inbox.get()
                if message.get("type") == "closed":
                    raise ConnectionError(f"{self.name} socket closed")
                if message.get("type") == kind and all(message.get(k) == v
                                                       for k, v in match.items()):
                    return message

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            await self.ws.close()
            if self.ws.close_code not in (1000, None):
                self.figures.error("close_code", f"{self.name}: {self.ws.close_code}")
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


@dataclass
class Plan:
    """What every session does, shared by all of them."""

    url: str
    http: aiohttp.ClientSession
    offer: str
    answer: str
    interval: float
    figures: Figures
    hold_over: asyncio.Event
    ca: Path  # the server's certificate, the one the clients trust


class Session:
    """One call's signaling: a station and its doctor."""

    def __init__(self, plan: Plan, index: int, station_id: str, key: str) -> None:
        self.plan = plan
        self.session_id = f"load-{index:05d}"
        self.config = signaling_config(plan.url, station_id, key, ca_file=plan.ca)
        self.station = Side(f"station {self.session_id}", plan.figures)
        self.doctor = Side(f"doctor {self.session_id}", plan.figures)
        self.seq = 0
        self.alive = False

    async def set_up(self) -> None:
        """Link, join, both sockets, first offer and answer (raises on any failure)."""
        plan, http = self.plan, self.plan.http
        link = await InvitationClient(self.config, http=http).create(
            self.session_id, timedelta(minutes=30))
        token = link.url.rsplit("/", 1)[1]
        self.station.start(await http.ws_connect(
            f"{plan.url}/ws/station/{self.session_id}", headers=self.config.headers,
            heartbeat=10.0, max_msg_size=64 * 1024))
        browser = {"Origin": plan.url}
        async with http.get(f"{plan.url}/join/{token}") as page:
            page.raise_for_status()
            await page.read()
        async with http.get(f"{plan.url}/api/config", headers=browser) as config:
            config.raise_for_status()
            await config.read()
        async with http.post(f"{plan.url}/api/join/{token}", headers=browser,
                             json={"name": f"Dr Charge {self.session_id}", "rpps": RPPS,
                                   "specialty": "Médecine générale"}) as joined:
            joined.raise_for_status()
            ticket = (await joined.json())["ticket"]
        self.doctor.start(await http.ws_connect(
            f"{plan.url}/ws/doctor?ticket={ticket}", headers=browser))
        await self.doctor.expect("ticket")
        await self.station.expect("doctor-joined")
        await self.station.expect("peer-joined", role="doctor")
        await self.negotiate()
        self.alive = True

    async def negotiate(self) -> None:
        """The station offers, the doctor answers; both must arrive."""
        self.seq += 1
        await self.station.send({"type": "offer", "sdp": stamped(self.plan.offer, self.seq)})
        await self.doctor.expect("offer", seq=self.seq)
        await self.doctor.send({"type": "answer", "sdp": stamped(self.plan.answer, self.seq)})
        await self.station.expect("answer", seq=self.seq)

    async def hold(self) -> None:
        """Offer again every interval (random phase) until the hold is over."""
        wait = random.uniform(0, self.plan.interval)
        while not await self._over_after(wait):
            await self.negotiate()
            wait = self.plan.interval

    async def _over_after(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.plan.hold_over.wait(), seconds)
        return self.plan.hold_over.is_set()

    async def end(self) -> None:
        """The station says bye; the doctor hears it; both close."""
        if self.alive:
            await self.station.send({"type": "bye", "reason": f"ended {time.monotonic():.6f}"})
            await self.doctor.expect("bye")
        await self.doctor.close()
        await self.station.close()


async def guarded(figures: Figures, what: str, step: Any) -> bool:
    """Run ``step``, counting what goes wrong as an error; True when it went well."""
    try:
        await step
    except TimeoutError:
        figures.error("timeout", what)
    except aiohttp.ClientResponseError as error:
        figures.error("http", f"{what}: {error.status} {error.request_info.url.path[:20]}")
    except Exception as error:  # every failure is a counted error, never a crash
        figures.error(type(error).__name__, f"{what}: {error}")
    else:
        return True
    return False


def loop_lag_sampler(lags: list[float], stop: asyncio.Event) -> asyncio.Task[None]:
    """Sample the generator's own loop lag every 100 ms."""
    async def sample() -> None:
        while not stop.is_set():
            start = time.monotonic()
            await asyncio.sleep(0.1)
            lags.append((time.monotonic() - start - 0.1) * 1000.0)
    return asyncio.create_task(sample())


def say(line: str) -> None:
    """A phase line for the parent process."""
    print(line, flush=True)


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    """Ramp to ``args.sessions``, hold ``args.hold`` seconds, end every call."""
    keys = json.loads(Path(args.keys).read_text(encoding="utf-8"))
    offer, answer = await real_sdps()
    figures, hold_over, stop = Figures(), asyncio.Event(), asyncio.Event()
    # TLS as a station and a browser would: the server's (local) certificate verified.
    ca = Path(args.ca)
    connector = aiohttp.TCPConnector(limit=0, force_close=False,
                                     ssl=client_context(only=ca))
    timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT)
    lags: list[float] = []
    sampler = loop_lag_sampler(lags, stop)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     raise_for_status=False) as http:
        plan = Plan(args.url, http, offer, answer, args.interval, figures, hold_over, ca)
        sessions = [Session(plan, i, *keys[i % len(keys)]) for i in range(args.sessions)]
        gate = asyncio.Semaphore(args.concurrency)

        async def set_up(session: Session) -> None:
            async with gate:
                start = time.monotonic()
                if await guarded(figures, f"setup {session.session_id}", session.set_up()):
                    figures.setup_s.append(time.monotonic() - start)

        say("PHASE ramp")
        ramp_start = time.monotonic()
        await asyncio.gather(*(set_up(s) for s in sessions))
        ramp_s = time.monotonic() - ramp_start
        alive = [s for s in sessions if s.alive]
        say("PHASE hold")
        figures.holding = True
        holders = [asyncio.create_task(guarded(figures, f"hold {s.session_id}", s.hold()))
                   for s in alive]
        await asyncio.sleep(args.hold)
        hold_over.set()
        held = await asyncio.gather(*holders)
        say("PHASE end")
        sessions_held = sum(held)
        await asyncio.gather(*(guarded(figures, f"end {s.session_id}", s.end())
                               for s in sessions))
    stop.set()
    await sampler
    return {"sessions_held": sessions_held, "sessions_set_up": len(alive), "ramp_s": ramp_s,
            "setup_relay_ms": figures.setup_relay_ms, "hold_relay_ms": figures.hold_relay_ms,
            "bye_relay_ms": figures.bye_relay_ms,
            "setup_s": figures.setup_s, "errors": figures.errors,
            "first_errors": figures.first_errors, "generator_lag_ms": lags,
            "sdp_bytes": [len(offer), len(answer)]}


# --------------------------------------------------------------------------- parent


def raise_fd_limit() -> int:
    """Open-file limit up to the hard one (inherited by both children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pinned(core: int, command: list[str]) -> list[str]:
    """``command`` on one core (``taskset``, when the machine has it and the core)."""
    if shutil.which("taskset") and core < (os.cpu_count() or 1):
        return ["taskset", "-c", str(core), *command]
    return command


def register_stations(home: Path, count: int) -> list[tuple[str, str]]:
    """``count`` stations in the server's store: the first with the CLI, the rest with
    the code the CLI runs (a fresh store, before the server starts)."""
    first = subprocess.run([str(STATION), "--home", str(home), "serve", "stations", "add",
                            "load-0000"], capture_output=True, text=True, check=True)
    key = next(line.split(" ", 1)[1] for line in first.stdout.splitlines()
               if line.startswith("STATION-KEY "))
    stations = [("load-0000", key)]
    from station.signaling.stations import StationDirectory  # noqa: PLC0415
    from station.store.database import Store  # noqa: PLC0415

    with Store.open(home / "station.sqlite3") as store:
        directory = StationDirectory(store)
        for i in range(1, count):
            stations.append((f"load-{i:04d}", directory.add(f"load-{i:04d}", actor="bench")))
    return stations


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def start_server(home: Path, port: int, log: IO[str]) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        pinned(SERVER_CORE, [str(STATION), "--home", str(home), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--self-signed"]),
        stdout=subprocess.PIPE, stderr=log, text=True)
    assert server.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if f":{port}" in line:
            return server
        if not line and server.poll() is not None:
            break
    server.kill()
    raise SystemExit(f"station serve did not start (see {log.name})")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Register, start the server and the generator, sample the server, gather figures."""
    fd_limit = raise_fd_limit()
    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        count = args.stations or args.sessions
        started = time.monotonic()
        stations = register_stations(home, count)
        register_s = time.monotonic() - started
        keys = home / "bench-keys.json"
        keys.touch(mode=0o600)
        keys.write_text(json.dumps(stations), encoding="utf-8")
        port = free_port()
        with open(home / "server.log", "w+", encoding="utf-8") as log:
            server = start_server(home, port, log)
            try:
                result = drive(args, server.pid, f"https://127.0.0.1:{port}", keys,
                               home / "tls" / "localhost.crt")
            finally:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
            log.seek(0)
            logged = [line for line in log.read().splitlines() if line.strip()]
        result.update(stations=count, register_s=register_s, fd_limit=fd_limit,
                      server_log_lines=len(logged), server_log_first=logged[:5],
                      server_exit=server.returncode)
        return result
    finally:
        shutil.rmtree(home, ignore_errors=True)


def drive(args: argparse.Namespace, pid: int, url: str, keys: Path,
          ca: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--generator", "--url", url,
               "--ca", str(ca),
               "--keys", str(keys), "--sessions", str(args.sessions), "--hold", str(args.hold),
               "--interval", str(args.interval), "--concurrency", str(args.concurrency)]
    generator = subprocess.Popen(pinned(GENERATOR_CORE, command), stdout=subprocess.PIPE,
                                 text=True)
    assert generator.stdout is not None
    profiler = None
    if args.profile:  # py-spy on the server, from set-up to the end of the hold
        fmt = "raw" if args.profile.endswith(".txt") else "flamegraph"  # raw: collapsed stacks
        profiler = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--output",
                                     args.profile, "--rate", "200", "--nonblocking",
                                     "--format", fmt],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks: dict[str, tuple[float, float, float]] = {}
    peak_rss, last = 0.0, ""
    for line in generator.stdout:
        last = line.strip() or last
        if line.startswith("PHASE "):
            marks[line.split()[1]] = (time.monotonic(), cpu_seconds(pid),
                                      cpu_seconds(generator.pid))
            peak_rss = max(peak_rss, rss_mb(pid))
            if line.startswith("PHASE end") and profiler is not None:
                profiler.send_signal(signal.SIGINT)
    generator.wait()
    if profiler is not None:
        profiler.wait(timeout=60)
    if generator.returncode != 0 or not last.startswith("{"):
        raise SystemExit(f"load generator failed ({generator.returncode}): {last}")
    result: dict[str, Any] = json.loads(last)

    def cpu(a: str, b: str, who: int = 1) -> float:
        if a not in marks or b not in marks:
            return 0.0
        return 100.0 * (marks[b][who] - marks[a][who]) / max(1e-9, marks[b][0] - marks[a][0])

    result.update(server_cpu_pct=cpu("hold", "end"), server_cpu_ramp_pct=cpu("ramp", "hold"),
                  generator_cpu_pct=cpu("hold", "end", 2),
                  generator_cpu_ramp_pct=cpu("ramp", "hold", 2),
                  server_rss_mb=peak_rss, server_rss_peak_mb=rss_mb(pid, "VmHWM"))
    return result


def summarise(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    hold, setup = raw["hold_relay_ms"], raw["setup_relay_ms"]
    lags = raw["generator_lag_ms"]
    errors = sum(raw["errors"].values()) + raw["server_log_lines"]
    return {
        "sessions": args.sessions, "sessions_held": raw["sessions_held"],
        "hold_s": args.hold, "interval_s": args.interval,
        "relay_p50_ms": round(pct(hold, 0.50), 2), "relay_p95_ms": round(pct(hold, 0.95), 2),
        "relay_p99_ms": round(pct(hold, 0.99), 2), "relay_max_ms": round(max(hold, default=0), 2),
        "relay_messages": len(hold),
        "setup_relay_p50_ms": round(pct(setup, 0.50), 2),
        "setup_relay_p99_ms": round(pct(setup, 0.99), 2),
        "setup_relay_max_ms": round(max(setup, default=0), 2),
        "bye_relay_p50_ms": round(pct(raw["bye_relay_ms"], 0.50), 2),
        "bye_relay_p99_ms": round(pct(raw["bye_relay_ms"], 0.99), 2),
        "invitations_per_s": round(raw["sessions_set_up"] / max(raw["ramp_s"], 1e-9), 1),
        "ramp_s": round(raw["ramp_s"], 2),
        "setup_p50_ms": round(pct(raw["setup_s"], 0.5) * 1000, 1),
        "setup_p99_ms": round(pct(raw["setup_s"], 0.99) * 1000, 1),
        "errors": errors, "error_kinds": raw["errors"],
        "first_errors": raw["first_errors"] + raw["server_log_first"],
        "server_cpu_pct": round(raw["server_cpu_pct"], 1),
        "server_cpu_ramp_pct": round(raw["server_cpu_ramp_pct"], 1),
        "server_rss_mb": round(raw["server_rss_mb"], 1),
        "server_rss_peak_mb": round(raw["server_rss_peak_mb"], 1),
        "generator_lag_p99_ms": round(pct(lags, 0.99), 2),
        "generator_cpu_pct": round(raw["generator_cpu_pct"], 1),
        "generator_cpu_ramp_pct": round(raw["generator_cpu_ramp_pct"], 1),
        "sdp_bytes": raw["sdp_bytes"], "stations": raw["stations"],
        "register_s": round(raw["register_s"], 2), "fd_limit": raw["fd_limit"],
        "server_core": SERVER_CORE, "generator_core": GENERATOR_CORE,
    }


def table(s: dict[str, Any]) -> str:
    rows = [
        ("sessions held (station + doctor sockets)", f"{s['sessions_held']} / {s['sessions']}",
         f"{GOAL_SESSIONS}"),
        (f"relay p50 / p95 (hold, {s['relay_messages']} msgs)",
         f"{s['relay_p50_ms']} / {s['relay_p95_ms']} ms", ""),
        ("relay p99 (hold)", f"{s['relay_p99_ms']} ms", f"<= {GOAL_P99_MS:g} ms"),
        ("relay max (hold)", f"{s['relay_max_ms']} ms", ""),
        ("relay p50 / p99 / max (ramp: setup offers/answers)",
         f"{s['setup_relay_p50_ms']} / {s['setup_relay_p99_ms']} / {s['setup_relay_max_ms']} ms",
         ""),
        ("relay p50 / p99 (end: every station's bye at once)",
         f"{s['bye_relay_p50_ms']} / {s['bye_relay_p99_ms']} ms", ""),
        ("errors", str(s["errors"]), "0"),
        ("invitations opened per second (ramp)", f"{s['invitations_per_s']} /s", ""),
        ("one setup p50 / p99 (link -> answer)",
         f"{s['setup_p50_ms']} / {s['setup_p99_ms']} ms", ""),
        ("server CPU, hold / ramp (core 0)",
         f"{s['server_cpu_pct']} / {s['server_cpu_ramp_pct']} %", "<= 100 % (one core)"),
        ("server RSS end of hold / peak",
         f"{s['server_rss_mb']} / {s['server_rss_peak_mb']} MB", ""),
        ("generator loop lag p99 (core 1)", f"{s['generator_lag_p99_ms']} ms", ""),
        ("generator CPU, hold / ramp (core 1)",
         f"{s['generator_cpu_pct']} / {s['generator_cpu_ramp_pct']} %", ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"station serve under load: {s['sessions']} sessions, hold {s['hold_s']} s, "
             f"an offer/answer every {s['interval_s']} s per session, SDP "
             f"{s['sdp_bytes'][0]}/{s['sdp_bytes'][1]} bytes",
             f"{'figure':<{width}}  {'measured':<28}  goal"]
    lines += [f"{a:<{width}}  {b:<28}  {c}" for a, b, c in rows]
    if s["first_errors"]:
        lines.append("first errors: " + "; ".join(s["first_errors"][:5]))
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=GOAL_SESSIONS)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds at full load")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between a session's offers while held")
    parser.add_argument("--concurrency", type=int, default=32, help="set-ups at a time")
    parser.add_argument("--stations", type=int, default=0,
                        help="station ids (default one per session)")
    parser.add_argument("--quick", action="store_true", help="100 sessions for 10 s")
    parser.add_argument("--profile", metavar="SVG",
                        help="py-spy profile of the server: .svg flame graph, .txt collapsed"
                        " stacks (py-spy on PATH)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.hold = 100, 10.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.generator:
        raise_fd_limit()
        print(json.dumps(asyncio.run(generate(args))), flush=True)
        return 0
    summary = summarise(run(args), args)
    print(table(summary))
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
