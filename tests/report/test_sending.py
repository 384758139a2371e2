"""A validated report reaches every recipient: a real SMTP relay on loopback gets the
PDF and the FHIR bundle bit for bit, the record system's drop folder gets them too."""

from __future__ import annotations

import asyncio
import email
import hashlib
from email.message import Message
from pathlib import Path

import pytest

from station.outbox import DeliveryState, Outbox, OutboxConfigError, Recipient
from station.outbox.config import config_from_mapping
from station.report.sending import (
    load_report_recipients,
    report_delivered,
    report_recipients,
    send_report,
    settle_sent_sessions,
)
from station.report.service import ReportService
from tests.outbox.conftest import smtp_config
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler
from tests.report.conftest import FinishedSession

TEAM = Recipient.email("soins@tilleuls.mssante.test", "Équipe soignante", "équipe EHPAD")
GP = Recipient.email("dr.durand@medecin.mssante.test", "Dr Paul Durand", "médecin traitant")


def attachments(raw: bytes) -> dict[str, bytes]:
    parsed: Message = email.message_from_bytes(raw)
    found = {}
    for part in parsed.walk():
        name = part.get_filename()
        if name:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[name] = payload
    return found


def test_the_report_goes_to_each_recipient_with_its_pdf_and_fhir_intact(
        finished: FinishedSession, tmp_path: Path) -> None:
    version = ReportService(finished.store).validate(finished.engine.id)
    handler = ScriptedHandler()
    with LoopbackSmtp(handler) as relay:
        config = smtp_config(relay.port)
        config = type(config)(smtp=config.smtp, drop_folder=tmp_path,
                              backoff_initial_s=0.02, backoff_max_s=0.1, timeout_s=5.0)
        recipients = report_recipients(config, [GP, TEAM], doctor_email=GP.address)
        assert [r.channel.value for r in recipients] == ["smtp", "smtp", "folder"]
        outbox = Outbox(finished.store, config)
        deliveries = asyncio.run(send_report(outbox, config, version, "teleconsultation",
                                             "23/11/2026", recipients, actor="claire.m"))
    assert {d.state for d in deliveries} == {DeliveryState.DELIVERED}
    assert report_delivered(outbox, version) is True
    received = {rcpt: raw for rcpt, raw in handler.accepted}
    assert set(received) == {GP.address, TEAM.address}
    for raw in received.values():
        files = attachments(raw)
        assert hashlib.sha256(files["compte-rendu-v1.pdf"]).hexdigest() == version.pdf_sha256
        assert hashlib.sha256(files["compte-rendu-v1.fhir.json"]).hexdigest() == \
            version.fhir_sha256
        subject = email.message_from_bytes(raw)["Subject"]
        # the subject names the document, not the resident
        assert finished.resident.identity.birth_name.upper() not in str(subject).upper()
    dropped = sorted(p.name for p in tmp_path.iterdir())
    assert dropped[0].endswith("compte-rendu-v1.pdf")
    # asking again sends nothing twice
    again = asyncio.run(send_report(outbox, config, version, "teleconsultation", "23/11/2026",
                                    recipients, actor="claire.m"))
    assert len(again) == 3 and len(handler.accepted) == 2


def test_nothing_configured_means_nothing_queued(finished: FinishedSession) -> None:
    version = ReportService(finished.store).validate(finished.engine.id)
    outbox = Outbox(finished.store, None)
    assert report_recipients(None, []) == []
    assert asyncio.run(send_report(outbox, None, version, "teleconsultation", "d", [],
                                   actor="x")) == []
    assert report_delivered(outbox, version) is None


def test_recipients_come_from_the_report_section(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('[report]\nrecipients = [\n  { address = "a@b.mssante.fr", name = "Dr A",'
                    ' role = "médecin traitant" },\n]\n', encoding="utf-8")
    assert load_report_recipients(path) == [Recipient.email("a@b.mssante.fr", "Dr A",
                                                            "médecin traitant")]
    path.write_text('[report]\nrecipients = "a@b"\n', encoding="utf-8")
    with pytest.raises(OutboxConfigError):
        load_report_recipients(path)
    assert load_report_recipients(tmp_path / "missing.toml") == []


def test_a_session_is_closed_once_its_report_reached_everyone(
        finished: FinishedSession, tmp_path: Path) -> None:
    service = ReportService(finished.store)
    version = service.validate(finished.engine.id)
    config = config_from_mapping({"drop_folder": str(tmp_path)})
    outbox = Outbox(finished.store, config)
    recipients = report_recipients(config, [])
    assert settle_sent_sessions(finished.store, outbox) == []  # nothing queued yet
    deliveries = asyncio.run(send_report(outbox, config, version, "teleconsultation", "d",
                                         recipients, actor="claire.m"))
    assert [d.state for d in deliveries] == [DeliveryState.DELIVERED]
    assert settle_sent_sessions(finished.store, outbox) == [finished.engine.id]
    state = finished.store.conn.execute("SELECT state FROM sessions WHERE id = ?",
                                        (finished.engine.id,)).fetchone()[0]
    assert state == "sent"
    assert settle_sent_sessions(finished.store, outbox) == []
