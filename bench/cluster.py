"""The signaling cluster: capacity with 3 nodes against 1, cross-node relay, recovery.

    python bench/cluster.py [--json] [--quick] [--fd-limit N] [--hold S]

Everything real, on loopback (:mod:`tests.signaling.cluster_lab`): one
``redis-server`` (append-only file on), ``station serve --redis`` nodes with
one shared certificate, HTTPS and WSS throughout. The calls' signaling is
played by the asyncio generator of ``bench/load.py`` (a station asks for a
link with the station's own client, the doctor opens it, joins, both sockets,
offers and answers of real aiortc size, each stamped with its send time).

Three figures:

- **cluster_ratio**: sessions held by 3 nodes / by 1 node. A node's capacity
  has to be bounded by something that grows with the nodes: on a 2-core
  machine the CPU does not (three nodes share the same two cores, with Redis
  and the generator). So each node gets the same budget of file descriptors
  (``prlimit --nofile``, as ``LimitNOFILE=`` of its systemd unit would),
  sessions are set up ``--batch`` at a time until a batch mostly fails, held
  ``--hold`` seconds with an offer/answer every ``--interval`` s, and a
  session counts as held when its last offer/answer round trip succeeded.
- **cross_node_p99_ms**: 3 nodes without a descriptor bound hold
  ``--latency-sessions`` sessions (not the saturated ones above); every
  station's socket is on one node and its doctor's on the next, so each relay
  goes node → Redis → node. The p99 of the hold's relays (arrival − send, in
  one generator process: its own delays included).
- **recover_s**: ``--recover`` sessions through a TCP balancer in front of
  3 nodes (clients reconnect as the station's client does: after 1 s, then
  backing off); one node is killed with SIGKILL; the time from the kill until
  every session it served has its sockets back and an offer/answer through
  the cluster again. The worst session's time.

With --json the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and
# bench/devices.py would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.signaling.cluster_lab

import argparse
import asyncio
import json
import os
import ssl
import tempfile
import time
from datetime import timedelta
from typing import Any

import aiohttp

from bench.load import (
    RPPS,
    Figures,
    Plan,
    Session,
    Side,
    guarded,
    pct,
    raise_fd_limit,
    real_sdps,
    stamped,
)
from station.signaling.client_api import InvitationClient, signaling_config
from tests.signaling.cluster_lab import STATION_ID, ClusterLab

GOAL_RATIO, GOAL_P99_MS, GOAL_RECOVER_S = 2.5, 20.0, 5.0
STEP_TIMEOUT = 10.0  # one set-up step; a node out of descriptors never answers
RECONNECT_FIRST_S = 1.0  # the station's SignalingClient waits this before reopening


class ClusterSession(Session):
    """A bench/load.py session whose station and doctor use their own node URLs."""

    def __init__(self, plan: Plan, index: int, station_url: str, doctor_url: str,
                 key: str, tls: ssl.SSLContext, ca_file: Path) -> None:
        super().__init__(plan, index, STATION_ID, key)
        self.session_id = f"grappe-{index:05d}"
        self.station_url, self.doctor_url, self.tls = station_url, doctor_url, tls
        self.config = signaling_config(station_url, STATION_ID, key, ca_file=ca_file)
        self.rejoin = ""
        self.step = ""  # the set-up step under way, for the error counts

    async def open_station(self) -> None:
        self.station = Side(f"station {self.session_id}", self.plan.figures)
        self.station.start(await self.plan.http.ws_connect(
            f"{self.station_url}/ws/station/{self.session_id}", headers=self.config.headers,
            heartbeat=10.0, max_msg_size=64 * 1024, ssl=self.tls))

    async def open_doctor(self, ticket: str) -> None:
        self.doctor = Side(f"doctor {self.session_id}", self.plan.figures)
        self.doctor.start(await self.plan.http.ws_connect(
            f"{self.doctor_url}/ws/doctor?ticket={ticket}",
            headers={"Origin": self.plan.url}, ssl=self.tls))
        self.rejoin = str((await self.doctor.expect("ticket"))["ticket"])

    async def negotiate(self) -> None:
        """bench/load.py's offer/answer, naming the step it waits at."""
        self.seq += 1
        self.step = "offer relayed"
        await self.station.send({"type": "offer", "sdp": stamped(self.plan.offer, self.seq)})
        await self.doctor.expect("offer", seq=self.seq)
        self.step = "answer relayed"
        await self.doctor.send({"type": "answer", "sdp": stamped(self.plan.answer, self.seq)})
        await self.station.expect("answer", seq=self.seq)

    @staticmethod
    async def both(side: Side, kinds: set[str]) -> None:
        """Wait until ``side`` received a message of each of ``kinds``, in any order."""
        missing = set(kinds)
        async with asyncio.timeout(STEP_TIMEOUT):
            while missing:
                message = await side.inbox.get()
                if message.get("type") == "closed":
                    raise ConnectionError(f"{side.name} socket closed")
                missing.discard(str(message.get("type")))

    async def set_up(self) -> None:
        """Link (station's node), join and socket (doctor's node), first offer/answer."""
        http = self.plan.http
        self.step = "link"
        link = await InvitationClient(self.config, http=http).create(
            self.session_id, timedelta(minutes=30))
        token = link.url.rsplit("/", 1)[1]
        self.step = "station socket"
        await self.open_station()
        self.step = "join"
        async with http.post(f"{self.doctor_url}/api/join/{token}",
                             headers={"Origin": self.plan.url}, ssl=self.tls,
                             json={"name": f"Dr Grappe {self.session_id}", "rpps": RPPS,
                                   "specialty": "Médecine générale"}) as joined:
            joined.raise_for_status()
            ticket = (await joined.json())["ticket"]
        self.step = "doctor socket"
        await self.open_doctor(ticket)
        # Either may come first: the station's socket may be seated after the doctor's
        # join (then doctor-joined comes from the replay that follows its seating).
        self.step = "doctor-joined and peer-joined"
        await self.both(self.station, {"doctor-joined", "peer-joined"})
        self.step = "offer/answer"
        await self.negotiate()
        self.alive = True


