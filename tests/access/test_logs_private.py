"""No personal data in the logs at INFO level: a whole headless session, from the
resident's creation to the report in the drop folder (and a recipient refused
by the mail relay), with the doctor's link made and opened on the embedded
signaling server, logged at INFO for every logger; no record may carry a
trait of the resident, an e-mail address used, or the invitation token."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from station.access import Actor, Role
from station.outbox import Outbox, Recipient
from station.outbox.config import OutboxConfig
from station.people import NurseAccount
from station.report.sending import report_recipients, send_report
from station.report.service import ReportService
from station.signaling.runner import start_embedded
from station.signaling.tls import ClientTls
from station.store.database import Store
from station.store.residents import ResidentRegistry
from station.today import resume_session, sessions_today
from tests.conftest import QUALIFIED_INS, FakeClock, marie
from tests.outbox.conftest import smtp_config
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler
from tests.report.conftest import run_session

GP = Recipient.email("dr.durand@medecin.mssante.test", "Dr Paul Durand", "médecin traitant")
FAMILY = Recipient.email("famille.dupont@example.test", "Famille Dupont", "proche")


def forbidden_strings(token: str) -> list[str]:
    """Every form in which the resident's identity, an address or the token could leak."""
    born = date(1932, 4, 12)
    return [
        "Dupont", "DUPONT", "Marie", "MARIE", "Jeanne", "JEANNE", "Martin", "MARTIN",
        born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d"),
        born.strftime("%d%m%Y"), "12 avril 1932", "12/04/32",
        QUALIFIED_INS, QUALIFIED_INS[:13], "2 32 04 75 056 012 14",
        GP.address, FAMILY.address, "famille.dupont", "dr.durand",
        token, token[:16],
    ]


async def open_link(url: str, tls: ClientTls) -> None:
    """The doctor's browser opens the link over TLS (the server logs what it logs)."""
    async with aiohttp.ClientSession() as client, \
            client.get(url, **tls.options()) as response:
        await response.read()


async def make_and_open_link(store: Store, session_id: str) -> tuple[str, str]:
    running = await start_embedded(store)
    try:
        token, url = running.invitations.create(session_id)
        assert running.client_tls is not None
        await open_link(url, running.client_tls)
    finally:
        await running.stop()
    return token, url


def test_a_whole_session_logs_no_personal_data_at_info(
        store: Store, nurse: NurseAccount, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the root: every logger, INFO and above
    registry = ResidentRegistry(store, clock)
    resident = registry.create(marie(), nurse.login)
    registry.find(nurse, date(1932, 4, 12), "dup")
    registry.open(resident.id, nurse)
    engine = run_session(store, nurse, resident, clock)
    token, _ = asyncio.run(make_and_open_link(store, engine.id))
    sessions_today(store, nurse, clock)
    resume_session(store, engine.id, nurse, clock)
    version = ReportService(store, clock=clock).validate(engine.id, actor=nurse.login)
    handler = ScriptedHandler(rcpt_by_address={
        FAMILY.address: f"550 5.1.1 <{FAMILY.address}>: mailbox Dupont Marie unknown"})
    drop = tmp_path / "drop"
    drop.mkdir()
    with LoopbackSmtp(handler) as relay:
        smtp = smtp_config(relay.port)
        config = OutboxConfig(smtp=smtp.smtp, drop_folder=drop, backoff_initial_s=0.02,
                              backoff_max_s=0.1, timeout_s=5.0)
        recipients = report_recipients(config, [GP, FAMILY], doctor_email=GP.address)
        deliveries = asyncio.run(send_report(Outbox(store, config), config, version,
                                             "teleconsultation", "23/11/2026", recipients,
                                             actor=nurse.login))
    assert {d.address for d in deliveries if d.delivered_at} >= {GP.address}
    assert any(d.error_message for d in deliveries)  # the refused one was logged about
    assert list(drop.iterdir())  # the record system's copy
    assert caplog.records, "the flow logged nothing: the test would prove nothing"

    leaks = [(r.name, r.levelname, r.getMessage(), needle)
             for r in caplog.records if r.levelno >= logging.INFO
             and r.name != "mail.log"  # the test's mail relay: the far side, not the station
             for needle in forbidden_strings(token)
             if needle in r.getMessage() or needle in (r.exc_text or "")]
    assert leaks == []


def test_reads_refused_to_a_technician_log_nothing_personal(
        store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    resident = ResidentRegistry(store, clock).create(marie(), "claire.m")
    with pytest.raises(Exception, match="technicien"):
        ResidentRegistry(store, clock).open(resident.id, Actor("paul.t", Role.TECHNICIAN))
    assert not [r for r in caplog.records if "Dupont" in r.getMessage()]
