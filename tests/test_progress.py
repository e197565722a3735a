"""The progress line of the long non-Keras steps: levels, ETA, one line per stage (no TTY
needed: the stream says whether it is a terminal)."""

from __future__ import annotations

import io

from ghost_keras.progress import Progress


class _Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(terminal: bool, verbose: int) -> str:
    stream, clock = _Stream(terminal), _Clock()
    with Progress("TFLM verification", 400, unit="clips", verbose=verbose, stream=stream,
                  clock=clock) as bar:
        for n in range(400):
            clock.now = 0.25 * (n + 1)
            bar.advance()
    return stream.getvalue()


def test_levels_decide_where_the_line_goes():
    assert _run(terminal=True, verbose=0) == ""
    assert _run(terminal=False, verbose=1) == ""  # a log or a pipe: only when asked (2)
    assert _run(terminal=False, verbose=2) == "TFLM verification: 400/400 clips in 1:40\n"
    live = _run(terminal=True, verbose=1)
    assert live.count("\n") == 1 and live.endswith("TFLM verification: 400/400 clips in "
                                                   "1:40\x1b[K\n")
    assert "\rTFLM verification: 100/400 clips 25%, 0:25 elapsed, ETA 1:15\x1b[K" in live


def test_total_from_the_callback_and_silent_when_nothing_happened():
    stream = _Stream(terminal=False)
    with Progress("speech synthesis", unit="clips", verbose=2, stream=stream) as bar:
        pass  # a cached dataset: nothing made
    assert stream.getvalue() == ""
    clock = _Clock()
    bar = Progress("speech synthesis", unit="clips", verbose=2, stream=stream, clock=clock)
    bar.update(30, 120)
    assert bar.line() == "speech synthesis: 30/120 clips 25%, 0:00 elapsed, ETA 0:00"
    clock.now = 3725.0
    assert bar.line().endswith("1:02:05 elapsed, ETA 3:06:15")
    bar.update(120, 120)
    bar.close()
    bar.close()  # once only
    assert stream.getvalue() == "speech synthesis: 120/120 clips in 1:02:05\n"
