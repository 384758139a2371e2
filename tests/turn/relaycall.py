"""The parts of a call through the relay: ``station serve`` in the relay namespace,
the headless station in the station namespace, Chromium in the doctor namespace.

Each is the real program: ``station serve`` and ``station demo
--wait-for-doctor`` as subprocesses (``ip netns exec``), Debian Chromium
through Playwright; their TURN settings are ``[turn]`` sections of their
homes' ``station.toml``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_station
from tests.e2e.doctor_browser import CHROMIUM, CHROMIUM_ARGS, STATION, TIMEOUT, Station
from tests.turn.coturn import Certificates
from tests.turn.relaylab import RelayLab

STATION_ID = "ehpad-des-tilleuls"

# Records what the console gives its peer connections and the ICE errors they
# meet (icecandidateerror: a TURN server's 401 arrives there).
WATCH_PEERS_JS = """(() => {
  const Original = window.RTCPeerConnection;
  window.__iceConfigs = []; window.__iceErrors = [];
  window.RTCPeerConnection = function (config) {
    window.__iceConfigs.push(JSON.parse(JSON.stringify(config || {})));
    const pc = new Original(config);
    pc.addEventListener("icecandidateerror", (e) => window.__iceErrors.push(
      { code: e.errorCode, text: e.errorText, url: e.url }));
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();"""

# The candidate pair the console's transport selected, and both candidates.
SELECTED_PAIR_JS = """async () => {
  const pc = window.__console && window.__console.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId)
      pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair || pair.state !== "succeeded") return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return { local: local.candidateType, remote: remote.candidateType,
           relayProtocol: local.relayProtocol || null, localAddress: local.address,
           remoteAddress: remote.address, bytesReceived: pair.bytesReceived,
           bytesSent: pair.bytesSent };
}"""


def turn_section(urls: Sequence[str], secret: str) -> str:
    """A ``[turn]`` section of station.toml."""
    listed = ", ".join(f'"{url}"' for url in urls)
    return f'[turn]\nurls = [{listed}]\nsecret = "{secret}"\nlifetime_hours = 1\n'


class Server:
    """``station serve`` in the relay namespace, with ``[turn]`` for the consoles,
    serving HTTPS with ``certificates`` (the relay's, for the same address)."""

    def __init__(self, lab: RelayLab, home: Path, turn: str, certificates: Certificates) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "station.toml").write_text(turn, encoding="utf-8")
        added = run_station("serve", "stations", "add", STATION_ID, "--name", "EHPAD", home=home)
        assert added.returncode == 0, added.stderr
        self.key = next(line.split(" ", 1)[1] for line in added.stdout.splitlines()
                        if line.startswith("STATION-KEY "))
        self.process = subprocess.Popen(
            [*lab.prefix("relay"), str(STATION), "serve", "--host", lab.service_ip,
             "--port", "0", "--cert", str(certificates.cert), "--key", str(certificates.key)],
            env={**os.environ, "STATION_HOME": str(home)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"https?://[\d.]+:(\d+)", line)
        if found is None:
            self.stop()
            raise AssertionError(f"station serve did not start: {line}")
        self.url, self.port = found.group(0), int(found.group(1))

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_server(lab: RelayLab, home: Path, turn: str,
                   certificates: Certificates) -> Iterator[Server]:
    """A :class:`Server`, stopped even when the test fails."""
    server = Server(lab, home, turn, certificates)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_station(lab: RelayLab, home: Path, server: Server, turn: str,
                    ca_file: Path) -> Iterator[Station]:
    """The headless station in the station namespace, calling through ``server``.

    It trusts the private CA of the signaling server by ``[signaling] ca_file``,
    and the relay's by ``SSL_CERT_FILE``: aioice takes no CA file for ``turns:``
    and verifies with OpenSSL's default paths, which that variable replaces."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "station.toml").write_text(f'[signaling]\nca_file = "{ca_file}"\n\n{turn}',
                                       encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATION_SIGNALING_KEY", server.key)
        patch.setenv("SSL_CERT_FILE", str(ca_file))
        station = Station(home, prefix=lab.prefix("station"), options=[
            "--host", lab.station_ip, "--signaling-url", server.url, "--station-id", STATION_ID])
    try:
        yield station
    finally:
        station.stop()


@contextmanager
def doctor_browser(lab: RelayLab, folder: Path, sync_api: Any) -> Iterator[Any]:
    """A Chromium page in the doctor namespace, its peer connections watched."""
    chromium = lab.wrapper("doctor", CHROMIUM, folder)
    with sync_api.sync_playwright() as playwright:
        # Host addresses as IPs, not mDNS names nobody resolves here.
        browser = playwright.chromium.launch(executable_path=str(chromium), args=[
            *CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"])
        try:
            # The console page comes from the test CA's server: the browser is told to
            # accept it. So these tests do not show whether Chromium checks the relay's
            # certificate for turns: (it allocated with the test CA's one here).
            context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris",
                                          ignore_https_errors=True)
            context.add_init_script(WATCH_PEERS_JS)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT * 1000)
            yield page
        finally:
            browser.close()


def selected_pair(page: Any) -> dict[str, Any] | None:
    """The console's selected, succeeded candidate pair (None before there is one)."""
    found = page.evaluate(SELECTED_PAIR_JS)
    return dict(found) if found else None
