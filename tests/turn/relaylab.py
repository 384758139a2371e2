"""Three network namespaces: a station and a doctor who cannot reach each other,
both reaching a relay namespace (where coturn and the signaling server run).

::

    station ns ──veth── relay ns ──veth── doctor ns
    10.88.N.2          10.88.N.1  10.89.N.1   10.89.N.2
                       service address 10.90.N.1 (on the relay's loopback)

The station and the doctor each route everything to the relay namespace,
which does not forward (``net.ipv4.ip_forward=0``): a packet from one to the
other dies there. The service address is local to the relay namespace, so
both sides reach coturn and the server at one address, as they would reach
one public name. :meth:`RelayLab.only_tls_out` narrows what the station and
the doctor may send to TCP towards the TLS relay port and the signaling port
(a hospital firewall that lets TLS out and nothing else).

Uses :mod:`tests.netlab`'s runner and availability probe.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

from tests.netlab import _run

_TABLE = "relaylab"


class RelayLab:
    """The namespaces, links and addresses of one test module."""

    def __init__(self, tag: str | None = None) -> None:
        tag = tag or str(os.getpid() % 100000)
        self.namespaces = {"station": f"tst{tag}", "doctor": f"tdr{tag}", "relay": f"trl{tag}"}
        net = 10 + os.getpid() % 240
        self.station_ip, self.station_gw = f"10.88.{net}.2", f"10.88.{net}.1"
        self.doctor_ip, self.doctor_gw = f"10.89.{net}.2", f"10.89.{net}.1"
        self.service_ip = f"10.90.{net}.1"
        self._links = {"station": (f"ts{tag}", f"tsr{tag}", self.station_ip, self.station_gw),
                       "doctor": (f"td{tag}", f"tdr{tag}", self.doctor_ip, self.doctor_gw)}

    def __enter__(self) -> RelayLab:
        self.close()  # leftovers of a crashed run with the same tag
        for ns in self.namespaces.values():
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        relay = self.namespaces["relay"]
        _run("ip", "netns", "exec", relay, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        _run("ip", "-n", relay, "addr", "add", f"{self.service_ip}/32", "dev", "lo")
        for side, (inner, outer, address, gateway) in self._links.items():
            ns = self.namespaces[side]
            _run("ip", "link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer,
                 "netns", relay)
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inner)
            _run("ip", "-n", relay, "addr", "add", f"{gateway}/24", "dev", outer)
            _run("ip", "-n", ns, "link", "set", inner, "up")
            _run("ip", "-n", relay, "link", "set", outer, "up")
            _run("ip", "-n", ns, "route", "add", "default", "via", gateway)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the namespaces (their links and every socket in them go too)."""
        for ns in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def prefix(self, side: str) -> list[str]:
        """The command prefix running a program in ``side``'s namespace."""
        return ["ip", "netns", "exec", self.namespaces[side]]

    def wrapper(self, side: str, program: str, folder: Path) -> Path:
        """An executable running ``program`` in ``side``'s namespace (for Playwright)."""
        script = folder / f"{side}-{Path(program).name}"
        script.write_text(f'#!/bin/sh\nexec {" ".join(self.prefix(side))} {program} "$@"\n',
                          encoding="utf-8")
        script.chmod(0o755)
        return script

    def run(self, side: str, *command: str, timeout: float = 30
            ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` to completion in ``side``'s namespace."""
        return subprocess.run([*self.prefix(side), *command], capture_output=True, text=True,
                              check=False, timeout=timeout)

    def only_tls_out(self, tls_port: int, signaling_port: int) -> None:
        """Station and doctor may only open TCP to the relay's TLS port and the
        signaling port (no UDP at all, no plain TURN)."""
        for side in ("station", "doctor"):
            script = (f"table inet {_TABLE} {{\n chain out {{\n"
                      "  type filter hook output priority 0; policy drop;\n"
                      '  oifname "lo" accept\n'
                      f"  ip daddr {self.service_ip} tcp dport {{ {tls_port}, {signaling_port} }}"
                      " accept\n }\n}\n")
            _run("ip", "netns", "exec", self.namespaces[side], "nft", "-f", "-", stdin=script)

    def open_out(self) -> None:
        """Undo :meth:`only_tls_out`."""
        for side in ("station", "doctor"):
            subprocess.run([*self.prefix(side), "nft", "delete", "table", "inet", _TABLE],
                           capture_output=True, check=False)
