"""Fixtures of the outbox tests: a sample report message, a fast-retrying configuration."""

from __future__ import annotations

import asyncio
import json
import time

from station.outbox import (
    Attachment,
    OutboxConfig,
    OutboxWorker,
    OutgoingMessage,
    Recipient,
    SmtpSettings,
)

SENDER = "ehpad-les-tilleuls@ehpad.mssante.test"
RECIPIENTS = (
    Recipient.email("dr.traitant@medecin.mssante.test", "Dr Anne Moreau", "médecin traitant"),
    Recipient.email("dr.requerant@medecin.mssante.test", "Dr Paul Girard", "médecin requérant"),
    Recipient.email("equipe@ehpad.mssante.test", "Équipe soignante", "équipe de l'EHPAD"),
)
BUNDLE = json.dumps({"resourceType": "Bundle", "type": "document", "id": "cr-1"}).encode()
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def report_message(
    session_id: str | None = None, key: str | None = "report:test:v1",
    subject: str = "Compte rendu de téléconsultation — Mme Dupont",
) -> OutgoingMessage:
    """A report message as the report code will build it."""
    return OutgoingMessage(
        subject=subject,
        body="Bonjour,\n\nVeuillez trouver ci-joint le compte rendu.\n\nL'équipe de l'EHPAD\n",
        attachments=(Attachment("compte-rendu.pdf", "application/pdf", PDF),
                     Attachment("compte-rendu.fhir.json", "application/fhir+json", BUNDLE)),
        session_id=session_id, key=key,
    )


def smtp_config(port: int, **overrides: object) -> OutboxConfig:
    """A configuration for the loopback relay, retrying within milliseconds."""
    fields: dict[str, object] = {"host": "127.0.0.1", "port": port, "sender": SENDER,
                                 "starttls": False, "allow_plaintext": True}
    fields.update(overrides)
    return OutboxConfig(smtp=SmtpSettings(**fields),  # type: ignore[arg-type]
                        backoff_initial_s=0.02, backoff_max_s=0.1, timeout_s=5.0)


def send_until_settled(worker: OutboxWorker, timeout: float = 10.0) -> None:
    """Run the worker until nothing is pending (or fail after ``timeout``)."""

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + timeout
        while worker.outbox.pending() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        worker.wake()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert worker.outbox.pending() == []
