"""Resident identity: strict traits, statuses, flags, and INS sharing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from station.errors import ValidationError
from station.identity import (
    IdentityFlag,
    IdentityStatus,
    Sex,
    identity_from_input,
    normalise_name,
)
from station.ins import OID_INS_NIR
from tests.conftest import QUALIFIED_INS, marie


def test_traits_are_normalised_as_the_ins_writes_them() -> None:
    identity = marie(birth_name="  d'Estaing-Ça ", birth_first_names="Hélène,  Zoé")
    assert identity.birth_name == "D'ESTAING-CA"
    assert identity.birth_first_names == ("HELENE", "ZOE")
    assert identity.first_birth_first_name == "HELENE"
    assert identity.ins_oid == OID_INS_NIR
    assert normalise_name("Œdipe  Lætitia") == "OEDIPE LAETITIA"


def test_only_a_qualified_identity_shares_its_ins() -> None:
    assert marie().shareable_ins() == (QUALIFIED_INS, OID_INS_NIR)
    for status, document in (("recuperee", None), ("validee", "cni")):
        identity = marie(status=status, document=document)
        assert identity.ins == QUALIFIED_INS
        assert identity.shareable_ins() is None
    assert marie(ins=None, status="provisoire", document=None).shareable_ins() is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"sex": "Z"}, "sex",
         "Sexe : « Z » n'est pas un sexe reconnu (M, F ou I pour indéterminé)"),
        ({"birth_date": "31/02/1932"}, "birth_date",
         "Date de naissance : la date « 31/02/1932 » n'existe pas"),
        ({"birth_date": "1932-13-01"}, "birth_date",
         "Date de naissance : la date « 1932-13-01 » n'existe pas"),
        ({"birth_date": "hier"}, "birth_date",
         "Date de naissance : « hier » n'est pas une date (JJ/MM/AAAA ou AAAA-MM-JJ)"),
        ({"birth_date": "1850-01-01", "ins": None, "status": "provisoire"}, "birth_date",
         "Date de naissance : la date 1850-01-01 est antérieure à 1890"),
        ({"birth_name": ""}, "birth_name", "Nom de naissance : ce champ est obligatoire"),
        ({"birth_name": "Dupont3"}, "birth_name",
         "Nom de naissance : « DUPONT3 » contient des caractères non admis (lettres, espace,"
         " trait d'union et apostrophe seulement)"),
        ({"birth_first_names": ""}, "birth_first_names",
         "Prénoms de naissance : ce champ est obligatoire"),
        ({"birth_place_code": "7505"}, "birth_place_code",
         "Lieu de naissance (code INSEE) : « 7505 » n'est pas un code INSEE de commune"
         " (5 caractères, 2A/2B pour la Corse, 99xxx pour l'étranger)"),
        ({"ins": "232047505601215"}, "ins",
         "Numéro INS : la clé 15 est fausse : la clé calculée est 14 (erreur de saisie ?)"),
        ({"sex": "M"}, "ins",
         "Numéro INS : le sexe inscrit dans le numéro INS ne correspond pas au sexe saisi"),
        ({"birth_date": "1933-04-12"}, "ins", "Numéro INS : l'année inscrite dans le numéro"
         " INS ne correspond pas à la date de naissance"),
        ({"birth_date": "1932-05-12"}, "ins", "Numéro INS : le mois inscrit dans le numéro"
         " INS ne correspond pas à la date de naissance"),
        ({"ins": None}, "ins", "Numéro INS : le statut « qualifiee » exige un INS obtenu par"
         " le téléservice INSi"),
        ({"document": None}, "document", "Justificatif d'identité : le statut « qualifiee »"
         " exige un justificatif d'identité à haut niveau de confiance"),
        ({"flags": ["douteuse"]}, "status",
         "Statut de l'identité : une identité douteuse ou fictive reste provisoire"),
        ({"status": "certaine"}, "status", "Statut de l'identité : « certaine » n'est pas"
         " admis (valeurs possibles : provisoire, validee, recuperee, qualifiee)"),
        ({"ins_oid": "1.2.3"}, "ins_oid", "Type d'identifiant INS (OID) : OID « 1.2.3 »"
         " inconnu (INS-NIR, INS-NIA, NIR de test ou de démonstration attendus)"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        marie(**overrides)
    assert caught.value.field == field
    assert str(caught.value) == message


def test_a_birth_date_in_the_future_is_refused() -> None:
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(ValidationError, match="dans le futur") as caught:
        marie(birth_date=tomorrow, ins=None, status="provisoire")
    assert caught.value.field == "birth_date"


def test_sex_aliases_and_unknown_sex() -> None:
    assert marie(sex="femme").sex is Sex.FEMALE
    identity = marie(sex="I")  # the INS still says F: unknown sex does not contradict it
    assert identity.sex is Sex.UNKNOWN


def test_flags_and_statuses() -> None:
    identity = marie(ins=None, status="provisoire", document=None,
                     flags=["homonyme", "doublon_potentiel"])
    assert identity.flags == {IdentityFlag.HOMONYM, IdentityFlag.POTENTIAL_DUPLICATE}
    assert identity.status is IdentityStatus.PROVISIONAL
    assert marie(flags=["homonyme"]).is_qualified


def test_display_name_reads_naturally() -> None:
    assert marie().display_name() == "MARTIN (née DUPONT) Marie"
    assert marie(used_name=None).display_name() == "DUPONT Marie"


def test_identity_from_input_accepts_french_dates() -> None:
    assert identity_from_input(
        birth_name="Durand", birth_first_names=["Paul"], sex="H", birth_date="03/01/1940",
        birth_place_code="2a004",
    ).birth_date == date(1940, 1, 3)
