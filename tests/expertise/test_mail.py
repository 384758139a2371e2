"""The expert's e-mail really reaches a real SMTP server on loopback, with the link in it."""

from __future__ import annotations

import email
import email.policy

from station.expertise import Expertise, RequestState
from station.outbox import Outbox, OutboxWorker
from station.store.database import Store
from tests.conftest import FakeClock
from tests.expertise.conftest import BASE_URL, EXPERT, ExpertiseSession
from tests.outbox.conftest import SENDER, send_until_settled, smtp_config
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler


def test_the_link_is_delivered_by_smtp_without_health_data(store: Store,
                                                           session: ExpertiseSession,
                                                           clock: FakeClock) -> None:
    handler = ScriptedHandler()
    with LoopbackSmtp(handler) as server:
        config = smtp_config(server.port)
        outbox = Outbox(store, config)
        expertise = Expertise(store, outbox, clock=clock)
        request = expertise.create(session.engine.id, "Souffle systolique : avis ?", EXPERT)
        link = expertise.send(request.id, BASE_URL)
        send_until_settled(OutboxWorker(outbox, config))
    (raw,) = handler.received()[EXPERT.email]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["From"] == SENDER
    assert EXPERT.email in mail["To"]
    assert mail["Subject"].startswith("Demande de télé-expertise")
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert link in body
    assert "Bonjour Dr Hélène Roux" in body
    assert "valable jusqu'au 30/11/2026" in body
    for private in ("Souffle", "Dupont", "Martin", "1932", "232047505601214"):
        assert private not in body and private not in str(mail["Subject"])
    assert not list(mail.iter_attachments())
    sent = expertise.get(request.id)
    assert sent.state is RequestState.SENT
    assert outbox.delivery(sent.links[0].delivery_id).state.value == "delivered"