def note(text: str) -> None:
    """Progress, on stderr (stdout is the table and the JSON line)."""
    print(text, file=sys.stderr, flush=True)


def make_plan(lab: ClusterLab, http: aiohttp.ClientSession, sdps: tuple[str, str],
              interval: float) -> Plan:
    return Plan(lab.url, http, sdps[0], sdps[1], interval, Figures(), asyncio.Event(),
                lab.cert)


async def capacity(lab: ClusterLab, args: argparse.Namespace, sdps: tuple[str, str],
                   limited: bool = True, count: int = 0) -> dict[str, Any]:
    """Set up sessions a batch at a time until a batch mostly fails (``limited``) or
    ``count`` are set up; hold; count the sessions still answering."""
    tls = ssl.create_default_context(cafile=str(lab.cert))
    nodes = [n.url for n in lab.nodes]
    timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as http:
        plan = make_plan(lab, http, sdps, args.interval)
        sessions: list[ClusterSession] = []
        ramp_start = time.monotonic()
        while len(sessions) < (args.max_sessions if limited else count):
            batch = [ClusterSession(plan, len(sessions) + i,
                                    nodes[(len(sessions) + i) % len(nodes)],
                                    nodes[(len(sessions) + i + 1) % len(nodes)],
                                    lab.key, tls, lab.cert)
                     for i in range(args.batch)]
            sessions += batch
            ok = await asyncio.gather(*(asyncio.wait_for(
                guarded(plan.figures, f"setup {s.session_id}", s.set_up()), STEP_TIMEOUT * 3)
                for s in batch), return_exceptions=True)
            for session, outcome in zip(batch, ok, strict=True):
                if outcome is not True:
                    plan.figures.error(f"setup failed at {session.step}")
            if limited and sum(o is True for o in ok) < len(batch) / 2:
                # The cluster is full: it refused most of this batch. The batch's few
                # sessions that got in took the nodes' last descriptors: they are ended,
                # so that what is held is held with the headroom a node needs.
                await asyncio.gather(*(guarded(plan.figures, "end", s.end())
                                       for s in batch), return_exceptions=True)
                for session in batch:
                    session.alive = False
                break
        ramp_s = time.monotonic() - ramp_start
        alive = [s for s in sessions if s.alive]
        note(f"{len(lab.nodes)} node(s): {len(alive)} of {len(sessions)} sessions set up in"
             f" {ramp_s:.1f} s; {plan.figures.errors}")
        plan.figures.holding = True
        holders = [asyncio.create_task(guarded(plan.figures, f"hold {s.session_id}", s.hold()))
                   for s in alive]
        await asyncio.sleep(args.hold)
        plan.hold_over.set()
        await asyncio.gather(*holders)
        # Held: a last round trip through the cluster succeeds now.
        held = await asyncio.gather(*(guarded(plan.figures, f"check {s.session_id}",
                                              s.negotiate()) for s in alive))
        await asyncio.gather(*(guarded(plan.figures, f"end {s.session_id}", s.end())
                               for s in sessions), return_exceptions=True)
    return {"held": sum(held), "attempted": len(sessions), "ramp_s": ramp_s,
            "relay_ms": plan.figures.hold_relay_ms, "errors": plan.figures.errors}


