"""A userspace link emulator the tests own: rate, delay, jitter, loss and cuts.

This kernel has no ``netem`` qdisc, so delay and jitter cannot come from
``tc``. Instead of the veth pair of :class:`tests.netlab.NetLab`, an
:class:`EmulatedLab` joins its two namespaces with two TAP devices and a
forwarder between them:

    station ns                root ns (forwarder process)             doctor ns
    ts<tag> 10.78.N.1  <-fd->  [ up:   station -> doctor ]  <-fd->  td<tag> 10.78.N.2
                               [ down: doctor -> station ]

The forwarder (this file run as a script, ``python tests/linkemu.py serve``)
creates both TAP devices in the root namespace and keeps their file
descriptors; the lab then moves each device into its namespace (a TAP keeps
its fd across the move) and gives it its address. Every Ethernet frame read
on one fd is written to the other after going through that direction's
model, in this order:

1. **cut**: while the link is cut, every frame is dropped, also those
   already queued when the cut began (the cable pulled);
2. **random loss**: an IP frame is dropped with probability ``loss``
   (ARP is never dropped, only delayed, so the link never loses its
   neighbour table to chance);
3. **rate**: a drop-tail bottleneck queue served at ``rate_bps`` (each
   frame takes ``8 x len / rate`` seconds to serialise, after the frames
   before it); a frame that would wait more than ``queue_s`` in it is
   dropped, like a full modem buffer;
4. **delay and jitter**: once serialised, a frame is released after
   ``delay_s`` plus a uniform random ``[-jitter_s, +jitter_s]``, but never
   before the frame ahead of it: **order is kept** (4G's radio link layer
   delivers in order; reordering would make the receivers' jitter buffers
   and NACKs work on a behaviour the real link rarely shows). Keeping order
   bunches frames a little after a long draw, which is what a cellular link
   does too.

The parent drives it through the forwarder's stdin, one JSON command per
line, each answered by one JSON line on its stdout: ``{"op": "set", "dir":
"up"|"down", "rate_bps", "delay_s", "jitter_s", "loss", "queue_s"}``,
``{"op": "cut", "on": bool}``, ``{"op": "stats"}`` (frames and bytes in,
delivered, dropped by loss, by the queue, by the cut, per direction),
``{"op": "quit"}``. The forwarder raises its own priority (``nice -10``):
it plays the network, so the 2-core machine's load should not become the
link's jitter.
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import random
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the forwarder needs nothing else
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from tests.netlab import NetLab, _run, unavailable

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_ARP = 0x0806
UP, DOWN = "up", "down"  # station -> doctor, doctor -> station


# --- the model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Direction:
    """One way of the link. ``rate_bps`` None: no bottleneck."""

    rate_bps: float | None = None
    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    queue_s: float = 0.5


@dataclass(frozen=True, slots=True)
class Profile:
    """A link: the same model both ways unless ``down`` says otherwise."""

    name: str
    up: Direction
    down: Direction | None = None

    @property
    def both(self) -> tuple[Direction, Direction]:
        return self.up, self.down or self.up


CLEAN = Profile("clean", Direction())
# The profiles (#8). Queue: 500 ms of the rate, a 4G modem's buffer order of size.
GOOD = Profile("good", Direction(rate_bps=20e6, delay_s=0.020))
WEAK_4G = Profile("4g-weak", Direction(rate_bps=1e6, delay_s=0.080, jitter_s=0.020, loss=0.01))
POOR = Profile("poor", Direction(rate_bps=256e3, delay_s=0.150, loss=0.05))
PROFILES = {profile.name: profile for profile in (CLEAN, GOOD, WEAK_4G, POOR)}


@dataclass
class Counters:
    frames_in: int = 0
    bytes_in: int = 0
    delivered: int = 0
    bytes_delivered: int = 0
    lost: int = 0
    queue_drops: int = 0
    cut_drops: int = 0
    peak_queue_ms: float = 0.0  # the longest wait in the bottleneck queue admitted
    peak_100ms_bytes: int = 0  # the most bytes arriving within one 100 ms slot (bursts)


@dataclass
class Lane:
    """One direction's state in the forwarder: model, queue of (release time, frame)."""

    model: Direction = field(default_factory=Direction)
    busy_until: float = 0.0
    last_release: float = 0.0
    queue: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    counters: Counters = field(default_factory=Counters)
    slot: int = 0
    slot_bytes: int = 0

    def admit(self, frame: bytes, now: float, cut: bool, chance: random.Random) -> None:
        """Apply cut, loss and the bottleneck to one frame arriving at ``now``."""
        counters = self.counters
        counters.frames_in += 1
        counters.bytes_in += len(frame)
        slot = int(now * 10)
        if slot != self.slot:
            self.slot, self.slot_bytes = slot, 0
        self.slot_bytes += len(frame)
        counters.peak_100ms_bytes = max(counters.peak_100ms_bytes, self.slot_bytes)
        model = self.model
        if cut:
            counters.cut_drops += 1
            return
        is_arp = len(frame) >= 14 and struct.unpack_from("!H", frame, 12)[0] == ETH_P_ARP
        if model.loss > 0 and not is_arp and chance.random() < model.loss:
            counters.lost += 1
            return
        done = now
        if model.rate_bps:
            done = max(now, self.busy_until) + len(frame) * 8 / model.rate_bps
            if done - now > model.queue_s + 1e-9:
                counters.queue_drops += 1
                return
            self.busy_until = done
            counters.peak_queue_ms = max(counters.peak_queue_ms, (done - now) * 1000)
        delay = model.delay_s
        if model.jitter_s > 0:
            delay += chance.uniform(-model.jitter_s, model.jitter_s)
        release = max(done + max(0.0, delay), self.last_release)  # order kept
        self.last_release = release
        self.queue.append((release, frame))

    def flush(self) -> None:
        self.counters.cut_drops += len(self.queue)
        self.queue.clear()
        self.busy_until = self.last_release = 0.0


