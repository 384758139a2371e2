"""Residents: create, search by birth date then letters, duplicates, history."""

from __future__ import annotations

from datetime import date

import pytest

from station.access import Actor, Role
from station.errors import NotFoundError
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.conftest import FakeClock, marie


@pytest.fixture
def registry(store: Store, clock: FakeClock) -> ResidentRegistry:
    return ResidentRegistry(store, clock)


def test_create_and_get(registry: ResidentRegistry) -> None:
    created = registry.create(marie(), "claire.m")
    assert registry.get(created.id) == created


def test_search_by_birth_date_then_letters(registry: ResidentRegistry) -> None:
    mary = registry.create(marie(), "claire.m")
    other = registry.create(marie(birth_name="Lefèvre", used_name=None, ins=None,
                                  status="provisoire", document=None,
                                  birth_first_names="Hélène"), "claire.m")
    registry.create(marie(birth_date="1940-01-01", ins=None, status="provisoire",
                          document=None), "claire.m")
    born = date(1932, 4, 12)
    assert registry.search(born) == [mary, other]
    assert registry.search(born, "mart") == [mary]  # used name
    assert registry.search(born, "jean") == [mary]  # second first name
    assert registry.search(born, "héle") == [other]  # accents ignored
    assert registry.search(born, "lefe") == [other]
    assert registry.search(born, "zz") == []
    assert len(registry.search(None, "dupont")) == 2


def test_possible_duplicates(registry: ResidentRegistry) -> None:
    mary = registry.create(marie(), "claire.m")
    same_person_typo = marie(birth_name="Dupond", ins=None, status="provisoire", document=None)
    assert registry.possible_duplicates(same_person_typo) == [mary]  # same birth date, "MAR"
    same_ins = marie(used_name=None)
    assert registry.possible_duplicates(same_ins) == [mary]
    stranger = marie(birth_name="Durand", birth_first_names="Paul", sex="M", used_name=None,
                     ins=None, status="provisoire", document=None)
    assert registry.possible_duplicates(stranger) == []


def test_update_keeps_the_previous_identity(registry: ResidentRegistry,
                                            clock: FakeClock) -> None:
    provisional = marie(ins=None, status="provisoire", document=None)
    created = registry.create(provisional, "claire.m")
    clock.advance(minutes=5)
    updated = registry.update(created.id, marie(), "paul.r")
    assert registry.get(created.id).identity.is_qualified
    history = registry.history(created.id, Actor("claire.m", Role.NURSE))
    assert [(actor, values["status"]) for _, actor, values in history] == [
        ("claire.m", "provisoire"), ("paul.r", "qualifiee")]
    assert updated.identity == marie()


def test_unknown_resident(registry: ResidentRegistry) -> None:
    with pytest.raises(NotFoundError, match="aucun résident n°42"):
        registry.get(42)
