"""The data channels' association retransmits after 400 ms, not aiortc's 1 s minimum
(station/call/sctp.py): measured on a live loopback call, whose round trip is tiny."""

from __future__ import annotations

import asyncio

from station.call.sctp import RTO_MIN_S
from tests.call.doctor import loopback_call, until


def test_a_live_association_uses_the_shorter_minimum_timeout() -> None:
    async def scenario() -> None:
        async with loopback_call() as loop_call:
            await until(lambda: "vitals" in loop_call.doctor.channels, "vitals channel open")
            pc = loop_call.call._pc
            assert pc is not None and pc.sctp is not None
            association = pc.sctp
            loop_call.call.send_vitals({"type": "device", "device": "x", "state": "ok"})
            await until(lambda: association._srtt is not None, "a round trip measured")
            # srtt + 4 rttvar is a few ms on loopback: the floor decides.
            assert association._rto == RTO_MIN_S

    asyncio.run(asyncio.wait_for(scenario(), 60))
