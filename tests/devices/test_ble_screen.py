"""The BLE notification screen on its own: counts in, flags and released values out (no radio).

Times are given, not measured: these are the rules, the flood over the real
virtual link is tests/faults/test_ble_flood.py.
"""

from __future__ import annotations

import pytest

from devices.ble.screen import SETTLE_S, NotificationScreen


def test_a_clean_device_gets_every_value_after_the_settle_time() -> None:
    screen: NotificationScreen[int] = NotificationScreen()
    for second in range(5):
        assert screen.note(False, float(second)) is None
        screen.hold(second, float(second))
        assert screen.due(second + SETTLE_S / 2) == []
        assert screen.next_due == pytest.approx(second + SETTLE_S)
        assert screen.due(second + SETTLE_S) == [second]
    assert screen.withheld == 0 and not screen.flagged


def test_a_device_whose_every_value_is_bad_but_slow_is_never_flagged() -> None:
    """One to a few readings a second, all malformed or impossible: glitches, not a flood."""
    screen: NotificationScreen[int] = NotificationScreen()
    released = []
    for tick in range(40):
        released += screen.due(tick * 0.25)
        assert screen.note(True, tick * 0.25) is None
        screen.hold(tick, tick * 0.25)  # an impossible value is kept and flagged, not dropped
    assert released + screen.flush() == list(range(40))
    assert not screen.flagged and screen.garbage == 40


def test_a_fast_simulator_with_one_value_in_three_garbled_is_not_a_flood() -> None:
    screen: NotificationScreen[int] = NotificationScreen()
    released = []
    for n in range(2000):  # every 4 ms for 8 s, as the test simulators send
        now = n * 0.004
        garbled = n % 3 == 2
        assert screen.note(garbled, now) is None
        if not garbled:
            screen.hold(n, now)
        released += screen.due(now)
    released += screen.flush()
    assert released == [n for n in range(2000) if n % 3 != 2]
    assert screen.withheld == 0


def test_a_flood_is_flagged_once_and_the_values_just_before_it_are_withheld() -> None:
    screen: NotificationScreen[str] = NotificationScreen()
    screen.note(False, 10.0)
    screen.hold("reading before the flood", 10.0)
    screen.note(False, 10.001)
    screen.hold("first value of the flood", 10.001)  # well-formed: cannot be told yet
    changes = []
    for n in range(200):  # 200 garbage notifications within 20 ms
        changes.append(screen.note(True, 10.002 + n * 0.0001))
        if n % 2:
            screen.hold(f"garbage {n}", 10.002 + n * 0.0001)
    assert changes.count("flagged") == 1 and changes[63] == "flagged"  # the 64-burst
    assert screen.due(11.0) == [] and screen.flush() == []
    # What was held when the flood was flagged, and all that came after, is withheld.
    assert screen.withheld == 2 + 100
    assert screen.flagged


def test_a_value_followed_by_mostly_garbage_is_withheld_even_before_the_flag() -> None:
    screen: NotificationScreen[str] = NotificationScreen()
    screen.note(False, 0.0)
    screen.hold("lead", 0.0)
    for n in range(10):  # 10 bad of 10: under the 64 burst, within the window
        screen.note(True, 0.001 * (n + 1))
    assert not screen.flagged
    assert screen.due(SETTLE_S) == []
    assert screen.withheld == 1


def test_the_flag_is_cleared_after_a_clean_stretch_and_values_flow_again() -> None:
    screen: NotificationScreen[str] = NotificationScreen()
    for n in range(64):
        screen.note(True, n * 0.001)
    assert screen.flagged
    changes = []
    for second in range(1, 8):  # readings once a second: clean windows
        changes.append(screen.note(False, float(second)))
        screen.hold(f"reading {second}", float(second))
    assert changes.count("cleared") == 1 and not screen.flagged
    cleared_at = changes.index("cleared") + 1  # that reading is the first held again
    assert screen.flush() == [f"reading {s}" for s in range(cleared_at, 8)]


def test_settle_zero_releases_at_once_and_negative_is_refused() -> None:
    screen: NotificationScreen[int] = NotificationScreen(settle=0)
    screen.note(False, 1.0)
    screen.hold(7, 1.0)
    assert screen.due(1.0) == [7]
    with pytest.raises(ValueError, match="settle must not be negative"):
        NotificationScreen(settle=-0.1)
