"""SMTP delivery against real aiosmtpd servers on loopback."""

from __future__ import annotations

import asyncio
import email
import threading
from pathlib import Path

import pytest

from station.i18n import set_language
from station.outbox import DeliveryState, Outbox, OutboxWorker
from station.store.database import Store
from tests.outbox.conftest import (
    RECIPIENTS,
    SENDER,
    report_message,
    send_until_settled,
    smtp_config,
)
from tests.outbox.servers import (
    LoopbackSmtp,
    ScriptedHandler,
    self_signed_certificate,
    server_tls_context,
)


def test_every_recipient_gets_one_mime_message_with_the_attachments(store: Store) -> None:
    with LoopbackSmtp(ScriptedHandler()) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        ids = outbox.enqueue(report_message(), RECIPIENTS)
        results = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert [r.state for r in results] == [DeliveryState.DELIVERED] * 3
    received = server.handler.received()
    assert sorted(received) == sorted(r.address for r in RECIPIENTS)
    for delivery_id, recipient in zip(ids, RECIPIENTS, strict=True):
        delivery = outbox.delivery(delivery_id)
        assert delivery.state is DeliveryState.DELIVERED
        assert delivery.reply_code == 250 and "queued" in (delivery.reply_text or "")
        assert delivery.mime_message_id == f"<delivery-{delivery_id}@ehpad.mssante.test>"
        [raw] = received[recipient.address]
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert mail["Message-ID"] == delivery.mime_message_id
        assert mail["From"] == SENDER and recipient.address in mail["To"]
        assert mail["Subject"] == "Compte rendu de téléconsultation — Mme Dupont"
        parts = {p.get_filename(): (p.get_content_type(), p.get_payload(decode=True))
                 for p in mail.iter_attachments()}
        message = outbox.message(delivery.message_id)
        assert parts == {a.filename: (a.mime_type, a.content) for a in message.attachments}
        assert [h.event for h in delivery.history] == ["queued", "sending", "delivered"]


def test_a_permanent_refusal_stops_retrying_and_keeps_the_reason(store: Store) -> None:
    handler = ScriptedHandler(rcpt_replies=["550 5.1.1 <dr.traitant@medecin.mssante.test>:"
                                            " Recipient address rejected: User unknown"])
    with LoopbackSmtp(handler) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        worker = OutboxWorker(outbox, config)
        send_until_settled(worker)
        assert asyncio.run(worker.run_once()) == []  # nothing left to try
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.FAILED and delivery.attempts == 1
    assert delivery.reply_code == 550
    assert delivery.error_message == (
        "Refus définitif du serveur de messagerie : 550 5.1.1 <dr.traitant@medecin.mssante.test>:"
        " Recipient address rejected: User unknown")
    assert handler.accepted == []
    assert [h.event for h in delivery.history][-1] == "permanent_failure"
    set_language("en")
    assert outbox.delivery(delivery_id).error_message.startswith(
        "Permanently refused by the mail server: 550 5.1.1")


def test_a_deferral_is_retried_until_delivered(store: Store) -> None:
    handler = ScriptedHandler(data_replies=["451 4.3.0 Greylisted, try again later"])
    with LoopbackSmtp(handler) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        send_until_settled(OutboxWorker(outbox, config))
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2
    events = [(h.event, h.reply_code) for h in delivery.history]
    assert events == [("queued", None), ("sending", None), ("temporary_failure", 451),
                      ("sending", None), ("delivered", 250)]
    assert len(handler.accepted) == 1


def test_a_connection_dropped_during_data_is_retried(store: Store) -> None:
    handler = ScriptedHandler(data_replies=["drop", "drop"])
    with LoopbackSmtp(handler) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        send_until_settled(OutboxWorker(outbox, config))
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 3
    failures = [h for h in delivery.history if h.event == "temporary_failure"]
    assert [h.error_code for h in failures] == ["outbox.error.disconnected"] * 2
    assert handler.message_ids(RECIPIENTS[0].address) == [delivery.mime_message_id]


def test_connection_refused_is_temporary_and_waits_with_backoff(store: Store) -> None:
    with LoopbackSmtp(ScriptedHandler()) as server:
        port = server.port
    config = smtp_config(port)  # the server is gone: nothing listens there now
    outbox = Outbox(store, config)
    [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
    [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.QUEUED
    delivery = outbox.delivery(delivery_id)
    assert delivery.last_error_code == "outbox.error.connection"
    assert "127.0.0.1" in (delivery.error_message or "")
    assert delivery.next_attempt_at > delivery.updated_at
    assert asyncio.run(OutboxWorker(outbox, config).run_once()) == []  # not due yet


def test_backoff_doubles_up_to_the_ceiling() -> None:
    config = smtp_config(25).__class__(backoff_initial_s=30, backoff_max_s=3600)
    assert [config.backoff(n) for n in (1, 2, 3, 4, 7, 8, 50)] == [
        30, 60, 120, 240, 1920, 3600, 3600]


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def test_starttls_with_verified_certificate_and_auth(
        store: Store, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    handler = ScriptedHandler()
    with LoopbackSmtp(handler, tls_context=server_tls_context(cert, key), require_starttls=True,
                      credentials=("ehpad", "s3cret")) as server:
        config = smtp_config(server.port, starttls=True, allow_plaintext=False, ca_file=cert,
                             username="ehpad", password="s3cret")
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.DELIVERED, result.failure
    assert len(handler.accepted) == 1
    assert outbox.delivery(delivery_id).state is DeliveryState.DELIVERED


def test_an_untrusted_certificate_is_a_clear_temporary_failure(
        store: Store, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_files
    other_ca, _ = self_signed_certificate(tmp_path, "someone-else")
    handler = ScriptedHandler()
    with LoopbackSmtp(handler, tls_context=server_tls_context(cert, key),
                      require_starttls=True) as server:
        config = smtp_config(server.port, starttls=True, allow_plaintext=False, ca_file=other_ca)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.QUEUED
    delivery = outbox.delivery(delivery_id)
    assert delivery.last_error_code == "outbox.error.tls_untrusted"
    assert delivery.error_message is not None
    assert delivery.error_message.startswith(
        f"certificat du serveur 127.0.0.1:{server.port} non reconnu :")
    assert "certificate" in delivery.error_message
    assert handler.accepted == [] and "DATA" not in handler.commands


def test_a_relay_without_starttls_is_never_sent_to_in_clear(store: Store) -> None:
    handler = ScriptedHandler()
    with LoopbackSmtp(handler) as server:  # no TLS offered
        config = smtp_config(server.port, starttls=True, allow_plaintext=False)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.QUEUED
    assert outbox.delivery(delivery_id).last_error_code == "outbox.error.no_starttls"
    assert handler.commands == []


def test_a_retry_sends_the_same_bytes(store: Store) -> None:
    handler = ScriptedHandler()
    hold = threading.Event()
    hold.set()
    with LoopbackSmtp(handler) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
        asyncio.run(OutboxWorker(outbox, config).run_once())
        # Pretend the acceptance was lost (crash before commit): send the same delivery again.
        from station.outbox.mime import build_email  # noqa: PLC0415

        delivery = outbox.delivery(delivery_id)
        again = build_email(delivery, outbox.message(delivery.message_id), SENDER)
    [first] = handler.received()[RECIPIENTS[0].address]
    assert first.replace(b"\r\n", b"\n").rstrip() == again.replace(b"\r\n", b"\n").rstrip()
