"""The outbox in the store: one transaction, idempotent, immutable where it must be."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from station.outbox import (
    Channel,
    DeliveryState,
    Outbox,
    OutboxConfigError,
    OutboxError,
    OutboxWorker,
    Recipient,
    load_outbox_config,
)
from station.people import NurseAccount
from station.session import SessionEngine
from station.store import audit
from station.store.database import Store
from tests.outbox.conftest import RECIPIENTS, report_message


def test_enqueue_is_one_transaction_and_idempotent_per_recipient(store: Store) -> None:
    outbox = Outbox(store)
    ids = outbox.enqueue(report_message(), RECIPIENTS[:2])
    again = outbox.enqueue(report_message(), [*RECIPIENTS, RECIPIENTS[0]])
    assert again[:2] == ids and len(again) == 3
    assert store.conn.execute("SELECT count(*) FROM outbox_messages").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM outbox_attachments").fetchone()[0] == 2
    assert store.conn.execute("SELECT count(*) FROM outbox_deliveries").fetchone()[0] == 3
    assert [d.state for d in outbox.pending()] == [DeliveryState.QUEUED] * 3
    # An address differing only by case is the same recipient.
    assert outbox.enqueue(report_message(), [Recipient.email(RECIPIENTS[0].address.upper())]) \
        == ids[:1]
    assert audit.verify(store.conn).ok


def test_without_a_key_the_same_content_is_the_same_message(store: Store) -> None:
    outbox = Outbox(store)
    first = outbox.enqueue(report_message(key=None), RECIPIENTS[:1])
    assert outbox.enqueue(report_message(key=None), RECIPIENTS[:1]) == first
    other = outbox.enqueue(report_message(key=None, subject="Autre"), RECIPIENTS[:1])
    assert other != first


def test_a_key_reused_for_another_content_is_refused(store: Store) -> None:
    outbox = Outbox(store)
    outbox.enqueue(report_message(), RECIPIENTS[:1])
    with pytest.raises(OutboxError, match="un autre contenu"):
        outbox.enqueue(report_message(subject="Changé"), RECIPIENTS[:1])


@pytest.mark.parametrize("recipient", [
    Recipient.email("pas-une-adresse"), Recipient.email("a@b.fr\r\nBcc: x@y.fr"),
    Recipient(Channel.SMTP, "a@b.fr", "Dr\nX"),
])
def test_invalid_recipients_are_refused_and_nothing_is_written(
        store: Store, recipient: Recipient) -> None:
    with pytest.raises(OutboxError):
        Outbox(store).enqueue(report_message(), [RECIPIENTS[0], recipient])
    assert store.conn.execute("SELECT count(*) FROM outbox_messages").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM outbox_deliveries").fetchone()[0] == 0


def test_message_history_and_identity_are_immutable(store: Store) -> None:
    outbox = Outbox(store)
    [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
    for table in ("outbox_messages", "outbox_attachments", "outbox_history"):
        with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
            store.conn.execute(f"UPDATE {table} SET id = id")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            store.conn.execute(f"DELETE FROM {table}")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        store.conn.execute("DELETE FROM outbox_deliveries")
    for column in ("address", "mime_message_id", "channel", "message_id"):
        with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
            store.conn.execute(f"UPDATE outbox_deliveries SET {column} = 'x'")
    store.conn.execute("UPDATE outbox_deliveries SET state = 'delivered' WHERE id = ?",
                       (delivery_id,))
    with pytest.raises(sqlite3.IntegrityError, match="never sent again"):
        store.conn.execute("UPDATE outbox_deliveries SET state = 'queued'")
    with pytest.raises(OutboxError, match="déjà été remis"):
        outbox.retry_now(delivery_id)


def test_deliveries_by_message_and_by_session(store: Store, nurse: NurseAccount) -> None:
    session = SessionEngine.start(store, nurse)
    outbox = Outbox(store)
    ids = outbox.enqueue(report_message(session.id), RECIPIENTS)
    outbox.enqueue(report_message(None, key="other"), RECIPIENTS[:1])
    by_session = outbox.deliveries(session_id=session.id)
    assert [d.id for d in by_session] == ids
    assert {d.session_id for d in by_session} == {session.id}
    assert [d.role for d in by_session] == [r.role for r in RECIPIENTS]
    assert [d.id for d in outbox.deliveries(by_session[0].message_id)] == ids
    assert len(outbox.deliveries()) == 4
    assert outbox.delivery(ids[0][:8]).id == ids[0]


def test_retry_now_requeues_a_refused_delivery(store: Store) -> None:
    outbox = Outbox(store)
    [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
    store.conn.execute("UPDATE outbox_deliveries SET state = 'failed'")
    delivery = outbox.retry_now(delivery_id, actor="claire.m")
    assert delivery.state is DeliveryState.QUEUED
    assert delivery.history[-1].event == "retry_requested"
    assert delivery.history[-1].actor == "claire.m"
    assert [d.id for d in outbox.due()] == [delivery_id]


def test_no_configuration_leaves_deliveries_queued_and_says_so(store: Store) -> None:
    outbox = Outbox(store)
    [delivery_id] = outbox.enqueue(report_message(), RECIPIENTS[:1])
    assert asyncio.run(OutboxWorker(outbox, None).run_once()) == []
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.QUEUED and delivery.attempts == 0
    assert delivery.error_message == (
        "aucun envoi configuré (section [outbox] absente) : envoi en attente")


def test_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    assert load_outbox_config(path) is None
    path.write_text("[other]\nx = 1\n", encoding="utf-8")
    assert load_outbox_config(path) is None
    path.write_text(
        '[outbox]\nrelay_host = "smtp.example"\nsender = "ehpad@ehpad.mssante.test"\n'
        'username = "ehpad"\npassword = "pw"\nbackoff_initial_s = 10\nbackoff_max_s = 60\n'
        'fhir_url = "https://dpi.example/fhir/Bundle"\ndrop_folder = "/srv/drop"\n',
        encoding="utf-8")
    config = load_outbox_config(path)
    assert config is not None and config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.starttls) == ("smtp.example", 587,
                                                                          True)
    assert config.backoff(1) == 10 and config.backoff(5) == 60
    assert config.drop_folder == Path("/srv/drop")
    path.write_text('[outbox]\nrelay_host = "smtp.example"\nsender = "a@b.fr"\n'
                    'starttls = false\n', encoding="utf-8")
    with pytest.raises(OutboxConfigError, match="envoi en clair refusé"):
        load_outbox_config(path)
    path.write_text('[outbox]\nrelay_hots = "x"\n', encoding="utf-8")
    with pytest.raises(OutboxConfigError, match="clé inconnue « relay_hots »"):
        load_outbox_config(path)
    path.write_text('[outbox]\nrelay_host = "h"\nrelay_port = "587"\n', encoding="utf-8")
    with pytest.raises(OutboxConfigError, match="relay_port"):
        load_outbox_config(path)


def test_enqueue_in_commits_with_the_callers_transaction(store: Store) -> None:
    outbox = Outbox(store)
    with pytest.raises(RuntimeError), store.write() as conn:
        outbox.enqueue_in(conn, report_message(), RECIPIENTS)
        raise RuntimeError("the report's validation failed")
    assert outbox.deliveries() == []
    with store.write() as conn:
        ids = outbox.enqueue_in(conn, report_message(), RECIPIENTS)
    assert [d.id for d in outbox.pending()] == ids
