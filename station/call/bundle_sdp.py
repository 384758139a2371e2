"""Giving aiortc the remote ICE candidates of a bundled answer.

A browser that bundles every stream on one transport (the station offers
``max-bundle``) lists its ICE candidates once, in the first m-section of its
answer. aiortc 1.16 takes a bundled transport's remote candidates from the
*last* m-section it reads, which has none: the station's ICE agent then knows
no remote candidate and sends no check of its own. A call still connects when
the doctor's checks reach the station (the station answers them, as
peer-reflexive candidates), but not when the only way is the station's own
TURN relay: its allocation needs the station to send first. Copying the
candidates into every m-section before aiortc reads the answer fixes that.
"""

from __future__ import annotations

_CANDIDATE = "a=candidate:"
_END = "a=end-of-candidates"


def candidates_in_every_section(sdp: str) -> str:
    """``sdp`` with every m-section carrying all the ICE candidates (and the
    end-of-candidates mark) found in any of them; other lines are untouched."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    sections: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    media = sections[1:]
    candidates = list(dict.fromkeys(line for section in media for line in section
                                    if line.startswith(_CANDIDATE)))
    ended = any(line == _END for section in media for line in section)
    if not candidates and not ended:
        return sdp
    out = list(sections[0])
    for section in media:
        kept = [line for line in section if not line.startswith(_CANDIDATE) and line != _END]
        out += kept + candidates + ([_END] if ended else [])
    return newline.join(out) + (newline if trailing else "")
