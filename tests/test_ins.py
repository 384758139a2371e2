"""INS / NIR numbers: valid ones, Corsica, and a clear reason for each failure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.fr import nir

from station.errors import ValidationError
from station.i18n import set_language
from station.ins import OID_INS_NIA, OID_INS_NIR, InsKind, parse_ins


def test_a_valid_nir_is_decoded() -> None:
    number = parse_ins("2 32 04 75 056 012 14")
    assert number.number == "232047505601214"
    assert number.kind is InsKind.NIR
    assert (number.sex, number.birth_year_2digits, number.birth_month) == ("F", 32, 4)
    assert number.birth_place == "75056"
    assert number.default_oid == OID_INS_NIR
    assert number.formatted() == "2 32 04 75 056 012 14"


@pytest.mark.parametrize("raw", ["253072B07300470", "253072A07300443"])
def test_corsica_codes_count_as_19_and_18(raw: str) -> None:
    assert parse_ins(raw).birth_place.startswith(raw[5:7])


def test_a_pending_number_is_an_nia() -> None:
    body = "7320475056012"
    number = parse_ins(body + nir.calc_check_digits(body + "00"))
    assert number.kind is InsKind.NIA
    assert number.default_oid == OID_INS_NIA
    assert number.sex == "M"


def test_unknown_birth_month_is_accepted_as_unknown() -> None:
    body = "1322075056012"
    assert parse_ins(body + nir.calc_check_digits(body + "00")).birth_month is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Numéro INS : le numéro est vide"),
        ("2320475056012", "Numéro INS : il faut 15 caractères (13 + clé de 2 chiffres), 13 saisis"),
        ("2320475X5601214", "Numéro INS : seuls des chiffres sont admis, sauf 2A ou 2B (Corse)"
                            " en 6e et 7e positions"),
        ("253072C07300443", "Numéro INS : seuls des chiffres sont admis, sauf 2A ou 2B (Corse)"
                            " en 6e et 7e positions"),
        ("532047505601214", "Numéro INS : le premier chiffre (sexe) vaut 5 : attendu 1 ou 2"
                            " (NIR), 3, 4, 7 ou 8 (NIA)"),
        ("232157505601214", "Numéro INS : le mois de naissance 15 n'existe pas"),
        ("232047505601215", "Numéro INS : la clé 15 est fausse : la clé calculée est 14"
                            " (erreur de saisie ?)"),
    ],
)
def test_each_failure_names_the_field_and_the_reason(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_ins(raw)
    assert caught.value.field == "ins"
    assert str(caught.value) == message


def test_messages_in_english_on_request() -> None:
    set_language("en")
    with pytest.raises(ValidationError) as caught:
        parse_ins("232047505601215")
    assert "15" in str(caught.value) and "14" in str(caught.value)
    assert "clé" not in str(caught.value)


@given(st.integers(min_value=1, max_value=2), st.integers(min_value=0, max_value=99),
       st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=95),
       st.integers(min_value=0, max_value=999_999))
def test_every_well_formed_number_with_its_key_is_valid(
    sex: int, year: int, month: int, dept: int, rest: int
) -> None:
    body = f"{sex}{year:02d}{month:02d}{dept:02d}{rest:06d}"
    number = body + nir.calc_check_digits(body + "00")
    assert parse_ins(number).number == number


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_caught(position: int, delta: int) -> None:
    good = "232047505601214"
    digit = (int(good[position]) + delta) % 10
    typo = good[:position] + str(digit) + good[position + 1:]
    with pytest.raises(ValidationError):
        parse_ins(typo)
