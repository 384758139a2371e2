"""``station expertise create|send|list|show`` against a real store, in French by default."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from station.cli.main import main
from station.clock import utc_now
from station.expertise import Expertise
from station.outbox import Outbox
from station.paths import default_store_path
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.conftest import FakeClock, marie
from tests.expertise.conftest import EXPERT, EXPERT_RPPS, build_session


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATION_HOME", str(tmp_path))
    return tmp_path


def test_create_send_list_show(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(default_store_path()) as store:
        nurse = AccountDirectory(store).create("claire.m", "Claire Martin", "correct horse", "test")
        resident = ResidentRegistry(store).create(marie(), "claire.m")
        built = build_session(store, nurse, resident, FakeClock())
        session_id = built.engine.id
    code = main(["expertise", "create", session_id, "--question", "Souffle : avis ?",
                 "--expert", EXPERT.name, "--rpps", EXPERT_RPPS, "--specialty", "cardiologie",
                 "--email", EXPERT.email, "--no-photos", "--clip", str(built.clip_ids[0]),
                 "--as", "claire.m"])
    out = capsys.readouterr().out
    assert code == 0
    assert "créée (brouillon) : 0 photo(s), 1 enregistrement(s), 3 mesure(s)" in out
    request_id = out.split()[1]
    assert main(["expertise", "list"]) == 0
    assert "Aucune demande en attente de réponse." in capsys.readouterr().out
    assert main(["expertise", "send", request_id[:8], "--base-url", "https://ehpad.test"]) == 0
    assert f"Lien envoyé à {EXPERT.name} <{EXPERT.email}>" in capsys.readouterr().out
    with Store.open(default_store_path()) as store:  # an older one, sent 2 h 10 ago
        earlier = Expertise(store, Outbox(store),
                            clock=lambda: utc_now() - timedelta(hours=2, minutes=10, seconds=5))
        old = earlier.create(session_id, "Autre question ?", EXPERT)
        earlier.send(old.id, "https://ehpad.test")
    assert main(["expertise", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(old.id[:8])
    assert lines[0].endswith("envoyée  en attente depuis 2 h 10")
    assert lines[1].startswith(request_id[:8])
    assert main(["expertise", "show", request_id]) == 0
    shown = capsys.readouterr().out
    assert "Question : Souffle : avis ?" in shown
    assert "lien envoyé à l'expert" in shown
    assert "Facturation : TE2" in shown
    assert main(["expertise", "show", "inconnue0"]) == 2
    assert "aucune demande" in capsys.readouterr().err
    assert main(["expertise", "create", session_id, "--question", "Q", "--expert", "Dr X",
                 "--rpps", "123", "--specialty", "x", "--email", "x@y.fr"]) == 2
    assert "RPPS" in capsys.readouterr().err
