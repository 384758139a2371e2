"""Guards against the Qt binding's refcount bug that aborted the app during calls.

PySide6 6.12.0 released the value of every signal emission once too often (the
``True`` that ``emit`` returns, the ``None`` a slot returns): ``sys.getrefcount(None)``
fell by thousands a second while a call ran, and the app aborted with
``none_dealloc``/``bool_dealloc`` 20 to 60 s into the call. pyproject.toml keeps
PySide6 below 6.12; this test fails on a binding with the bug, whatever its version.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from ui.app import make_application


class Emitter(QObject):
    carried = Signal(object)
    pair = Signal(str, object)


def test_signal_emission_keeps_the_refcounts_of_none_and_true() -> None:
    make_application()
    emitter = Emitter()
    emitter.carried.connect(lambda _value: None)
    emitter.pair.connect(lambda _name, _value: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(2_000):
        emitter.carried.emit(None)
        emitter.pair.emit("event", {"state": None})
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
