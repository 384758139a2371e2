"""The coturn configuration shipped in resources/deploy/turnserver.conf works.

coturn is started with the template itself (only the address, secret,
certificate and file paths replaced) in a network namespace; the station's
relay check (the request a call makes) gets an allocation over UDP, TCP and
TLS with a credential minted from the secret, and a 401 with another secret.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netlab import unavailable
from tests.turn.coturn import TURNSERVER, Coturn, make_certificates
from tests.turn.relaylab import RelayLab

WHY_NOT = unavailable() or (None if TURNSERVER else "coturn (turnserver) is not installed")
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))

TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "deploy" / "turnserver.conf"
SECRET = "template-test-shared-secret-42"
CHECK = """
import asyncio, sys
from station.turn import turn_credential
from station.turn_relay import TurnRelayError, check_relay
async def main():
    for url in sys.argv[2:]:
        try:
            granted = await check_relay(url, turn_credential(sys.argv[1], "station-t", 60))
            print("granted", url, granted.relayed[0])
        except TurnRelayError as error:
            print("refused" if error.code == "turn.refused" else "unreachable", url, error)
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RelayLab, Coturn]]:
    with RelayLab(f"d{os.getpid() % 10000}") as lab:
        folder = tmp_path_factory.mktemp("template")
        certificates = make_certificates(folder, lab.service_ip)
        with Coturn(folder, lab.prefix("relay"), lab.service_ip, SECRET, certificates,
                    template=TEMPLATE.read_text(encoding="utf-8")) as coturn:
            yield lab, coturn


def _check(lab: RelayLab, coturn: Coturn, secret: str) -> list[str]:
    ca = coturn.certificates.ca
    result = lab.run("station", "env", f"SSL_CERT_FILE={ca}", sys.executable, "-c", CHECK,
                     secret, *coturn.urls.values(), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_template_grants_minted_credentials_on_every_transport(
        relay: tuple[RelayLab, Coturn]) -> None:
    lab, coturn = relay
    lines = _check(lab, coturn, SECRET)
    assert lines == [f"granted {url} {lab.service_ip}" for url in coturn.urls.values()], (
        "\n".join(lines) + coturn.log_text()[-2000:])
    log = coturn.log_text()
    assert "Unknown" not in log and "CONFIG ERROR" not in log, log[-2000:]


def test_the_template_refuses_another_secret(relay: tuple[RelayLab, Coturn]) -> None:
    lab, coturn = relay
    lines = _check(lab, coturn, "another-secret-entirely-000")
    assert [line.split(" ", 1)[0] for line in lines] == ["refused"] * 3, "\n".join(lines)
    assert all("401" in line for line in lines)
