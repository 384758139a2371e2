"""Finding the resident (date of birth first, then letters) and creating one
with the strict INS traits, after the duplicate check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from station.store.residents import Resident
from tests.conftest import QUALIFIED_INS
from tests.ui.first_half import Station, add_resident, click, signed_in, station, type_into
from ui.widgets.date_field import format_date_digits


def open_resident_screen(qtbot: Any, st: Station) -> Any:
    signed_in(st)
    click(qtbot, st.screen("today").new_session)
    assert st.current == "resident"
    return st.screen("resident")


def count(st: Station) -> int:
    return int(st.controller.store.conn.execute("SELECT count(*) FROM residents").fetchone()[0])


def test_the_date_field_adds_and_lets_remove_slashes() -> None:
    assert format_date_digits("12", growing=True) == "12/"
    assert format_date_digits("12", growing=False) == "12"
    assert format_date_digits("1203", growing=True) == "12/03/"
    assert format_date_digits("120319", growing=False) == "12/03/19"
    assert format_date_digits("1203193199", growing=True) == "12/03/1931"


def test_search_by_birth_date_then_letters(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        add_resident(st)  # DUPONT Marie Jeanne, used name MARTIN, 12/04/1932, qualified
        add_resident(st, birth_name="Lefèvre", birth_first_names="Jeanne", used_name=None,
                     ins=None, status="provisoire", document=None)
        add_resident(st, birth_name="Durand", birth_first_names="Paul", sex="M",
                     birth_date="1931-03-12", used_name=None, ins=None, status="provisoire",
                     document=None, flags=["homonyme"])
        screen = open_resident_screen(qtbot, st)
        type_into(qtbot, screen.born, "12041932")
        assert screen.born.text() == "12/04/1932"
        rows = screen.result_rows()
        assert [r.resident.identity.birth_name for r in rows] == ["DUPONT", "LEFEVRE"]
        assert "2 résident(s) trouvé(s)" in screen.search_status.text()
        badges = [b.text() for r in rows for b in r.findChildren(type(screen.title))
                  if b.property("role") == "badge"]
        assert badges == ["Identité qualifiée", "Identité provisoire"]
        assert rows[0].height() >= 64
        type_into(qtbot, screen.letters, "mart")  # the used name, any case
        rows = screen.result_rows()
        assert [r.resident.identity.display_name() for r in rows] == [
            "MARTIN (née DUPONT) Marie"]
        qtbot.keyClick(screen.letters, Qt.Key.Key_Return)  # one match: Enter picks it
        assert st.current == "consent"
        chosen = st.controller.resident
        assert isinstance(chosen, Resident) and chosen.identity.birth_name == "DUPONT"
        assert st.screen("consent").banner_resident.name.text() == "MARTIN (née DUPONT) Marie"


def test_an_impossible_date_and_no_match_are_said(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_resident_screen(qtbot, st)
        type_into(qtbot, screen.born, "3102")
        assert screen.search_status.text() == "Terminez la date de naissance : JJ/MM/AAAA."
        type_into(qtbot, screen.born, "1940")
        assert screen.search_status.text().startswith("Date de naissance :")
        screen.born.clear()
        type_into(qtbot, screen.born, "01011940")
        assert screen.result_rows() == []
        assert screen.search_status.text().startswith("Aucun résident trouvé")
        assert screen.create_button.property("kind") == "primary"
        qtbot.keyClick(screen.born, Qt.Key.Key_Escape)  # Escape: back to Today
        assert st.current == "today"


def fill_form(qtbot: Any, screen: Any, **values: str) -> None:
    fields = {"birth_name": "Dupont", "first_names": "Marie Jeanne", "birth_place": "75056",
              **values}
    type_into(qtbot, screen.f_birth_name, fields["birth_name"])
    type_into(qtbot, screen.f_first_names, fields["first_names"])
    click(qtbot, screen.f_sex.buttons["F"])
    type_into(qtbot, screen.f_birth_place, fields["birth_place"])


def test_creation_refuses_a_bad_ins_naming_the_field(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_resident_screen(qtbot, st)
        type_into(qtbot, screen.born, "12041932")
        click(qtbot, screen.create_button)
        assert screen.pages.currentWidget() is screen.form_page
        assert screen.title.text() == "Nouveau résident"
        assert screen.f_birth_date.text() == "12/04/1932"  # carried from the search
        assert not screen.f_ins.isEnabled() and not screen.f_document.isEnabled()
        fill_form(qtbot, screen)
        click(qtbot, screen.f_status.buttons["recuperee"])
        assert screen.f_ins.isEnabled() and not screen.f_document.isEnabled()
        assert screen.status_help.text().startswith("Issue du téléservice INSi")
        type_into(qtbot, screen.f_ins, QUALIFIED_INS[:-2] + "00")  # wrong key
        click(qtbot, screen.check_button)
        assert screen.banner.isVisible()
        text = screen.banner_text.text()
        assert text.startswith("Numéro INS :"), text
        assert "Que faire : Corrigez ce champ" in text
        assert screen.f_ins.hasFocus()
        assert count(st) == 0
        # Corrected: created with its status, then on to consent.
        screen.f_ins.clear()
        type_into(qtbot, screen.f_ins, QUALIFIED_INS)
        click(qtbot, screen.check_button)
        assert st.current == "consent"
        assert count(st) == 1
        identity = st.controller.resident.identity  # type: ignore[union-attr]
        assert identity.status.value == "recuperee" and identity.ins == QUALIFIED_INS
        assert identity.ins_oid == "1.2.250.1.213.1.4.8"
        badge = st.screen("consent").banner_resident.findChild(type(screen.title),
                                                               "status-badge")
        assert badge.text() == "Identité récupérée" and badge.property("status") == "recuperee"


def test_missing_traits_are_named(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        screen = open_resident_screen(qtbot, st)
        click(qtbot, screen.create_button)
        type_into(qtbot, screen.f_birth_name, "Dupont")
        click(qtbot, screen.check_button)
        assert screen.banner_text.text().startswith("Sexe :")
        click(qtbot, screen.f_sex.buttons["M"])
        click(qtbot, screen.check_button)
        assert screen.banner_text.text().startswith("Date de naissance :")
        assert screen.f_birth_date.hasFocus()
        type_into(qtbot, screen.f_birth_date, "01021930")
        click(qtbot, screen.check_button)
        assert screen.banner_text.text().startswith("Prénoms de naissance :")
        assert screen.f_first_names.hasFocus()
        qtbot.keyClick(screen.f_first_names, Qt.Key.Key_Escape)  # back to the search
        assert screen.pages.currentWidget() is screen.search_page


def test_duplicate_candidates_are_shown_before_creation(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        known = add_resident(st)
        screen = open_resident_screen(qtbot, st)
        click(qtbot, screen.create_button)
        fill_form(qtbot, screen, birth_name="dupont", first_names="Marie")
        type_into(qtbot, screen.f_birth_date, "12041932")
        click(qtbot, screen.f_flags[next(iter(screen.f_flags))])  # doubtful
        click(qtbot, screen.check_button)
        assert screen.pages.currentWidget() is screen.duplicates_page
        assert screen.title.text() == "Doublons possibles (1)"
        assert screen.pending_banner.name.text() == "DUPONT Marie"
        rows = [screen.duplicate_rows.itemAt(i).widget()
                for i in range(screen.duplicate_rows.count() - 1)]
        assert [r.resident.id for r in rows] == [known.id]
        assert count(st) == 1  # nothing created yet
        # "It is another person": created, with what was typed.
        click(qtbot, screen.other_person)
        assert st.current == "consent" and count(st) == 2
        assert st.controller.resident.id != known.id  # type: ignore[union-attr]


def test_picking_the_existing_resident_creates_nothing(qtbot: Any, tmp_path: Path) -> None:
    with station(qtbot, tmp_path) as st:
        known = add_resident(st)
        screen = open_resident_screen(qtbot, st)
        click(qtbot, screen.create_button)
        fill_form(qtbot, screen, first_names="Marie")
        type_into(qtbot, screen.f_birth_date, "12041932")
        click(qtbot, screen.check_button)
        row = screen.duplicate_rows.itemAt(0).widget()
        click(qtbot, row)
        assert st.current == "consent"
        assert st.controller.resident.id == known.id  # type: ignore[union-attr]
        assert count(st) == 1
