"""kill -9 at each point of sending loses no delivery and sends none twice.

A child process queues a report for three recipients and sends it through a
real SMTP server on loopback; the test kills it with SIGKILL (1) after the
queuing is committed and before any sending, (2) once a delivery is committed
as ``sending`` and the server is holding its RCPT reply (before the message
was handed over), (3) while the server holds its reply to DATA (the message
was handed over; whether it was accepted is unknown to the sender). Then the
server is released, a fresh worker starts on the same store, and every
recipient must have the message under exactly one Message-ID; in cases (1)
and (2) exactly one copy arrives.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from station.outbox import DeliveryState, Outbox, OutboxWorker
from station.store import audit
from station.store.database import Store
from tests.outbox.conftest import RECIPIENTS, send_until_settled, smtp_config
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler

ROOT = Path(__file__).resolve().parent.parent.parent


def start_child(path: Path, port: int, mode: str) -> tuple[subprocess.Popen[str], list[str]]:
    command = [sys.executable, "-m", "tests.outbox.outbox_child", str(path), str(port), mode]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    line = child.stdout.readline().split()
    assert line and line[0] == "QUEUED", line
    return child, line[1:]


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.parametrize("point", ["after_queue", "holding_rcpt", "holding_data"])
def test_kill_9_loses_no_delivery_and_sends_none_twice(tmp_path: Path, point: str) -> None:
    path = tmp_path / "station.sqlite3"
    hold = threading.Event()
    handler = ScriptedHandler(hold_rcpt=hold if point == "holding_rcpt" else None,
                              hold_data=hold if point == "holding_data" else None)
    with LoopbackSmtp(handler) as server:
        child, ids = start_child(path, server.port, "queue" if point == "after_queue" else "send")
        try:
            if point == "holding_rcpt":
                assert handler.rcpt_seen.wait(20)
            elif point == "holding_data":
                assert handler.data_seen.wait(20)
        finally:
            kill(child)
        handler.hold_rcpt = handler.hold_data = None
        hold.set()  # the server now answers the dead sender (250 after DATA: accepted)

        with Store.open(path) as store:
            config = smtp_config(server.port)
            outbox = Outbox(store, config)
            assert {d.id for d in outbox.pending()} == set(ids)  # nothing lost
            states = {d.state for d in outbox.pending()}
            if point == "after_queue":
                assert states == {DeliveryState.QUEUED}
            else:
                assert DeliveryState.SENDING in states
            send_until_settled(OutboxWorker(outbox, config))
            deliveries = [outbox.delivery(i) for i in ids]
            assert audit.verify(store.conn).ok
            assert store.integrity_check() == ["ok"]

    for delivery, recipient in zip(deliveries, RECIPIENTS, strict=True):
        assert delivery.state is DeliveryState.DELIVERED
        copies = handler.received().get(recipient.address, [])
        message_ids = handler.message_ids(recipient.address)
        assert set(message_ids) == {delivery.mime_message_id}  # one distinct message
        assert len(set(copies)) == 1  # a re-sent copy is byte for byte the same
        if point in ("after_queue", "holding_rcpt"):
            assert len(copies) == 1
        else:
            assert len(copies) <= 2
        interrupted = [h for h in delivery.history if h.event == "interrupted"]
        if point == "after_queue":
            assert interrupted == []
    if point == "holding_data":  # the killed attempt was accepted, then sent again
        assert any(len(c) == 2 for c in handler.received().values())
        assert any(h.event == "interrupted" for d in deliveries for h in d.history)


def test_a_second_worker_does_not_take_a_delivery_being_sent(tmp_path: Path) -> None:
    """The ``sending`` claim is a lease: another worker leaves it alone until it is due."""
    with Store.open(tmp_path / "station.sqlite3") as store:
        config = smtp_config(1).__class__(smtp=smtp_config(1).smtp, backoff_initial_s=60)
        outbox = Outbox(store, config)
        from tests.outbox.conftest import report_message  # noqa: PLC0415

        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        assert outbox.claim(delivery_id, 60) is not None
        assert outbox.claim(delivery_id, 60) is None
        assert asyncio.run(OutboxWorker(outbox, config).run_once()) == []
