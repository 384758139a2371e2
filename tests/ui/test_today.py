"""Today: the day's sessions (resumable while in progress), the télé-expertise
requests waiting for an answer, and "New session"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton

from station.consent import Act, ConsentCapacity, ConsentDecision
from station.expertise import Expert, Expertise
from station.session import SessionEngine
from tests.ui.first_half import add_resident, click, signed_in, station


def labels(widget: Any) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel)]


def test_today_lists_the_sessions_and_resumes_one_in_progress(qtbot: Any,
                                                               tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        nurse = st.controller.accounts.get("claire.m")
        assert nurse is not None
        resident = add_resident(st)
        waiting = SessionEngine.start(st.controller.store, nurse)
        waiting.identify(resident)  # consent still to record
        refused = SessionEngine.start(st.controller.store, nurse)
        refused.identify(resident)
        refused.record_consent(ConsentDecision.REFUSED, ConsentCapacity.RESIDENT)
        signed_in(st)
        today = st.screen("today")
        rows = [today.sessions.itemAt(i).widget() for i in range(today.sessions.count() - 1)]
        assert len(rows) == 2
        first, second = (" ".join(labels(r)) for r in rows)
        assert "MARTIN (née DUPONT) Marie" in first and "Consentement à recueillir" in first
        assert "Arrêtée" in second
        assert [b.text() for b in rows[0].findChildren(QPushButton)] == ["Reprendre"]
        assert rows[1].findChildren(QPushButton) == []
        assert labels(today)[-1] == "Aucune demande en attente de réponse."
        click(qtbot, rows[0].findChild(QPushButton))
        assert st.current == "consent"
        assert st.controller.session is not None and st.controller.session.id == waiting.id
        assert st.screen("consent").banner_resident.name.text() == "MARTIN (née DUPONT) Marie"
        assert not st.screen("consent").act.isEnabled()  # the act was chosen already
        kinds = [e.data.get("kind") for e in st.controller.session.events()]
        assert "session_resumed" in kinds


def test_waiting_expertise_requests_show_their_age(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        nurse = st.controller.accounts.get("claire.m")
        assert nurse is not None
        session = SessionEngine.start(st.controller.store, nurse, Act.TELE_EXPERTISE)
        session.identify(add_resident(st))
        session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
        session.finish_examination()
        expertise = Expertise(st.controller.store)
        expert = Expert.checked("Dr Alice Bernard", "10001234565", "Dermatologie",
                                "alice@example.org")
        request = expertise.create(session.id, "Plaie du talon : avis sur la cicatrisation ?",
                                   expert, [], [], [])
        expertise.send(request.id, "http://127.0.0.1:8080")
        signed_in(st)
        today = st.screen("today")
        row = today.waiting.itemAt(0).widget()
        text = " ".join(labels(row))
        assert "Dr Alice Bernard (Dermatologie)" in text
        assert "Plaie du talon : avis sur la cicatrisation ? — en attente depuis 0 min" in text


def test_new_session_opens_the_resident_search(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        signed_in(st)
        today = st.screen("today")
        assert today.new_session.hasFocus() and today.new_session.height() >= 64
        assert labels(today.sessions.itemAt(0).widget()) == []  # an empty label row
        empty = today.sessions.itemAt(0).widget()
        assert empty.text() == "Aucune séance aujourd’hui pour l’instant."
        click(qtbot, today.new_session)
        assert st.current == "resident"
        assert st.screen("resident").born.hasFocus()
