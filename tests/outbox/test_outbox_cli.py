"""``station outbox``: list, show, retry, send-pending, in a real subprocess."""

from __future__ import annotations

from pathlib import Path

from station.outbox import Outbox
from station.store.database import Store
from tests.conftest import run_station
from tests.outbox.conftest import RECIPIENTS, SENDER, report_message
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler


def test_outbox_commands(tmp_path: Path) -> None:
    with Store.open(tmp_path / "station.sqlite3") as store:
        ids = Outbox(store).enqueue(report_message(), RECIPIENTS[:2])

    listed = run_station("outbox", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("en attente — smtp") == 2
    assert "Aucun envoi configuré" in listed.stdout

    pending = run_station("outbox", "send-pending", home=tmp_path)
    assert pending.returncode == 1
    assert "2 envoi(s) en attente." in pending.stdout

    handler = ScriptedHandler(
        rcpt_by_address={RECIPIENTS[1].address: "550 5.7.1 Relaying denied"})
    with LoopbackSmtp(handler) as server:
        (tmp_path / "station.toml").write_text(
            f'[outbox]\nrelay_host = "127.0.0.1"\nrelay_port = {server.port}\n'
            f'sender = "{SENDER}"\nstarttls = false\nallow_plaintext = true\n',
            encoding="utf-8")
        sent = run_station("outbox", "send-pending", home=tmp_path)
    assert sent.returncode == 1, sent.stderr
    assert "1 remis sur 2 tentés ; 0 en attente." in sent.stdout
    assert "Refus définitif du serveur de messagerie : 550 5.7.1 Relaying denied" in sent.stdout

    shown = run_station("outbox", "show", ids[1][:8], home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"Message-ID : <delivery-{ids[1]}@station>" in shown.stdout  # queued unconfigured
    assert "refus définitif — Refus définitif du serveur de messagerie : 550" in shown.stdout

    retried = run_station("--lang", "en", "outbox", "retry", ids[1], "--as", "claire.m",
                          home=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith(f"Delivery {ids[1]} to ")

    again = run_station("outbox", "retry", ids[0], home=tmp_path)
    assert again.returncode == 2
    assert "ne sera pas envoyé une seconde fois" in again.stderr
