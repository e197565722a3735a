"""Progress of the long steps Keras does not report (speech synthesis, TFLM verification,
stream evaluation): one line per stage on stderr, ``done/total``, elapsed time and ETA.

``verbose`` has the same three levels everywhere: 0 nothing, 1 only when stderr is a terminal
(the default of the commands), 2 always (a log gets each finished stage's line). On a terminal
the line is redrawn in place, so each stage still ends as one line.

Example:

>>> from ghost_keras.progress import Progress
>>> with Progress("TFLM verification", 400, unit="clips", verbose=0) as bar:
...     for clip in range(400):
...         bar.advance()
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds between two redraws on a terminal: often enough to look live, seldom enough to
#: cost nothing next to a TFLM invoke loop.
REDRAW_S = 0.2


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"


class Progress:
    """One stage's progress line (see the module docstring for ``verbose``).

    Args:
        label: the stage, e.g. ``"TFLM verification"``.
        total: steps in the stage (0: unknown until :meth:`update` gives it).
        unit: what a step is (``"clips"``, ``"frames"``).
        verbose: 0, 1 or 2.
        stream: where the line goes (default: ``sys.stderr`` at the time of the call).
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, label: str, total: int = 0, *, unit: str = "", verbose: int = 1,
                 stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit = label, int(total), unit
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = verbose >= 2 or (verbose == 1 and self.live)
        self.done = 0
        self._clock = clock
        self._start = clock()
        self._drawn = -REDRAW_S
        self._closed = False

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` steps so far (and the total, when only the caller knows it): the
        ``progress(done, total)`` callback of
        :func:`ghost_keras.data.synthetic.generate_dataset`."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        now = self._clock()
        if self.enabled and self.live and now - self._drawn >= REDRAW_S:
            self._drawn = now
            self.stream.write(f"\r{self.line(now)}\x1b[K")
            self.stream.flush()

    def advance(self, steps: int = 1) -> None:
        self.update(self.done + steps)

    def line(self, now: float | None = None) -> str:
        """The text of the line: ``label: done/total unit pct, elapsed, ETA`` (``in`` when
        finished)."""
        elapsed = (self._clock() if now is None else now) - self._start
        unit = f" {self.unit}" if self.unit else ""
        if self.total and self.done >= self.total:
            return f"{self.label}: {self.done:,}/{self.total:,}{unit} in {_clock(elapsed)}"
        if not self.total:
            return f"{self.label}: {self.done:,}{unit}, {_clock(elapsed)}"
        eta = elapsed * (self.total - self.done) / self.done if self.done else None
        return (f"{self.label}: {self.done:,}/{self.total:,}{unit} "
                f"{100 * self.done / self.total:.0f}%, {_clock(elapsed)} elapsed, ETA "
                f"{'-' if eta is None else _clock(eta)}")

    def close(self) -> None:
        """Ends the stage's line (written once; off a terminal this is the only write). A
        stage that reported nothing (e.g. a cached dataset, not made again) writes nothing."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and (self.done or self.total):
            self.stream.write(("\r" if self.live else "") + self.line()
                              + ("\x1b[K\n" if self.live else "\n"))
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        # An interrupted stage still ends its line, so the error starts on a line of its own.
        self.close()
