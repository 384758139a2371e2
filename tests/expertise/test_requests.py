"""Request lifecycle: draft → sent → opened → answered → reported; links, waiting list."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from station.consent import Act
from station.errors import SessionStateError, ValidationError
from station.expertise import (
    Expert,
    Expertise,
    LinkError,
    LinkState,
    RequestingDoctor,
    RequestState,
    age_text,
    token_digest,
)
from station.outbox import Outbox, Recipient
from station.people import NurseAccount
from station.report.content import ReportContent
from station.session import SessionEngine
from station.store import audit
from station.store.database import Store
from station.store.residents import Resident
from tests.conftest import FakeClock
from tests.expertise.conftest import BASE_URL, EXPERT, EXPERT_RPPS, ExpertiseSession

QUESTION = "Lésion pigmentée du dos apparue en 3 mois : biopsie nécessaire ?"


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_create_attaches_the_chosen_material(expertise: Expertise,
                                            session: ExpertiseSession) -> None:
    items = expertise.session_items(session.engine.id)
    request = expertise.create(session.engine.id, f"  {QUESTION} ", EXPERT)
    assert request.state is RequestState.DRAFT
    assert request.question == QUESTION
    assert list(request.photos) == items["photo"] == [session.photo_id]
    assert list(request.clips) == session.clip_ids
    assert len(request.measurements) == 3
    chosen = expertise.create(session.engine.id, QUESTION, EXPERT, photos=[],
                              clips=session.clip_ids[:1], measurements=items["measurement"][:1])
    assert (chosen.photos, chosen.clips) == ((), (session.clip_ids[0],))
    assert chosen.measurements == (items["measurement"][0],)
    assert [r.id for r in expertise.requests(session.engine.id)] == [request.id, chosen.id]


def test_create_refuses_what_is_wrong(expertise: Expertise, session: ExpertiseSession,
                                      store: Store, nurse: NurseAccount, resident: Resident,
                                      clock: FakeClock) -> None:
    with pytest.raises(ValidationError) as error:
        expertise.create(session.engine.id, "   ", EXPERT)
    assert error.value.field == "question"
    with pytest.raises(ValidationError) as error:
        expertise.create(session.engine.id, QUESTION, EXPERT, photos=[999])
    assert error.value.field == "photo"
    with pytest.raises(ValidationError):
        expertise.create(session.engine.id, QUESTION, EXPERT, bill_rqd=True)
    with pytest.raises(ValidationError) as error:
        Expert.checked("Dr X", "10001234566", "cardiologie", "x@y.fr")
    assert error.value.field == "rpps"
    with pytest.raises(ValidationError) as error:
        Expert.checked("Dr X", EXPERT_RPPS, "cardiologie", "pas une adresse")
    assert error.value.field == "expert_email"
    teleconsultation = SessionEngine.start(store, nurse, Act.TELECONSULTATION, clock=clock)
    teleconsultation.identify(resident)
    with pytest.raises(SessionStateError, match="n'est pas une télé-expertise"):
        expertise.create(teleconsultation.id, QUESTION, EXPERT)
    assert len(expertise.requests()) == 0


def test_the_link_is_random_stored_hashed_and_mailed(expertise: Expertise, store: Store,
                                                    session: ExpertiseSession,
                                                    clock: FakeClock) -> None:
    request = expertise.create(session.engine.id, QUESTION, EXPERT)
    link = expertise.send(request.id, BASE_URL + "/")
    token = token_of(link)
    assert link == f"{BASE_URL}/expertise/{token}"
    assert len(token) >= 43  # 32 random bytes: 256 bits
    (digest,) = store.conn.execute("SELECT token_sha256 FROM expertise_links").fetchone()
    assert digest == token_digest(token)
    # Only the queued e-mail (the outbox must be able to send it again) holds the token.
    dump = "\n".join(store.conn.iterdump())
    assert dump.count(token) == 1
    sent = expertise.get(request.id)
    assert sent.state is RequestState.SENT
    assert sent.current_link is not None
    assert sent.current_link.expires_at == clock.now + timedelta(days=7)
    (delivery,) = expertise.outbox.deliveries()
    assert (delivery.address, delivery.state.value) == (EXPERT.email, "queued")
    message = expertise.outbox.message(delivery.message_id)
    assert link in message.body
    for private in (QUESTION, "Dupont", "Marie", "Martin", "232047505601214"):
        assert private not in message.body and private not in message.subject
    assert message.attachments == ()
    assert audit.verify(store.conn).ok


def test_opened_several_times_then_used_by_the_answer(expertise: Expertise, store: Store,
                                                      session: ExpertiseSession,
                                                      clock: FakeClock) -> None:
    request = expertise.create(session.engine.id, QUESTION, EXPERT)
    token = token_of(expertise.send(request.id, BASE_URL))
    clock.advance(hours=2, minutes=10)
    assert expertise.open(token).state is RequestState.OPENED
    assert expertise.open(token).state is RequestState.OPENED  # a second look is fine
    assert expertise.link_state(token) is LinkState.VALID
    with pytest.raises(ValidationError) as error:  # the link stays usable after a mistake
        expertise.answer(token, "Dr Hélène Roux", "10001234566", "Naevus bénin.")
    assert error.value.field == "rpps"
    with pytest.raises(ValidationError) as error:
        expertise.answer(token, "Dr Jean Autre", "10000000009", "Naevus bénin.")
    assert error.value.code == "expertise.not_the_expert"
    version = expertise.answer(token, "Dr Hélène Roux", EXPERT_RPPS,
                               "Naevus bénin, pas de biopsie.", "Surveillance à 6 mois.")
    assert expertise.link_state(token) is LinkState.USED
    with pytest.raises(LinkError) as used:
        expertise.open(token)
    assert used.value.state is LinkState.USED
    with pytest.raises(LinkError):
        expertise.answer(token, "Dr Hélène Roux", EXPERT_RPPS, "Deuxième réponse.")
    done = expertise.get(request.id)
    assert done.state is RequestState.REPORTED
    assert done.report_id == version.id
    assert [e.type for e in done.events] == ["created", "sent", "opened", "opened", "answered",
                                             "reported"]
    assert audit.verify(store.conn).ok


def test_the_answer_becomes_a_validated_tele_expertise_report(
        store: Store, session: ExpertiseSession, clock: FakeClock) -> None:
    configured = [Recipient.email("dr.traitant@medecin.mssante.test", "Dr Anne Moreau",
                                  "médecin traitant"),
                  Recipient.email("soins@ehpad.mssante.test", "Équipe soignante",
                                  "équipe EHPAD")]
    expertise = Expertise(store, Outbox(store, clock=clock), recipients=configured, clock=clock)
    requester = RequestingDoctor.checked("Dr Paul Girard", "10000000009",
                                         "dr.girard@medecin.mssante.test")
    request = expertise.create(session.engine.id, QUESTION, EXPERT, requester=requester,
                               bill_rqd=True)
    token = token_of(expertise.send(request.id, BASE_URL))
    clock.advance(days=1)
    version = expertise.answer(token, " Dr Hélène Roux ", EXPERT_RPPS,
                               "Naevus bénin, pas de biopsie.", "Surveillance à 6 mois.")
    assert version.is_validated and version.intact()
    assert (version.validated_by, version.validated_rpps) == ("Dr Hélène Roux", EXPERT_RPPS)
    content = ReportContent.from_json(version.content_json)
    assert content.act is Act.TELE_EXPERTISE
    assert [(b.code, b.role) for b in content.billing] == [("TE2", "doctor"),
                                                           ("RQD", "requesting_doctor")]
    assert content.doctor is not None and content.doctor.specialty == "dermatologie"
    assert content.conclusion == "Naevus bénin, pas de biopsie."
    assert len([r for r in content.recordings if r.is_sound]) == 2
    bundle = json.loads(version.fhir)
    audio = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "Media"
             and e["resource"].get("type", {}).get("coding", [{}])[0].get("code") == "audio"]
    assert len(audio) == 2 and audio[0]["content"]["contentType"] == "audio/wav"
    report_deliveries = [d for d in expertise.outbox.deliveries(session_id=session.engine.id)]
    assert sorted(d.address for d in report_deliveries) == sorted([
        "dr.traitant@medecin.mssante.test", "soins@ehpad.mssante.test",
        "dr.girard@medecin.mssante.test", EXPERT.email])
    assert expertise.complete(request.id) == version  # idempotent: nothing twice
    assert len(expertise.outbox.deliveries(session_id=session.engine.id)) == 4


def test_without_rqd_only_te2_is_billed(expertise: Expertise, session: ExpertiseSession) -> None:
    request = expertise.create(session.engine.id, QUESTION, EXPERT)
    version = expertise.answer(token_of(expertise.send(request.id, BASE_URL)), "Dr H. Roux",
                               EXPERT_RPPS, "RAS.")
    assert [b.code for b in ReportContent.from_json(version.content_json).billing] == ["TE2"]


def test_expired_then_sent_again_with_a_fresh_link(expertise: Expertise,
                                                  session: ExpertiseSession,
                                                  clock: FakeClock) -> None:
    request = expertise.create(session.engine.id, QUESTION, EXPERT)
    first = token_of(expertise.send(request.id, BASE_URL, ttl=timedelta(hours=1)))
    clock.advance(hours=1)
    assert expertise.link_state(first) is LinkState.EXPIRED
    assert expertise.get(request.id).state is RequestState.EXPIRED
    with pytest.raises(LinkError) as expired:
        expertise.open(first)
    assert expired.value.state is LinkState.EXPIRED
    second = token_of(expertise.send(request.id, BASE_URL))
    assert second != first
    third = token_of(expertise.send(request.id, BASE_URL))  # the previous one is revoked
    assert expertise.link_state(second) is LinkState.REVOKED
    assert expertise.get(request.id).state is RequestState.SENT
    assert expertise.revoke(request.id)
    assert expertise.link_state(third) is LinkState.REVOKED
    assert expertise.get(request.id).state is RequestState.REVOKED
    assert expertise.link_state("nope") is LinkState.UNKNOWN


def test_waiting_requests_with_their_age(expertise: Expertise, session: ExpertiseSession,
                                         clock: FakeClock) -> None:
    old = expertise.create(session.engine.id, QUESTION, EXPERT)
    expertise.send(old.id, BASE_URL)
    clock.advance(minutes=50)
    draft = expertise.create(session.engine.id, "Autre question ?", EXPERT)
    recent = expertise.create(session.engine.id, "Encore une ?", EXPERT)
    expertise.send(recent.id, BASE_URL)
    clock.advance(hours=1, minutes=20)
    waiting = expertise.waiting()
    assert [w.request.id for w in waiting] == [old.id, recent.id]
    assert draft.id not in [w.request.id for w in waiting]
    assert age_text(waiting[0].age) == "2 h 10"
    assert age_text(waiting[1].age) == "1 h 20"
    assert age_text(timedelta(minutes=5)) == "5 min"
    assert age_text(timedelta(days=3, hours=4, minutes=2)) == "3 j 4 h"


def test_sending_needs_a_finished_examination(store: Store, nurse: NurseAccount,
                                              resident: Resident, clock: FakeClock,
                                              expertise: Expertise) -> None:
    from tests.expertise.conftest import build_session  # noqa: PLC0415

    built = build_session(store, nurse, resident, clock, finish=False)
    request = expertise.create(built.engine.id, QUESTION, EXPERT)
    with pytest.raises(SessionStateError, match="terminez"):
        expertise.send(request.id, BASE_URL)
    assert expertise.outbox.deliveries() == []


def test_requests_links_and_answers_are_never_rewritten(expertise: Expertise, store: Store,
                                                        session: ExpertiseSession) -> None:
    request = expertise.create(session.engine.id, QUESTION, EXPERT)
    token = token_of(expertise.send(request.id, BASE_URL))
    expertise.answer(token, "Dr Hélène Roux", EXPERT_RPPS, "RAS.")
    for sql in ("UPDATE expertise_requests SET question = 'x'",
                "DELETE FROM expertise_requests", "UPDATE expertise_material SET item_id = 1",
                "UPDATE expertise_answers SET conclusion = 'autre'",
                "DELETE FROM expertise_events",
                "UPDATE expertise_links SET expires_at = '2099-01-01'",
                "UPDATE expertise_links SET used_at = NULL",
                "DELETE FROM expertise_links"):
        with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
            conn.execute(sql)
    assert audit.verify(store.conn).ok
