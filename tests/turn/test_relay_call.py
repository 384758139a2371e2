"""A call that can only go through the TURN relay, end to end, with a real coturn.

The station (``station demo --wait-for-doctor``) and the doctor (Debian
Chromium) sit in two network namespaces with no path between them; both reach
a third where coturn (use-auth-secret) and ``station serve`` run
(:mod:`tests.turn.relaylab`). Each side gets its own time-limited credential:
the station mints it from its ``[turn]`` secret, the console receives it from
the server on its socket. The tests show, in Chromium's own statistics, that
the selected candidate pair is relayed and that video, sound and both data
directions flow: over UDP TURN, then over ``turns:`` (TLS over TCP) with a
firewall that lets nothing else out; and that credentials coturn refuses give
a clear incident at the station and a failed connection at the doctor, not a
hang.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.doctor_browser import (
    TIMEOUT,
    Station,
    assert_rising,
    join,
    needs_chromium,
    sync_api,
    wait_for,
)
from tests.netlab import unavailable
from tests.turn.coturn import TLS_PORT, TURNSERVER, Certificates, Coturn, make_certificates
from tests.turn.relaycall import (
    doctor_browser,
    running_server,
    running_station,
    selected_pair,
    turn_section,
)
from tests.turn.relaylab import RelayLab

WHY_NOT = unavailable() or (None if TURNSERVER else "coturn (turnserver) is not installed")
pytestmark = [needs_chromium, pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))]

SECRET = "relay-test-shared-secret-0123456789"
WRONG_SECRET = "not-the-relay-secret-9876543210"
PROBE_PORT = 40000  # inside the lab's private namespaces: nothing else listens there
LISTEN = ("import socket, sys\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          f"s.bind((sys.argv[1], {PROBE_PORT})); s.settimeout(float(sys.argv[2]))\n"
          "print('ready', flush=True)\n"
          "try:\n    print(s.recvfrom(64)[0].decode())\nexcept TimeoutError:\n    print('none')\n")
SEND = ("import socket, sys, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for _ in range(10):\n"
        "    try:\n"
        f"        s.sendto(b'probe', (sys.argv[1], {PROBE_PORT}))\n"
        "    except OSError:\n        pass\n"
        "    time.sleep(0.2)\n")


CANDIDATES_JS = """async () => {
  const pc = window.__console && window.__console.pc;
  if (!pc) return null;
  const out = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type === "local-candidate" || r.type === "remote-candidate")
      out.push(`${r.type} ${r.candidateType} ${r.address}:${r.port} ${r.relayProtocol || ""}`);
  });
  const sdp = pc.remoteDescription ? pc.remoteDescription.sdp : "";
  for (const line of sdp.split("\\r\\n"))
    if (line.startsWith("a=candidate")) out.push("offer " + line);
  const mine = pc.localDescription ? pc.localDescription.sdp : "";
  for (const line of mine.split("\\r\\n"))
    if (line.startsWith("a=candidate")) out.push("answer " + line);
  out.push("ice " + pc.iceConnectionState + " gathering " + pc.iceGatheringState);
  return out;
}"""


@pytest.fixture(scope="module")
def lab() -> Iterator[RelayLab]:
    with RelayLab() as running:
        yield running


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory, lab: RelayLab) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("pki"), lab.service_ip)


@pytest.fixture(scope="module")
def coturn(lab: RelayLab, certificates: Certificates,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with Coturn(tmp_path_factory.mktemp("coturn"), lab.prefix("relay"), lab.service_ip,
                SECRET, certificates) as running:
        yield running


def udp_reaches(lab: RelayLab, source: str, target: str, address: str) -> bool:
    """Whether a UDP datagram sent from ``source``'s namespace reaches ``address``
    in ``target``'s (ten tries over two seconds)."""
    listener = subprocess.Popen([*lab.prefix(target), sys.executable, "-c", LISTEN, address, "6"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        lab.run(source, sys.executable, "-c", SEND, address)
        output, _ = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    return "probe" in output


def test_station_and_doctor_have_no_direct_path(lab: RelayLab) -> None:
    assert udp_reaches(lab, "station", "relay", lab.service_ip)  # the probe works...
    assert udp_reaches(lab, "doctor", "relay", lab.service_ip)
    assert not udp_reaches(lab, "station", "doctor", lab.doctor_ip)  # ...and finds no path
    assert not udp_reaches(lab, "doctor", "station", lab.station_ip)


def _media_and_data_flow(page: Any, station: Station) -> None:
    """Video decodes and sound rises at the console; vitals come over the data
    channel, and the doctor's draft reaches the station's store over another."""
    assert_rising(page, "video-room", "video")
    assert_rising(page, "audio-stethoscope", "audio")
    wait_for(lambda: page.evaluate("window.__console.state.seenVitals.size") > 0,
             "measurements over the data channel")
    conclusion = "Auscultation par le relais : normale."
    page.get_by_test_id("report-conclusion").fill(conclusion)
    wait_for(lambda: [d for d in station.events("report_draft")
                      if d["fields"].get("conclusion") == conclusion], "the doctor's draft")


def _pair_carrying_media(page: Any) -> dict[str, Any]:
    """The selected pair, once 50 kB more went through it (the call's media)."""
    first = wait_for(lambda: selected_pair(page), "a selected candidate pair")

    def grown() -> dict[str, Any] | None:
        now = selected_pair(page)
        return now if now and now["bytesReceived"] > first["bytesReceived"] + 50_000 else None

    pair = wait_for(grown, "media through the selected pair")
    assert {k: pair[k] for k in ("local", "remote", "localAddress", "remoteAddress")} == {
        k: first[k] for k in ("local", "remote", "localAddress", "remoteAddress")}
    return pair


def _console_credentials(page: Any) -> list[dict[str, Any]]:
    """The relay entries the console gave its peer connections."""
    configs = page.evaluate("window.__iceConfigs")
    return [server for config in configs for server in config.get("iceServers", [])
            if server.get("username")]


def _why_not_connected(page: Any, station: Station, coturn: Coturn) -> str:
    """What the console, the station and coturn saw, for a failure's message."""
    return "\n".join([
        "console ICE errors: " + str(page.evaluate("window.__iceErrors")),
        "console candidates: " + str(page.evaluate(CANDIDATES_JS)),
        "station:", *station.lines[-25:], "coturn:", *coturn.log_text().splitlines()[-25:]])


def _relayed_call(lab: RelayLab, coturn: Coturn, certificates: Certificates, tmp_path: Path,
                  station_url: str, console_urls: list[str]) -> dict[str, Any]:
    """A call through the relay; the console's selected pair once media went through."""
    with (running_server(lab, tmp_path / "server", turn_section(console_urls, SECRET),
                         certificates) as server):
        if station_url == coturn.urls["tls"]:
            lab.only_tls_out(TLS_PORT, server.port)
        with (running_station(lab, tmp_path / "station", server,
                              turn_section([station_url], SECRET), certificates.ca) as station,
              doctor_browser(lab, tmp_path, sync_api) as page):
            join(page, station.link)
            try:
                sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                    "En communication", timeout=TIMEOUT * 1000)
            except AssertionError as error:
                raise AssertionError(_why_not_connected(page, station, coturn)) from error
            wait_for(lambda: selected_pair(page), "a selected candidate pair")
            _media_and_data_flow(page, station)
            pair = _pair_carrying_media(page)
            credentials = _console_credentials(page)
            assert credentials and all(
                re.fullmatch(r"\d+:doctor-[0-9a-f]{16}", c["username"]) for c in credentials)
            assert credentials[0]["urls"] == console_urls
            wait_for(lambda: any(line.startswith("Relais TURN") and "allocation accordée" in line
                                 for line in station.lines), "the station's relay check")
            assert not station.incidents("relay_refused")
    return pair


def test_a_call_through_udp_turn_carries_media_and_data(
        lab: RelayLab, coturn: Coturn, certificates: Certificates, tmp_path: Path) -> None:
    pair = _relayed_call(lab, coturn, certificates, tmp_path, coturn.urls["udp"],
                                  [coturn.urls["udp"]])
    assert "relay" in (pair["local"], pair["remote"]), pair
    if pair["local"] == "relay":
        assert pair["relayProtocol"] == "udp", pair
    # coturn granted the station's own credential (a session hash, no name)
    log = coturn.log_text()
    assert re.search(r"username=<\d+:station-[0-9a-f]{16}>", log), log[-2000:]


def test_a_call_through_turns_tls_only_firewall(
        lab: RelayLab, coturn: Coturn, certificates: Certificates, tmp_path: Path) -> None:
    try:
        # The console is offered all three; only turns: can get through.
        pair = _relayed_call(lab, coturn, certificates, tmp_path, coturn.urls["tls"],
                                [coturn.urls["udp"], coturn.urls["tcp"], coturn.urls["tls"]])
    finally:
        lab.open_out()
    # Nothing but TCP to 5349 could leave either side: both ends are relayed, and
    # the doctor's allocation is over TLS.
    assert (pair["local"], pair["remote"]) == ("relay", "relay"), pair
    assert pair["relayProtocol"] == "tls", pair
    station_sessions = [line for line in coturn.log_text().splitlines()
                        if re.search(r":station-[0-9a-f]{16}>", line) and ":5349" in line]
    assert station_sessions, coturn.log_text()[-2000:]


def test_refused_credentials_give_a_clear_incident_not_a_hang(
        lab: RelayLab, coturn: Coturn, certificates: Certificates, tmp_path: Path) -> None:
    wrong = turn_section([coturn.urls["udp"]], WRONG_SECRET)
    with (running_server(lab, tmp_path / "server", wrong, certificates) as server,
          running_station(lab, tmp_path / "station", server, wrong, certificates.ca) as station,
          doctor_browser(lab, tmp_path, sync_api) as page):
        refused = wait_for(lambda: station.incidents("relay_refused"), "relay_refused incident")
        assert "identifiants refusés (401" in refused[0]["detail"]
        assert any("identifiants refusés" in line for line in station.lines)
        join(page, station.link)
        errors = wait_for(lambda: [e for e in page.evaluate("window.__iceErrors")
                                   if e["code"] == 401], "the console's 401 from coturn")
        assert errors[0]["url"].startswith("turn:")
        # No path but the relay, and the relay refuses: the connection fails (in
        # about 15 s), it does not hang; the console says it is reconnecting.
        wait_for(lambda: page.evaluate(
            "window.__console.pc && window.__console.pc.connectionState") == "failed",
            "the connection failed at the console", timeout=90)
        assert selected_pair(page) is None
        assert page.get_by_test_id("call-state").get_attribute("data-state") == "reconnecting"
        assert not any(line.startswith("Appel : en communication") for line in station.lines)
    assert "401" in coturn.log_text()