def _open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def serve(station_tap: str, doctor_tap: str, seed: int | None = None) -> None:
    """The forwarder's loop (runs until ``quit`` or its stdin closes)."""
    with contextlib.suppress(OSError):
        os.nice(-10)
    chance = random.Random(seed)
    fds = {UP: _open_tap(station_tap), DOWN: _open_tap(doctor_tap)}  # read side of each lane
    out = {UP: fds[DOWN], DOWN: fds[UP]}
    lanes = {UP: Lane(), DOWN: Lane()}
    cut = False
    control = sys.stdin.fileno()
    os.set_blocking(control, False)
    pending = b""

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    reply({"ready": True})
    readers = [fds[UP], fds[DOWN], control]
    while True:
        now = time.monotonic()
        heads = [lane.queue[0][0] for lane in lanes.values() if lane.queue]
        timeout = max(0.0, min(heads) - now) if heads else 0.5
        readable, _, _ = select.select(readers, [], [], timeout)
        now = time.monotonic()
        for lane_name in (UP, DOWN):
            if fds[lane_name] in readable:
                lane = lanes[lane_name]
                for _ in range(256):
                    try:
                        frame = os.read(fds[lane_name], 65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # the device went away with its namespace
                        return
                    lane.admit(frame, time.monotonic(), cut, chance)
        if control in readable:
            chunk = os.read(control, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = json.loads(line)
                op = command.pop("op")
                if op == "set":
                    lane = lanes[command.pop("dir")]
                    lane.model = Direction(**command)
                    reply({"ok": True})
                elif op == "cut":
                    cut = bool(command["on"])
                    if cut:
                        for lane in lanes.values():
                            lane.flush()
                    reply({"ok": True})
                elif op == "stats":
                    reply({name: asdict(lane.counters) for name, lane in lanes.items()})
                elif op == "quit":
                    reply({"ok": True})
                    return
        now = time.monotonic()
        for lane_name, lane in lanes.items():
            while lane.queue and lane.queue[0][0] <= now:
                _, frame = lane.queue.popleft()
                try:
                    os.write(out[lane_name], frame)
                except OSError:
                    continue
                lane.counters.delivered += 1
                lane.counters.bytes_delivered += len(frame)


# --- the lab -------------------------------------------------------------------------


def emulator_unavailable() -> str | None:
    """Why an :class:`EmulatedLab` cannot run here, or None when it can."""
    why = unavailable()
    if why is not None:
        return why
    name = f"tapprobe{os.getpid() % 10000}"
    try:
        fd = _open_tap(name)
    except OSError as error:
        return f"cannot create a TAP device: {error}"
    os.close(fd)
    return None


class EmulatedLab(NetLab):
    """:class:`NetLab` whose link is the userspace emulator: same API (``cut``,
    ``lose``, ``heal``, ``shape``, ``prefix``, ``wrapper``), plus :meth:`emulate`.

    ``cut``/``heal`` act in the emulator (``heal`` restores the profile last
    given to :meth:`emulate`); ``lose`` and ``shape`` still work, with
    nftables and tbf on the TAP devices.
    """

    def __init__(self, tag: str | None = None, seed: int | None = None) -> None:
        super().__init__(tag or f"e{os.getpid() % 100000}")
        self.station_if = f"ts{self.station_ns[2:]}"
        self.doctor_if = f"td{self.doctor_ns[2:]}"
        subnet = 10 + os.getpid() % 240
        self.station_ip, self.doctor_ip = f"10.78.{subnet}.1", f"10.78.{subnet}.2"
        self.seed = seed
        self.profile = CLEAN
        self._forwarder: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatedLab:
        self.close()
        _run("ip", "netns", "add", self.station_ns)
        _run("ip", "netns", "add", self.doctor_ns)
        command = [sys.executable, str(Path(__file__).resolve()), "serve", self.station_if,
                   self.doctor_if]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        self._forwarder = subprocess.Popen(command, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True)
        ready = self._read()
        if not ready.get("ready"):
            raise RuntimeError(f"the link emulator did not start: {ready}")
        for ns, interface, address in ((self.station_ns, self.station_if, self.station_ip),
                                       (self.doctor_ns, self.doctor_if, self.doctor_ip)):
            _run("ip", "link", "set", interface, "netns", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", interface)
            _run("ip", "-n", ns, "link", "set", interface, "up")
        return self

    def close(self) -> None:
        forwarder, self._forwarder = self._forwarder, None
        if forwarder is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self._command({"op": "quit"}, forwarder)
            try:
                forwarder.wait(timeout=5)
            except subprocess.TimeoutExpired:
                forwarder.kill()
                forwarder.wait()
        super().close()

    # --- the forwarder ------------------------------------------------------------------

    def _read(self, forwarder: subprocess.Popen[str] | None = None) -> dict[str, Any]:
        process = forwarder or self._forwarder
        assert process is not None and process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the link emulator exited")
        return dict(json.loads(line))

    def _command(self, command: dict[str, Any],
                 forwarder: subprocess.Popen[str] | None = None) -> dict[str, Any]:
        process = forwarder or self._forwarder
        if process is None or process.stdin is None:
            raise RuntimeError("the lab is not running")
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        return self._read(process)

    def set_direction(self, direction: str, model: Direction) -> None:
        """Set ``up`` (station -> doctor) or ``down`` (doctor -> station)."""
        self._command({"op": "set", "dir": direction, **asdict(model)})

    def emulate(self, profile: Profile) -> None:
        """Make the link behave as ``profile`` (both ways), cut or not as it was."""
        self.profile = profile
        up, down = profile.both
        self.set_direction(UP, up)
        self.set_direction(DOWN, down)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per direction since the lab started (frames, bytes, drops by cause)."""
        return {name: dict(value) for name, value in self._command({"op": "stats"}).items()}

    # --- NetLab's API -------------------------------------------------------------------

    def cut(self) -> None:
        """Drop every frame both ways, queued ones too."""
        self._command({"op": "cut", "on": True})

    def heal(self) -> None:
        """End a cut, remove any nftables loss; the link is back to its profile."""
        self._command({"op": "cut", "on": False})
        super().heal()


# --- probes: plain UDP sockets, run inside the namespaces ---------------------------------

PROBE_PORT = 47_000
_PROBE_SIZE = 1200  # UDP payload of the throughput probe


def _echo(host: str, port: int, seconds: float) -> None:
    """Echo every UDP datagram back for ``seconds``."""
    import socket  # noqa: PLC0415 - probes only

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, port))
        sock.settimeout(0.2)
        print(json.dumps({"ready": True}), flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, peer = sock.recvfrom(65536)
            except TimeoutError:
                continue
            sock.sendto(data, peer)


def _ping(host: str, port: int, count: int, interval: float) -> None:
    """``count`` numbered datagrams to an echo, ``interval`` apart: round trips in s."""
    import socket  # noqa: PLC0415

    sent: dict[int, float] = {}
    rtts: list[float] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        start = time.monotonic()
        for seq in range(count):
            due = start + seq * interval
            while (now := time.monotonic()) < due or (seq == count - 1 and now < due + 2):
                ready, _, _ = select.select([sock], [], [], max(0.0, min(due - now, 0.01)))
                if ready:
                    data = sock.recv(65536)
                    number = int(data.split(b" ")[0])
                    rtts.append(time.monotonic() - sent[number])
                if now >= due and seq != count - 1:
                    break
            sent[seq] = time.monotonic()
            sock.sendto(f"{seq} ".encode() + b"x" * 80, (host, port))
        end = time.monotonic() + 2.0
        while time.monotonic() < end and len(rtts) < count:
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                number = int(sock.recv(65536).split(b" ")[0])
                rtts.append(time.monotonic() - sent[number])
    print(json.dumps({"sent": count, "rtts": rtts}), flush=True)


def _sink(host: str, port: int, seconds: float) -> None:
    """Count datagrams and bytes received for ``seconds`` (JSON on stdout)."""
    import socket  # noqa: PLC0415

    received = size = 0
    first = last = 0.0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
        sock.settimeout(0.2)
        print(json.dumps({"ready": True}), flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (last and time.monotonic() - last > 1.0):
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            last = time.monotonic()
            first = first or last
            received += 1
            size += len(data)
    print(json.dumps({"received": received, "bytes": size, "seconds": last - first}),
          flush=True)


def _blast(host: str, port: int, seconds: float, rate_bps: float, size: int) -> None:
    """Send ``size``-byte datagrams at ``rate_bps`` (payload) for ``seconds``."""
    import socket  # noqa: PLC0415

    gap = size * 8 / rate_bps
    payload = b"y" * size
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        while (now := time.monotonic()) < start + seconds:
            due = start + sent * gap
            if due > now:
                time.sleep(due - now)
            with contextlib.suppress(OSError):
                sock.sendto(payload, (host, port))
            sent += 1
    print(json.dumps({"sent": sent}), flush=True)


def _spawn(lab: NetLab, side: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*lab.prefix(side), sys.executable, str(Path(__file__).resolve()),
                             *args], stdout=subprocess.PIPE, text=True)


def _last_json(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=60)
    return dict(json.loads(out.strip().splitlines()[-1]))


def probe_rtt(lab: NetLab, count: int = 100, interval: float = 0.02) -> dict[str, Any]:
    """UDP round trips doctor -> station -> doctor: ``{"sent", "rtts": [s...]}``."""
    echo = _spawn(lab, "station", "echo", lab.station_ip, str(PROBE_PORT),
                  str(count * interval + 6))
    assert echo.stdout is not None
    echo.stdout.readline()
    try:
        return _last_json(_spawn(lab, "doctor", "ping", lab.station_ip, str(PROBE_PORT),
                                 str(count), str(interval)))
    finally:
        echo.kill()
        echo.wait()


def probe_send(lab: NetLab, rate_bps: float, seconds: float,
               size: int = _PROBE_SIZE) -> dict[str, Any]:
    """UDP from the station to the doctor at ``rate_bps`` (payload) in ``size``-byte
    datagrams: sent, received, goodput (UDP payload bit/s, first to last arrival)."""
    sink = _spawn(lab, "doctor", "sink", lab.doctor_ip, str(PROBE_PORT + 1), str(seconds + 3))
    assert sink.stdout is not None
    sink.stdout.readline()
    sent = _last_json(_spawn(lab, "station", "blast", lab.doctor_ip, str(PROBE_PORT + 1),
                             str(seconds), str(rate_bps), str(size)))["sent"]
    got = _last_json(sink)
    goodput = got["bytes"] * 8 / got["seconds"] if got["seconds"] > 0 else 0.0
    return {"sent": sent, "received": got["received"], "goodput_bps": goodput}


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[0] == "serve":
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else None
        serve(argv[1], argv[2], seed)
        return
    probes: dict[str, tuple[Callable[..., None], tuple[Callable[[str], Any], ...]]] = {
        "echo": (_echo, (str, int, float)), "ping": (_ping, (str, int, int, float)),
              "sink": (_sink, (str, int, float)), "blast": (_blast, (str, int, float, float, int))}
    if argv and argv[0] in probes:
        function, types = probes[argv[0]]
        function(*(kind(value) for kind, value in zip(types, argv[1:], strict=True)))
        return
    print("usage: linkemu.py serve STATION_TAP DOCTOR_TAP [--seed N]", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
