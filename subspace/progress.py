"""Progress of a measurement: a small callback interface, tqdm by default.

:func:`subspace.measure` reports through a :class:`Progress`: ``start`` when a set of
members (a projection's grid, or the baseline) begins, ``update`` with member-steps done,
``message`` with a line for the reader (groups, memory, a finished group), ``close`` at the
end of the set. Subclass it to log elsewhere; :class:`Silent` drops everything.
"""

from __future__ import annotations

import sys
import time

from subspace._checks import check_float

__all__ = ["Progress", "Silent", "TextProgress", "TqdmProgress", "make_progress"]


class Progress:
    """Prints messages; counts nothing. The base of the other reporters."""

    def start(self, kind: str, total: int) -> None:
        """A set of members of ``kind`` begins: ``total`` member-steps to do."""
        del kind, total

    def update(self, member_steps: int) -> None:
        """``member_steps`` more member-steps are done."""
        del member_steps

    def message(self, text: str) -> None:
        """A line for the reader."""
        print(text, flush=True)

    def close(self) -> None:
        """The set of members is finished (or failed)."""


class Silent(Progress):
    """Reports nothing."""

    def message(self, text: str) -> None:
        del text


class TextProgress(Progress):
    """Plain lines, for where tqdm is not installed: the work done (finished member-steps),
    the time taken and the time left, every ``every`` seconds and at the end of a set."""

    def __init__(self, every: float = 30.0):
        self.every = check_float(every, "every", "TextProgress", positive=False)
        self._kind, self._total, self._done, self._t0, self._said = None, 0, 0, 0.0, 0.0

    def start(self, kind: str, total: int) -> None:
        self._kind, self._total, self._done = kind, total, 0
        self._t0 = self._said = time.monotonic()

    def update(self, member_steps: int) -> None:
        self._done += member_steps
        if time.monotonic() - self._said >= self.every:
            self._line()

    def close(self) -> None:
        if self._kind is not None and self._done:
            self._line()
        self._kind = None

    def _line(self) -> None:
        now = time.monotonic()
        self._said = now
        spent = now - self._t0
        left = spent * (self._total - self._done) / self._done if self._done else float("nan")
        share = 100 * self._done / self._total if self._total else 100.0
        print(
            f"{self._kind}: {self._done:,}/{self._total:,} member-steps ({share:.0f}%), "
            f"{_clock(spent)} taken, about {_clock(left)} left",
            flush=True,
        )


def _clock(seconds: float) -> str:
    if seconds != seconds:  # nan: nothing done yet
        return "?"
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes}m{s:02d}s" if minutes else f"{s}s"


class TqdmProgress(Progress):
    """A tqdm bar per set of members (written every 30 s when stderr is not a terminal)."""

    def __init__(self):
        self._bar = None

    def start(self, kind: str, total: int) -> None:
        from tqdm import tqdm  # only when a bar is shown

        self.close()
        self._bar = tqdm(
            total=total,
            unit="member-step",
            unit_scale=True,
            desc=kind,
            leave=False,
            mininterval=1 if sys.stderr.isatty() else 30,
        )

    def update(self, member_steps: int) -> None:
        if self._bar is not None:
            self._bar.update(member_steps)

    def message(self, text: str) -> None:
        if self._bar is None:
            print(text, flush=True)
        else:
            self._bar.write(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # clears its line, so an error message starts on its own
            self._bar = None


def make_progress(progress: bool | Progress) -> Progress:
    """``True``: a tqdm bar (plain progress lines, :class:`TextProgress`, if tqdm is not
    installed); ``False``: silent; a :class:`Progress`: itself."""
    if isinstance(progress, Progress):
        return progress
    if progress is True:
        try:
            import tqdm  # noqa: F401 -- an optional dependency (the experiments extra)
        except ImportError:
            return TextProgress()
        return TqdmProgress()
    if progress is False:
        return Silent()
    raise TypeError(
        f"progress must be True (a tqdm bar), False (silent) or a subspace.Progress; "
        f"got {progress!r}"
    )