async def recovery(lab: ClusterLab, args: argparse.Namespace,
                   sdps: tuple[str, str]) -> dict[str, Any]:
    """Sessions through the balancer; kill one node; time until each affected one is back."""
    tls = ssl.create_default_context(cafile=str(lab.cert))
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)) as http:
        plan = make_plan(lab, http, sdps, args.interval)
        sessions = [ClusterSession(plan, 90000 + i, lab.url, lab.url, lab.key, tls, lab.cert)
                    for i in range(args.recover)]
        for outcome in await asyncio.gather(*(guarded(plan.figures, "setup", s.set_up())
                                              for s in sessions)):
            if not outcome:
                failed = [s.step for s in sessions if not s.alive]
                raise SystemExit(f"recovery set-up failed at {failed}: "
                                 f"{plan.figures.first_errors}")
        # The node holding the most sockets is killed (the balancer spread them).
        seats = [(s, lab.holder(s.session_id, "station"), lab.holder(s.session_id, "doctor"))
                 for s in sessions]
        victim = max(lab.nodes, key=lambda n: sum((st is n) + (dr is n) for _, st, dr in seats))
        hit = [s for s, st, dr in seats if victim in (st, dr)]
        lab.kill(victim)
        killed = time.monotonic()

        async def come_back(session: ClusterSession) -> float:
            # Each side whose node died sees its socket close, waits, reopens.
            dead = {role for role in ("station", "doctor")
                    if lab.holder(session.session_id, role) in (victim, None)}
            was = sorted(dead)
            delay = RECONNECT_FIRST_S
            while True:
                await asyncio.sleep(delay)
                try:
                    reopened: Side | None = None
                    if "station" in dead:
                        session.step = "station socket"
                        await session.open_station()
                        dead.discard("station")
                        reopened = session.station
                    if "doctor" in dead:
                        session.step = "doctor socket"
                        await session.open_doctor(session.rejoin)
                        dead.discard("doctor")
                        reopened = session.doctor
                    # As the real clients do: offer once both are seated again (the
                    # side seated last hears peer-joined).
                    if reopened is not None:
                        session.step = "peer-joined"
                        await reopened.expect("peer-joined")
                    await session.negotiate()
                    return time.monotonic() - killed
                except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as error:
                    now = [getattr(lab.holder(session.session_id, r), "name", None)
                           for r in ("station", "doctor")]
                    note(f"{session.session_id}: not back yet at {session.step} ({error!r});"
                         f" {was} were on the dead node, seats now on {now};"
                         f" {plan.figures.first_errors}")
                    delay = min(delay * 2, 10.0)

        times = await asyncio.gather(*(come_back(s) for s in hit))
        for session in sessions:
            session.alive = True
        await asyncio.gather(*(guarded(plan.figures, "end", s.end()) for s in sessions),
                             return_exceptions=True)
    return {"recover_s": max(times, default=0.0), "recover_p50_s": pct(list(times), 0.5),
            "sessions_hit": len(hit), "sessions": len(sessions)}


