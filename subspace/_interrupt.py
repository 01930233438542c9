"""Ctrl-C during a measurement: deferred to the next safe point, so finished work is kept.

Inside :func:`deferred`, the first SIGINT only records the request; the training loop
looks at :func:`requested` after every chunk of steps (a chunk takes seconds), saves the
group's state there and raises :class:`Interrupted` with what was kept and how to go on.
A second SIGINT raises ``KeyboardInterrupt`` at once (the chunk in flight is then lost).
Nested uses share one request; outside the main thread (where Python delivers signals)
nothing is deferred and Ctrl-C behaves as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Interrupted", "deferred", "requested"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a measurement at a safe point; the message says what was kept."""


_state = {"depth": 0, "requested": False}


def requested() -> bool:
    """Whether Ctrl-C was pressed since the outermost :func:`deferred` began."""
    return _state["requested"]


def _handler(signum, frame) -> None:
    del signum, frame
    if _state["requested"]:  # the second Ctrl-C: stop now
        raise KeyboardInterrupt
    _state["requested"] = True


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Defers SIGINT to :func:`requested` for the duration (main thread only)."""
    main = threading.current_thread() is threading.main_thread()
    outermost = _state["depth"] == 0
    previous = None
    if main and outermost:
        previous = signal.signal(signal.SIGINT, _handler)
        _state["requested"] = False
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if main and outermost:
            signal.signal(signal.SIGINT, previous)
            _state["requested"] = False
