"""The mutation engine shared by the fuzz tests and ``bench/fuzz.py``.

Seeded and structure-aware: inputs are valid fixtures (bytes, or JSON
messages) with a few mutations each, so most of them get past the first
checks and reach the deeper ones, plus a share of plain garbage. No coverage
feedback here (``bench/fuzz.py --engine atheris`` adds it for long runs);
what makes the loop worth running 100,000 times in the suite is that it is
cheap, deterministic, and reaches every branch a fixture reaches.

A :class:`Tally` counts inputs and their outcomes (an outcome is a short
label: ``"400 signaling.bad_request"``, ``"DecodeError"``...) and keeps the
first few unexpected exceptions with the input that raised them.
"""

from __future__ import annotations

import json
import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Values that break naive type assumptions: wrong types, edges of numbers,
# strings JSON allows but UTF-8 and SQLite do not (a lone surrogate).
_WEIRD_SCALARS: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**31, 2**53 + 1, -(2**63), 10**300, 0.5, -0.0, 1e308,
    "", " ", "0", "-1", "1e9", "true", "null", "é", "\u0000", "\ud800", "\udfff\ud800",
    "\u202e\u200b", "🩺" * 3, "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
    "%00", "\r\n\r\n", "a" * 300,
)
# Raw JSON text no ``json.dumps`` of a Python value gives: literals Python's
# parser accepts (NaN, Infinity), numbers past float range or the
# int-from-string digit limit, and nesting deeper than the recursion limit.
_RAW_VALUES: tuple[str, ...] = (
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 5000, "0." + "0" * 400 + "1",
    "1E-400", "[" * 5000 + "]" * 5000, "{\"a\":" * 2000 + "1" + "}" * 2000, "[" * 999 + "]" * 999,
    "\"\\ud800\"", "\"\\u0000\"", "[]", "{}",
)


