"""A minimal observable: the core announces, views subscribe; nothing polls."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Observable(Generic[T]):
    """Calls every subscriber with each announced value, in subscription order.

    A subscriber that raises is logged and skipped: one broken view must not
    stop the session or the other views.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[T], None]] = []

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Register ``listener``; returns a function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def announce(self, value: T) -> None:
        """Deliver ``value`` to every current subscriber."""
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception:
                log.exception("session listener %r failed", listener)
