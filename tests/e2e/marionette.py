"""Driving Firefox through Marionette, the remote protocol built into every Firefox.

Playwright drives only its own patched Firefox (``playwright install``, which
we never run), and geckodriver is not packaged in Debian; Marionette needs
neither: Firefox started with ``--marionette`` listens on a TCP port and
speaks length-prefixed JSON (``<length>:<json>``). Commands are
``[0, id, name, params]``, replies ``[1, id, error, result]``. This client
covers what the end-to-end test needs: navigate, run a script, screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

FIREFOX = "/usr/bin/firefox-esr"

# Fake camera and microphone without prompts, loopback ICE candidates (the
# station is on 127.0.0.1 in tests), no first-run pages nor network chatter.
PREFS = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reporting.enabled": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "remote.prefs.recommended": True,
}


class MarionetteError(RuntimeError):
    """Firefox answered a command with an error."""


class Firefox:
    """A headless Firefox with a fresh profile, driven over Marionette."""

    def __init__(self, timeout: float = 45.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="firefox-profile-")
        self.port = _free_port()
        prefs = {**PREFS, "marionette.port": self.port}
        lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
        Path(self._profile.name, "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
        self.process = subprocess.Popen(
            [FIREFOX, "--headless", "--marionette", "--no-remote", "--profile",
             self._profile.name, "about:blank"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._socket = self._connect()
        self._buffer = b""
        self._next_id = 0
        self._read()  # the greeting: {"applicationType": "gecko", "marionetteProtocol": 3}
        # Marionette reads the capabilities from the parameters themselves (nested
        # under "capabilities" they were ignored): the test servers' certificate is
        # their local self-signed one.
        self.capabilities = self.command("WebDriver:NewSession", {"acceptInsecureCerts": True})
        if not self.capabilities.get("capabilities", {}).get("acceptInsecureCerts"):
            raise MarionetteError("Firefox refused acceptInsecureCerts")

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # --- the wire -------------------------------------------------------------------

    def _read(self) -> Any:
        while b":" not in self._buffer:
            self._receive()
        size, _, rest = self._buffer.partition(b":")
        length = int(size)
        self._buffer = rest
        while len(self._buffer) < length:
            self._receive()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return json.loads(body)

    def _receive(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise MarionetteError("Firefox closed the Marionette connection")
        self._buffer += chunk

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Send one command and return its result (MarionetteError on an error reply)."""
        self._next_id += 1
        body = json.dumps([0, self._next_id, name, params or {}]).encode()
        self._socket.sendall(str(len(body)).encode() + b":" + body)
        while True:
            reply = self._read()
            if reply[0] == 1 and reply[1] == self._next_id:
                break
        _, _, error, result = reply
        if error:
            raise MarionetteError(f"{name}: {error.get('error')}: {error.get('message')}")
        return result

    # --- what tests use -----------------------------------------------------------------

    def navigate(self, url: str) -> None:
        """Open ``url`` and wait for the page to load."""
        self.command("WebDriver:Navigate", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``) and return its value.
        A returned Promise is awaited."""
        result = self.command("WebDriver:ExecuteAsyncScript", {
            "script": "const done = arguments[arguments.length - 1];"
                      f"Promise.resolve((function() {{ {script} }}).apply(null, "
                      "Array.from(arguments).slice(0, -1)))"
                      ".then(done, (e) => done({__error: String(e)}));",
            "args": list(args)})
        value = result.get("value") if isinstance(result, dict) else result
        if isinstance(value, dict) and "__error" in value:
            raise MarionetteError(value["__error"])
        return value

    def screenshot(self, path: Path) -> None:
        """Save the page as a PNG."""
        data = self.command("WebDriver:TakeScreenshot", {"full": False})["value"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Quit Firefox and remove its profile."""
        with contextlib.suppress(OSError, MarionetteError):
            self.command("Marionette:Quit", {"flags": ["eForceQuit"]})
        self._socket.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._profile.cleanup()

    def __enter__(self) -> Firefox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
