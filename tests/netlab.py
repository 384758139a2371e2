"""A small network laboratory: the station and the doctor in two network namespaces.

Two namespaces joined by one veth pair, each end with its own address, so the
station and the browser talk over a real link the test controls: cut it
(nftables drops everything), make it lossy (nftables ``numgen random``), or
narrow it (``tc`` tbf). Nothing leaves the namespaces the lab created.

Needs root, ``ip`` (iproute2) and ``nft`` (nftables); :func:`unavailable`
says why not when they are missing, for a clean skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

_TABLE = "netlab"


def unavailable() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = f"netlab-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
    if made.returncode != 0:
        return "cannot create a network namespace: " + made.stderr.decode(errors="replace")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def _run(*command: str, stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")


class NetLab:
    """Station and doctor namespaces on one veth link (``10.77.N.1`` ↔ ``10.77.N.2``)."""

    def __init__(self, tag: str | None = None) -> None:
        tag = tag or str(os.getpid() % 100000)
        self.station_ns, self.doctor_ns = f"st{tag}", f"dr{tag}"
        self.station_if, self.doctor_if = f"vs{tag}", f"vd{tag}"
        subnet = 10 + os.getpid() % 240
        self.station_ip, self.doctor_ip = f"10.77.{subnet}.1", f"10.77.{subnet}.2"

    # --- life -----------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        self.close()  # leftovers of a crashed run with the same tag
        _run("ip", "netns", "add", self.station_ns)
        _run("ip", "netns", "add", self.doctor_ns)
        _run("ip", "link", "add", self.station_if, "netns", self.station_ns,
             "type", "veth", "peer", "name", self.doctor_if, "netns", self.doctor_ns)
        for ns, interface, address in ((self.station_ns, self.station_if, self.station_ip),
                                       (self.doctor_ns, self.doctor_if, self.doctor_ip)):
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", interface)
            _run("ip", "-n", ns, "link", "set", interface, "up")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove both namespaces (the veth pair goes with them)."""
        for ns in (self.station_ns, self.doctor_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    # --- running things inside ------------------------------------------------------

    def prefix(self, side: str) -> list[str]:
        """The command prefix running a program in ``station`` or ``doctor``'s namespace."""
        return ["ip", "netns", "exec", self._ns(side)]

    def wrapper(self, side: str, program: str, folder: Path) -> Path:
        """An executable script running ``program`` in ``side``'s namespace (for tools
        that launch a browser themselves, such as Playwright)."""
        script = folder / f"{side}-{Path(program).name}"
        # The doctor's browser runs on another computer in life; here it shares the two
        # cores with the station and, at equal priority, starved the station's sending:
        # 1.4-17 % of the good link's voice concealed, 0-0.6 % with the browser at
        # nice 10 (docs/network-profiles.md). The station keeps its priority.
        nice = "nice -n 10 " if side == "doctor" else ""
        script.write_text(f'#!/bin/sh\nexec {nice}{" ".join(self.prefix(side))} {program} "$@"\n',
                          encoding="utf-8")
        script.chmod(0o755)
        return script

    def _ns(self, side: str) -> str:
        return {"station": self.station_ns, "doctor": self.doctor_ns}[side]

    def _interface(self, side: str) -> str:
        return {"station": self.station_if, "doctor": self.doctor_if}[side]

    # --- what the link does ---------------------------------------------------------

    def cut(self) -> None:
        """Drop every packet both ways (the cable pulled, the 4G gone)."""
        self._filter("drop")

    def lose(self, percent: int) -> None:
        """Drop ``percent`` % of the packets at random, in each direction."""
        self._filter(f"numgen random mod 100 < {int(percent)} drop" if percent > 0 else None)

    def heal(self) -> None:
        """Back to a clean link."""
        self._filter(None)

    def shape(self, rate: str, burst: str = "32kbit", latency: str = "50ms") -> None:
        """Limit the rate of each direction with a token bucket (``tc`` tbf)."""
        for side in ("station", "doctor"):
            _run("ip", "netns", "exec", self._ns(side), "tc", "qdisc", "replace", "dev",
                 self._interface(side), "root", "tbf", "rate", rate, "burst", burst,
                 "latency", latency)

    def _filter(self, rule: str | None) -> None:
        """Each side filters what it sends, so the rule acts once per direction."""
        for side in ("station", "doctor"):
            ns, interface = self._ns(side), self._interface(side)
            subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", _TABLE],
                           capture_output=True, check=False)
            if rule is None:
                continue
            script = (f"table inet {_TABLE} {{\n chain out {{\n"
                      "  type filter hook output priority 0;\n"
                      f'  oifname "{interface}" {rule}\n }}\n}}\n')
            _run("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=script)


def run_in(lab: NetLab, side: str, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion in ``side``'s namespace (for checks such as ping)."""
    return subprocess.run([*lab.prefix(side), *command], capture_output=True, text=True,
                          check=False)
