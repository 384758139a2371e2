"""Sending a validated report: one message, the PDF and the FHIR bundle, to every recipient.

Who receives a report is configuration, in the ``[report]`` section of
``<home>/station.toml`` (next to ``[outbox]``, which says *how* to send)::

    [report]
    recipients = [
      { address = "dr.durand@medecin.mssante.fr", name = "Dr Paul Durand",
        role = "médecin traitant" },
      { address = "soins@tilleuls.mssante.fr", name = "Équipe soignante",
        role = "équipe EHPAD" },
    ]

The doctor who validated the report is added when his address is known, and
the EHPAD's record system too: the FHIR endpoint and the drop folder of
``[outbox]`` when they are configured. Queuing is idempotent (one delivery
per report version and recipient), so asking twice sends once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from station.i18n import tr
from station.outbox import (
    Attachment,
    Delivery,
    DeliveryId,
    DeliveryState,
    Outbox,
    OutboxConfig,
    OutboxConfigError,
    OutboxWorker,
    OutgoingMessage,
    Recipient,
)
from station.outbox.config import config_path
from station.session import SessionEngine, SessionState
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.reports import ReportRecords, ReportVersion

_ACT_TITLES = {"teleconsultation": "report.mail.title_teleconsultation",
               "tele_expertise": "report.mail.title_teleexpertise"}


def load_report_recipients(path: Path | None = None) -> list[Recipient]:
    """The configured recipients of every report (none when nothing is configured)."""
    path = path or config_path()
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise OutboxConfigError("outbox.config.malformed", path=str(path),
                                reason=str(error)) from error
    section = data.get("report", {})
    entries: Any = section.get("recipients", []) if isinstance(section, dict) else None
    if not isinstance(entries, list):
        raise OutboxConfigError("outbox.config.bad_value", path=str(path), key="report")
    recipients = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("address"), str):
            raise OutboxConfigError("outbox.config.bad_value", path=str(path),
                                    key="report.recipients")
        recipients.append(Recipient.email(entry["address"], str(entry.get("name", "")),
                                          str(entry.get("role", ""))))
    return recipients


def report_message(version: ReportVersion, act: str, when: str) -> OutgoingMessage:
    """The message carrying one report version: short text, the PDF and the FHIR bundle.

    The health data travel only in the attachments (secure messaging carries
    them); the subject names the document, not the resident.
    """
    title = tr(_ACT_TITLES.get(act, "report.mail.title_teleconsultation"))
    subject = tr("report.mail.subject", title=title, date=when, version=version.version)
    body = tr("report.mail.body", title=title, date=when, version=version.version,
              pdf_sha256=version.pdf_sha256, fhir_sha256=version.fhir_sha256)
    stem = f"compte-rendu-v{version.version}"
    return OutgoingMessage(
        subject=subject, body=body, session_id=version.session_id, report_ref=version.id,
        key=f"report:{version.id}",
        attachments=(Attachment(f"{stem}.pdf", "application/pdf", version.pdf),
                     Attachment(f"{stem}.fhir.json", "application/fhir+json", version.fhir)))


def report_recipients(config: OutboxConfig | None, configured: Sequence[Recipient],
                      doctor_email: str | None = None) -> list[Recipient]:
    """Everyone a report goes to: the configured people, the doctor, the record system."""
    recipients = list(configured)
    if doctor_email and all(r.address != doctor_email for r in recipients):
        recipients.append(Recipient.email(doctor_email, role=tr("report.mail.role_doctor")))
    if config is not None and config.fhir_url:
        recipients.append(Recipient.fhir_endpoint(role=tr("report.mail.role_record")))
    if config is not None and config.drop_folder is not None:
        recipients.append(Recipient.drop_folder(role=tr("report.mail.role_record")))
    return recipients


def queue_report(outbox: Outbox, version: ReportVersion, act: str, when: str,
                 recipients: Sequence[Recipient], actor: str) -> list[DeliveryId]:
    """Queue ``version`` for each recipient (idempotent); [] when there is nobody to send to."""
    if not recipients:
        return []
    return outbox.enqueue(report_message(version, act, when), recipients, actor=actor)


def queue_unqueued_reports(store: Store, outbox: Outbox, recipients: Sequence[Recipient],
                           ) -> list[ReportVersion]:
    """Queue every validated report that never reached the outbox; returns them.

    Validating a version and queuing it are two transactions: a station killed
    between them (or a télé-expertise answer stored while sending was down) left
    a validated report that nobody would send. Run at start and before each
    sending round; queuing is idempotent (the message key is the version), so
    a report already queued is never queued twice.
    """
    rows = store.conn.execute(
        "SELECT s.id, s.act, s.nurse_login FROM sessions s WHERE s.state = ?"
        " AND EXISTS (SELECT 1 FROM reports r WHERE r.session_id = s.id"
        " AND r.state = 'validated')", (SessionState.REPORT.value,)).fetchall()
    queued = []
    reports = ReportRecords(store)
    for session_id, act, nurse_login in rows:
        version = reports.latest(session_id)
        if version is None or report_delivered(outbox, version) is not None:
            continue
        when = version.created_at.astimezone().strftime("%d/%m/%Y")
        if queue_report(outbox, version, act, when, recipients, actor=nurse_login):
            queued.append(version)
    return queued


def report_delivered(outbox: Outbox, version: ReportVersion) -> bool | None:
    """True once every delivery of ``version`` was accepted, False while some are not,
    None when it was never queued."""
    deliveries = outbox.deliveries(report_ref=version.id)
    if not deliveries:
        return None
    return all(d.state is DeliveryState.DELIVERED for d in deliveries)


async def send_report(outbox: Outbox, config: OutboxConfig | None, version: ReportVersion,
                      act: str, when: str, recipients: Sequence[Recipient], actor: str,
                      ) -> list[Delivery]:
    """Queue ``version`` for ``recipients`` and make one sending pass now.

    Returns the deliveries as they stand after that pass (delivered, or
    queued for a retry with the reason); the outbox worker retries the rest.
    """
    queued = queue_report(outbox, version, act, when, recipients, actor)
    if queued and config is not None:
        await OutboxWorker(outbox, config).run_once()
    return outbox.deliveries(report_ref=version.id)


def settle_sent_sessions(store: Store, outbox: Outbox,
                         live: Mapping[str, SessionEngine] | None = None) -> list[str]:
    """Mark ``sent`` every session waiting in ``report`` whose latest validated report
    reached all its recipients; returns their ids.

    Catches every case: the live session, télé-expertise answers, retries that
    succeeded later, a restart. ``live`` gives the engines already open (the
    running session), so their state stays true; others are resumed from the store.
    """
    rows = store.conn.execute(
        "SELECT s.id, s.nurse_login FROM sessions s WHERE s.state = ?"
        " AND EXISTS (SELECT 1 FROM reports r WHERE r.session_id = s.id"
        " AND r.state = 'validated')", (SessionState.REPORT.value,)).fetchall()
    settled = []
    reports = ReportRecords(store)
    accounts = AccountDirectory(store)
    for session_id, nurse_login in rows:
        version = reports.latest(session_id)
        nurse = accounts.get(nurse_login)
        if version is None or nurse is None or report_delivered(outbox, version) is not True:
            continue
        engine = (live or {}).get(session_id) or SessionEngine.resume(store, session_id, nurse)
        if engine.state is SessionState.REPORT:
            engine.mark_sent("outbox", version.id)
        settled.append(session_id)
    return settled
