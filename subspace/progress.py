"""Progress of a measurement: a small callback interface, tqdm by default.

:func:`subspace.measure` reports through a :class:`Progress`: ``start`` when a set of
members (a projection's grid, or the baseline) begins, ``update`` with member-steps done,
``message`` with a line for the reader (groups, memory, a finished group), ``close`` at the
end of the set. Subclass it to log elsewhere; :class:`Silent` drops everything.
"""

from __future__ import annotations

import sys

__all__ = ["Progress", "Silent", "TqdmProgress", "make_progress"]


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
    """``True``: a tqdm bar (printed messages only, if tqdm is not installed); ``False``:
    silent; a :class:`Progress`: itself."""
    if isinstance(progress, Progress):
        return progress
    if progress is True:
        try:
            import tqdm  # noqa: F401 -- an optional dependency (the experiments extra)
        except ImportError:
            return Progress()
        return TqdmProgress()
    if progress is False:
        return Silent()
    raise TypeError(
        f"progress must be True (a tqdm bar), False (silent) or a subspace.Progress; "
        f"got {progress!r}"
    )
