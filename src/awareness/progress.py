"""How long work says how far it has got, for whoever shows it (the command line's progress
bars): a stage begins with the number of steps it expects, then each step is counted."""

from __future__ import annotations

from typing import Protocol


class Steps(Protocol):
    def begin(self, stage: str, total: int) -> None:
        """A stage of ``total`` steps starts (a new bar)."""

    def step(self, count: int = 1) -> None:
        """``count`` steps of the current stage are done."""


class Unwatched:
    """Steps that nobody watches: the scheduler's and the web app's work."""

    def begin(self, stage: str, total: int) -> None:
        pass

    def step(self, count: int = 1) -> None:
        pass


UNWATCHED: Steps = Unwatched()