@dataclass
class Tally:
    """Inputs run, outcomes seen, and the unexpected exceptions (first few kept in full)."""

    name: str
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: int = 0
    examples: list[str] = field(default_factory=list)

    def outcome(self, label: str) -> None:
        """Count one input that ended in ``label`` (an expected, typed outcome)."""
        self.inputs += 1
        self.outcomes[label] += 1

    def crash(self, data: object, error: BaseException | str, *, new_input: bool = True) -> None:
        """Count one input that ended in something the contract does not allow."""
        self.inputs += new_input
        self.unexpected += 1
        label = error if isinstance(error, str) else type(error).__name__
        self.outcomes[f"UNEXPECTED {label}"] += 1
        if len(self.examples) < 5:
            detail = error if isinstance(error, str) else "".join(
                traceback.format_exception(error, limit=-4))
            self.examples.append(f"input {_short(data)}\n{detail}")

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts to this tally."""
        self.inputs += other.inputs
        self.outcomes.update(other.outcomes)
        self.unexpected += other.unexpected
        self.examples += other.examples[:max(0, 5 - len(self.examples))]

    def report(self) -> str:
        """The unexpected exceptions, for an assertion message."""
        return f"{self.name}: {self.unexpected} unexpected\n" + "\n".join(self.examples)


def _short(data: object) -> str:
    text = repr(data)
    return text if len(text) <= 300 else f"{text[:300]}… ({len(text)} chars)"


# --- bytes ---------------------------------------------------------------------------------

def mutate_bytes(rng: random.Random, data: bytes, seeds: Sequence[bytes] = ()) -> bytes:
    """``data`` with 1-4 mutations: bit flips, truncation, insertion, deletion, splice."""
    out = bytearray(data)
    for _ in range(1 + rng.getrandbits(2)):
        r = rng.getrandbits(32)
        size = len(out)
        where = (r >> 4) % (size + 1)
        op = r & 7
        if op <= 1 and size:  # bit flip
            out[where % size] ^= 1 << (r >> 29)
        elif op == 2:  # truncation
            del out[where:]
        elif op == 3:  # insertion of a byte or a short burst
            out[where:where] = rng.randbytes(1 + (r >> 28))
        elif op == 4 and size:  # deletion of a run
            del out[where:where + 1 + (r >> 28)]
        elif op == 5 and seeds:  # splice: our head, another fixture's tail
            other = seeds[(r >> 8) % len(seeds)]
            out = out[:where] + other[(r >> 20) % (len(other) + 1):]
        elif op == 6 and size:  # duplicate a slice (repeated fields, doubled frames)
            end = min(size, where + 1 + (r >> 26))
            out[where:where] = out[where:end]
        elif size:  # interesting byte
            out[where % size] = rng.choice((0x00, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x7B, 0x7D))
    return bytes(out)


def byte_inputs(rng: random.Random, seeds: Sequence[bytes], count: int,
                max_len: int) -> Iterator[bytes]:
    """``count`` inputs: a quarter random bytes, the rest mutated seeds."""
    for _ in range(count):
        if rng.getrandbits(2) == 0:
            yield rng.randbytes(rng.randrange(max_len + 1))
        else:
            yield mutate_bytes(rng, seeds[rng.randrange(len(seeds))], seeds)


# --- JSON ----------------------------------------------------------------------------------

def weird_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON-able value of a surprising type or size."""
    pick = rng.getrandbits(4)
    if pick < 9 or depth > 3:
        return rng.choice(_WEIRD_SCALARS)
    if pick < 11:
        return [weird_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick < 13:
        return {rng.choice(("type", "sdp", "x", "", "é")): weird_value(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    if pick < 14:
        return rng.uniform(-1e9, 1e9)
    return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))


def _raw(value: Any, ascii_only: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def mutate_message(rng: random.Random, message: dict[str, Any], *,
                   oversize: int = 70_000) -> bytes:
    """A JSON text derived from ``message`` by 1-3 structural mutations.

    Fields are deleted, retyped, added, inflated past ``oversize`` bytes,
    replaced by raw text (NaN, 1e999, 5000-digit numbers, deep nesting), or
    the whole message is replaced by a non-object; a quarter of the texts
    then get byte mutations too (bit flips, truncations, splices).
    """
    data: dict[str, Any] = dict(message)
    raw_fields: dict[str, str] = {}
    for _ in range(1 + rng.getrandbits(1) + rng.getrandbits(1)):
        keys = list(data)
        op = rng.randrange(10)
        if op == 0 and keys:  # delete
            del data[rng.choice(keys)]
        elif op in (1, 2) and keys:  # retype
            data[rng.choice(keys)] = weird_value(rng)
        elif op == 3:  # an unknown field
            data[rng.choice(("extra", "type", "__proto__", "constructor", "é", ""))] = \
                weird_value(rng)
        elif op == 4 and keys:  # oversized string
            data[rng.choice(keys)] = "x" * rng.randrange(oversize // 2, oversize * 2)
        elif op in (5, 6) and keys:  # raw text no Python value gives
            raw_fields[rng.choice(keys)] = rng.choice(_RAW_VALUES)
        elif op == 7:  # not an object at all
            return _raw(weird_value(rng)).encode()
        elif op == 8 and keys:  # unicode in a string field
            key = rng.choice(keys)
            data[key] = f"{data[key]}{rng.choice(_WEIRD_SCALARS[19:])}"
        elif keys:  # a valid-looking type at the wrong place: another message's type
            data["type"] = rng.choice(("offer", "answer", "bye", "error", "doctor-joined",
                                       "peer-joined", "ticket", "heartbeat", "report-draft",
                                       "report-validate", "audio-only", "switch-exam", "end",
                                       "snapshot-begin", "snapshot-end", "OFFER", "offer "))
    text = _dump(data, raw_fields, ascii_only=bool(rng.getrandbits(1)))
    if rng.getrandbits(2) == 0:
        return mutate_bytes(rng, text.encode("utf-8", "surrogatepass"))
    return text.encode("utf-8", "surrogatepass")


def _dump(data: dict[str, Any], raw_fields: dict[str, str], *, ascii_only: bool) -> str:
    """``data`` as JSON with some fields' text given raw; without ``ascii_only`` a lone
    surrogate comes out as (invalid) UTF-8 bytes rather than an escape."""
    parts = []
    for key, value in data.items():
        body = raw_fields.get(key)
        parts.append(f"{json.dumps(key)}:{body if body is not None else _raw(value, ascii_only)}")
    return "{" + ",".join(parts) + "}"


def json_inputs(rng: random.Random, seeds: Sequence[dict[str, Any]], count: int, *,
                oversize: int = 70_000, valid_share: int = 16) -> Iterator[bytes]:
    """``count`` JSON texts: 1 in ``valid_share`` a seed as is, 1 in 16 random bytes,
    the rest mutated seeds (see :func:`mutate_message`)."""
    encoded = [json.dumps(seed).encode() for seed in seeds]
    for _ in range(count):
        r = rng.randrange(max(valid_share, 17))
        seed = rng.randrange(len(seeds))
        if r == 0:
            yield encoded[seed]
        elif r == 1:
            yield rng.randbytes(rng.randrange(200))
        else:
            yield mutate_message(rng, seeds[seed], oversize=oversize)


def as_text(data: bytes) -> str:
    """What a WebSocket or data channel hands over: text frames are valid UTF-8."""
    return data.decode("utf-8", "replace")


def run_target(name: str, body: Callable[[Tally], None]) -> Tally:
    """Run ``body`` with a fresh tally; an exception escaping the loop itself counts too."""
    tally = Tally(name)
    try:
        body(tally)
    except Exception as error:  # the harness must report, never hide, a crash
        tally.crash("(loop)", error)
    return tally