def run_cluster(nodes: int, args: argparse.Namespace, work: Path,
                what: str) -> dict[str, Any]:
    """A fresh cluster of ``nodes`` for one phase: ``capacity`` (each node with
    ``--fd-limit`` descriptors), ``latency`` (``--latency-sessions``, no limit) or
    ``recovery``."""
    limit = ["prlimit", f"--nofile={args.fd_limit}:{args.fd_limit}"] if what == "capacity" \
        else []
    with ClusterLab(work / f"{what}-{nodes}", nodes, prefix=limit) as lab:
        sdps = asyncio.run(real_sdps())
        if what == "recovery":
            return asyncio.run(recovery(lab, args, sdps))
        return asyncio.run(capacity(lab, args, sdps, limited=what == "capacity",
                                    count=args.latency_sessions))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        work = Path(tmp)
        one = run_cluster(1, args, work, "capacity")
        three = run_cluster(3, args, work, "capacity")
        relays = run_cluster(3, args, work, "latency")["relay_ms"]
        recovered = run_cluster(3, args, work, "recovery")
    return {
        "cluster_ratio": round(three["held"] / max(one["held"], 1), 2),
        "cross_node_p99_ms": round(pct(relays, 0.99), 2),
        "recover_s": round(recovered["recover_s"], 2),
        "held_1": one["held"], "held_3": three["held"],
        "attempted_1": one["attempted"], "attempted_3": three["attempted"],
        "cross_node_p50_ms": round(pct(relays, 0.5), 2),
        "cross_node_messages": len(relays), "cross_node_sessions": args.latency_sessions,
        "recover_p50_s": round(recovered["recover_p50_s"], 2),
        "sessions_hit": recovered["sessions_hit"], "recover_sessions": recovered["sessions"],
        "fd_limit": args.fd_limit, "hold_s": args.hold, "interval_s": args.interval,
        "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }


def table(s: dict[str, Any]) -> str:
    rows = [
        ("sessions held, 3 nodes / 1 node",
         f"{s['held_3']} / {s['held_1']} = {s['cluster_ratio']}x", f">= {GOAL_RATIO}x"),
        (f"cross-node relay p50 / p99 ({s['cross_node_sessions']} sessions, "
         f"{s['cross_node_messages']} msgs)",
         f"{s['cross_node_p50_ms']} / {s['cross_node_p99_ms']} ms", f"p99 <= {GOAL_P99_MS:g} ms"),
        (f"recovery after a node's kill ({s['sessions_hit']}/{s['recover_sessions']} hit), "
         "p50 / worst", f"{s['recover_p50_s']} / {s['recover_s']} s",
         f"<= {GOAL_RECOVER_S:g} s"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"signaling cluster: redis-server + station serve --redis nodes on loopback, "
             f"{s['fd_limit']} descriptors per node, hold {s['hold_s']} s, an offer/answer "
             f"every {s['interval_s']} s; {s['cpus']} CPUs, load average {s['load_average']}",
             f"{'figure':<{width}}  {'measured':<24}  goal"]
    lines += [f"{a:<{width}}  {b:<24}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--fd-limit", type=int, default=256,
                        help="file descriptors per node (its capacity bound)")
    parser.add_argument("--batch", type=int, default=8,
                        help="set-ups at a time (the resolution of the capacity found)")
    parser.add_argument("--max-sessions", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds at full load")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds between a session's offers while held")
    parser.add_argument("--latency-sessions", type=int, default=100,
                        help="sessions held while cross-node relays are timed")
    parser.add_argument("--recover", type=int, default=30,
                        help="sessions through the balancer when a node is killed")
    parser.add_argument("--quick", action="store_true", help="a smaller, shorter run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.fd_limit, args.hold, args.recover, args.latency_sessions = 128, 5.0, 10, 30
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    summary = measure(args)
    print(table(summary))
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
