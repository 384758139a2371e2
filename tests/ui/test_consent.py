"""Consent: given moves on to the examination, refused is recorded and the
session stops; who answers, how and who records it are traced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from station.consent import Act, ConsentCapacity, ConsentDecision
from tests.ui.first_half import Station, add_resident, click, signed_in, station, type_into


def open_consent(qtbot: Any, st: Station) -> Any:
    signed_in(st)
    st.controller.new_session()
    st.controller.choose_resident(add_resident(st))
    st.window.show_screen("consent")
    screen = st.screen("consent")
    assert screen.banner_resident.isVisible()
    return screen


def test_consent_given_by_the_resident_moves_on_to_the_examination(
        qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_consent(qtbot, st)
        assert screen.capacity.value() == "resident"  # the resident is asked first
        assert screen.capacity_help.text().startswith("Toujours sollicité en premier")
        assert not screen.person.isVisible()
        assert screen.how.value() == "oral"
        assert screen.recorded_by.text() == "Claire Martin (claire.m), maintenant"
        assert screen.act.value() == "teleconsultation" and screen.act.isEnabled()
        assert screen.give.hasFocus()
        click(qtbot, screen.give)
        assert st.current == "exam"
        session = st.controller.session
        assert session is not None and session.state.value == "examine"
        assert session.act is Act.TELECONSULTATION
        (consent,) = session.consents()
        assert consent.decision is ConsentDecision.GIVEN
        assert consent.capacity is ConsentCapacity.RESIDENT
        assert consent.recorded_by == "claire.m" and consent.note == "recueilli oralement"
        assert consent.resident_id == st.controller.resident.id  # type: ignore[union-attr]


def test_someone_else_answering_must_be_named(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_consent(qtbot, st)
        click(qtbot, screen.act.buttons["tele_expertise"])
        click(qtbot, screen.capacity.buttons["personne_de_confiance"])
        assert screen.person.isVisible()
        assert "personne de confiance qu’il a désignée" in screen.capacity_help.text()
        click(qtbot, screen.give)
        assert st.current == "consent"
        assert screen.banner_text.text().startswith(
            "Personne ayant consenti : indiquez le nom de la personne qui consent")
        type_into(qtbot, screen.person, "Marie Dupont (fille)")
        click(qtbot, screen.give)
        assert st.current == "exam"
        session = st.controller.session
        assert session is not None and session.act is Act.TELE_EXPERTISE
        (consent,) = session.consents()
        assert consent.capacity is ConsentCapacity.TRUSTED_PERSON
        assert consent.consenting_person == "Marie Dupont (fille)"


def test_refusal_is_recorded_stops_the_session_and_returns_to_today(
        qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_consent(qtbot, st)
        click(qtbot, screen.refuse)
        assert screen.pages.currentWidget() is screen.confirm_page
        qtbot.keyClick(screen.confirm_refusal, Qt.Key.Key_Escape)  # changed her mind
        assert screen.pages.currentWidget() is screen.form_page
        assert st.controller.session is None  # nothing recorded yet
        click(qtbot, screen.refuse)
        click(qtbot, screen.confirm_refusal)
        assert screen.pages.currentWidget() is screen.refused_page
        assert screen.refused_text.text().startswith("Refus enregistré à ")
        assert "la séance est arrêtée" in screen.refused_text.text()
        (row,) = st.controller.store.conn.execute(
            "SELECT state, stop_reason FROM sessions").fetchall()
        assert row == ("stopped", "consent_refused")
        (consent,) = st.controller.store.conn.execute(
            "SELECT decision, capacity, recorded_by FROM consents").fetchall()
        assert consent == ("refuse", "resident", "claire.m")
        assert st.controller.session is None and st.controller.resident is None
        click(qtbot, screen.home)
        assert st.current == "today"
        today = st.screen("today")
        assert today.sessions.count() == 2  # the stopped session, and the stretch
        assert "Arrêtée" in today.sessions.itemAt(0).widget().findChildren(
            type(screen.title))[1].text()
