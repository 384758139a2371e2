"""Invitation links: one-time, expiring, revocable, stored only as a digest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from station.errors import ValidationError
from station.signaling.invitations import (
    InvitationError,
    Invitations,
    InvitationState,
    token_digest,
)
from station.store import audit
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.conftest import FakeClock
from tests.signaling.helpers import DOCTOR, GOOD_RPPS, SESSION, make_session


@pytest.fixture
def invitations(store: Store, clock: FakeClock) -> Invitations:
    make_session(store)
    return Invitations(store, "https://signal.example.fr:8443/", clock=clock)


def test_create_gives_a_long_token_and_its_url(invitations: Invitations) -> None:
    token, url = invitations.create(SESSION)
    assert len(token) >= 43  # 32 random bytes, base64url
    assert url == f"https://signal.example.fr:8443/join/{token}"
    assert invitations.state(token) is InvitationState.VALID
    assert invitations.state(token + "x") is InvitationState.UNKNOWN


def test_only_the_digest_is_stored(store: Store, invitations: Invitations) -> None:
    token, _ = invitations.create(SESSION)
    rows = store.conn.execute("SELECT token_sha256 FROM invitations").fetchall()
    assert rows == [(token_digest(token),)]
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in store.path.parent.iterdir():
        assert token.encode() not in path.read_bytes(), path


def test_expiry_follows_the_clock(invitations: Invitations, clock: FakeClock) -> None:
    token, _ = invitations.create(SESSION, ttl=timedelta(minutes=5))
    clock.advance(minutes=4, seconds=59)
    assert invitations.state(token) is InvitationState.VALID
    clock.advance(seconds=1)
    assert invitations.state(token) is InvitationState.EXPIRED
    with pytest.raises(InvitationError) as caught:
        invitations.join(token, **DOCTOR)
    assert caught.value.state is InvitationState.EXPIRED
    assert str(caught.value) == "Lien expiré"


def test_join_records_the_doctor_once(store: Store, invitations: Invitations) -> None:
    token, _ = invitations.create(SESSION)
    used = invitations.join(token, "  Dr Anne Leroy ", GOOD_RPPS[:5] + " " + GOOD_RPPS[5:],
                            "Médecine générale")
    assert used.doctor is not None
    assert (used.doctor.name, used.doctor.rpps) == ("Dr Anne Leroy", GOOD_RPPS)
    assert invitations.state(token) is InvitationState.USED
    events = SessionRecords(store).events(SESSION)
    assert events[-1].type == "doctor_joined"
    assert events[-1].data == {"name": "Dr Anne Leroy", "rpps": GOOD_RPPS,
                               "specialty": "Médecine générale", "invitation": used.id}
    with pytest.raises(InvitationError) as caught:
        invitations.join(token, **DOCTOR)
    assert caught.value.state is InvitationState.USED
    assert [e.type for e in SessionRecords(store).events(SESSION)].count("doctor_joined") == 1
    assert audit.verify(store.conn).ok


def test_a_bad_doctor_leaves_the_link_usable(store: Store, invitations: Invitations) -> None:
    token, _ = invitations.create(SESSION)
    bad_check = GOOD_RPPS[:10] + str((int(GOOD_RPPS[10]) + 1) % 10)
    for fields, field in (({"rpps": bad_check}, "rpps"), ({"rpps": "123"}, "rpps"),
                          ({"name": " "}, "doctor_name"), ({"specialty": ""}, "specialty")):
        with pytest.raises(ValidationError) as caught:
            invitations.join(token, **{**DOCTOR, **fields})
        assert caught.value.field == field
    assert invitations.state(token) is InvitationState.VALID
    assert "doctor_joined" not in [e.type for e in SessionRecords(store).events(SESSION)]


def test_revoke(store: Store, invitations: Invitations) -> None:
    token, _ = invitations.create(SESSION)
    other, _ = invitations.create(SESSION)
    assert invitations.revoke(token)
    assert not invitations.revoke(token)
    assert not invitations.revoke("nope")
    assert invitations.state(token) is InvitationState.REVOKED
    assert invitations.revoke_session(SESSION) == 1
    assert invitations.state(other) is InvitationState.REVOKED
    with pytest.raises(InvitationError):
        invitations.join(token, **DOCTOR)
    assert audit.verify(store.conn).ok


def test_invitations_are_never_deleted_nor_rewritten(store: Store,
                                                     invitations: Invitations) -> None:
    invitations.create(SESSION)
    with pytest.raises(Exception, match="never deleted"), store.write() as conn:
        conn.execute("DELETE FROM invitations")
    with pytest.raises(Exception, match="never rewritten"), store.write() as conn:
        conn.execute("UPDATE invitations SET expires_at = '2099-01-01'")


def test_tampering_with_a_used_invitation_breaks_the_audit(store: Store,
                                                           invitations: Invitations) -> None:
    token, _ = invitations.create(SESSION)
    invitations.join(token, **DOCTOR)
    with store.write() as conn:
        conn.execute("UPDATE invitations SET doctor_name = 'Dr Faux'")
    assert not audit.verify(store.conn).ok
