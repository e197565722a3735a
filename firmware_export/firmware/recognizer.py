"""Streaming command recognizer: the Python reference of TFLM micro_speech's RecognizeCommands.

The algorithm is that of ``tensorflow/lite/micro/examples/micro_speech/recognize_commands.cc``
(before the 2023 rewrite of the example), computed in integers so that this reference and the
C++ port in ``templates/recognize_commands.{h,cc}`` agree bit for bit:

1. Each result is one score vector from the model (int8 scores are shifted by +128 to 0..255,
   uint8 scores taken as they are) with a timestamp in milliseconds; timestamps must not
   decrease.
2. Results older than ``average_window_ms`` (``time < now - average_window_ms``) are dropped.
3. With fewer than ``minimum_count`` results, or when the oldest kept result is less than
   ``average_window_ms / 4`` old, nothing is decided.
4. Otherwise each label's scores are summed and integer-divided by the number of results; the
   top label is the first one with the largest average (ties go to the lower index; an average
   must be > 0 to replace label 0).
5. It is a new command when the top average is ``> detection_threshold`` and either the top
   label differs from the previous command or more than ``suppression_ms`` passed since it.
   Then it becomes the previous command.

Additions to TFLM, and why:

* ``ignore_labels`` (silence, unknown): their "commands" update the state as in TFLM but are not
  reported as detections, as micro_speech's command responder ignores them. The top label is
  taken over *all* labels, as in TFLM: a strong silence/unknown average thus blocks a weak
  keyword instead of letting it through.
* TFLM disables suppression after "silence" (label 0) won; here it is disabled after any ignored
  label won. For the detections reported the two are the same: an ignored label repeating is
  never reported either way.
* ``capacity`` bounds the results kept (the C++ ring buffer has no heap). TFLM drops the *new*
  result when its fixed queue (50) is full; here the *oldest* is dropped, and
  :func:`recognizer_capacity` sizes the buffer so that never happens in a regular stream.
* Timestamps are non-negative 64-bit milliseconds (TFLM: 32-bit, which wraps after 24.8 days
  of audio).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_MAX_TIME_MS = 2**63 - 1


@dataclass(frozen=True)
class Detection:
    """A reported command: label, the timestamp of the result that triggered it, and its
    averaged score in 0..255 (int8 scores + 128)."""

    label: str
    time_ms: int
    score: int


@dataclass(frozen=True)
class RecognitionResult:
    """What one :meth:`RecognizeCommands.process` call decided (TFLM's out-parameters)."""

    label_index: int
    """Top label of the averaged window (the previous command while deciding is not possible)."""
    score: int
    """Its average score, 0..255 (0 while deciding is not possible)."""
    is_new_command: bool
    """TFLM's ``is_new_command``."""
    reported: bool
    """``is_new_command`` and the label is not ignored: a :class:`Detection`."""


def default_ignore_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Labels that name no command: ``silence``/``unknown`` in any case, with or without
    underscores (``_silence_``, ``_unknown_``, ``Silence``...)."""
    return tuple(
        label for label in labels if re.sub(r"[_\s]", "", label.lower()) in ("silence", "unknown")
    )


def recognizer_capacity(average_window_ms: int, result_period_ms: int) -> int:
    """Results the averaging window can hold when a result arrives every ``result_period_ms``:
    times in ``[now - window, now]`` spaced by the period, i.e. ``window // period + 1``."""
    if average_window_ms <= 0 or result_period_ms <= 0:
        raise ValueError("average_window_ms and result_period_ms must be > 0")
    return average_window_ms // result_period_ms + 1


def probability_to_threshold(probability: float, scale: float, zero_point: int, dtype: str) -> int:
    """The threshold in score units (0..255) for a probability, given the score tensor's
    quantization: ``round(p / scale) + zero_point`` (+128 for int8), clipped to 0..255.

    For TFLite's int8 softmax output (scale 1/256, zero point -128) that is ``round(256 p)``,
    so 0.8 -> 205. A detection needs an average strictly above it.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be in [0, 1]")
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"scores must be int8 or uint8, not {dtype}")
    q = int(round(probability / scale)) + int(zero_point) + (128 if dtype == "int8" else 0)
    return min(max(q, 0), 255)


class RecognizeCommands:
    """Averages score vectors over a time window and decides when a command was heard.

    ``detection_threshold`` is in score units 0..255 (int8 score + 128), like TFLM's default 200.
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        average_window_ms: int = 1000,
        detection_threshold: int = 200,
        suppression_ms: int = 1500,
        minimum_count: int = 3,
        capacity: int = 50,
        ignore_labels: Iterable[str] | None = None,
    ):
        self.labels = tuple(labels)
        if not self.labels:
            raise ValueError("no labels")
        if average_window_ms <= 0:
            raise ValueError("average_window_ms must be > 0")
        if not 0 <= detection_threshold <= 255:
            raise ValueError("detection_threshold is in score units 0..255")
        if suppression_ms < 0 or minimum_count < 1 or capacity < 1:
            raise ValueError("need suppression_ms >= 0, minimum_count >= 1, capacity >= 1")
        ignore = default_ignore_labels(self.labels) if ignore_labels is None else tuple(ignore_labels)
        unknown = [label for label in ignore if label not in self.labels]
        if unknown:
            raise ValueError(f"ignore_labels not among the labels: {unknown}")
        self.ignored = np.array([label in ignore for label in self.labels])
        self.average_window_ms = int(average_window_ms)
        self.detection_threshold = int(detection_threshold)
        self.suppression_ms = int(suppression_ms)
        self.minimum_count = int(minimum_count)
        self.capacity = int(capacity)
        self.reset()

    def reset(self) -> None:
        """Forgets every result and the previous command."""
        self._times: deque[int] = deque()
        self._scores: deque[np.ndarray] = deque()
        # Running per-label sum of the kept results: exact in int64, equal to the C++ sum.
        self._sum = np.zeros(len(self.labels), dtype=np.int64)
        self._previous_index = -1  # no command yet
        self._previous_time = 0
        self._last_time: int | None = None

    def _as_unsigned(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores)
        if scores.size != len(self.labels):
            raise ValueError(f"expected {len(self.labels)} scores, got shape {scores.shape}")
        if scores.dtype == np.int8:
            return scores.reshape(-1).astype(np.int64) + 128
        if scores.dtype == np.uint8:
            return scores.reshape(-1).astype(np.int64)
        raise TypeError(f"scores must be int8 or uint8 (the model's output), not {scores.dtype}")

    def process(self, scores: np.ndarray, time_ms: int) -> RecognitionResult:
        """Adds one score vector at ``time_ms`` and returns the decision."""
        time_ms = int(time_ms)
        if not 0 <= time_ms <= _MAX_TIME_MS:
            raise ValueError("time_ms must be in [0, 2**63 - 1] (milliseconds since start)")
        if self._last_time is not None and time_ms < self._last_time:
            raise ValueError(
                f"results must come in time order: {time_ms} ms after {self._last_time} ms"
            )
        self._last_time = time_ms
        values = self._as_unsigned(scores)

        # Prune before pushing: the same set as TFLM's push-then-prune (the new result is never
        # too old), but the buffer then only needs room for the window.
        time_limit = time_ms - self.average_window_ms
        while self._times and self._times[0] < time_limit:
            self._pop()
        if len(self._times) == self.capacity:
            self._pop()
        self._times.append(time_ms)
        self._scores.append(values)
        self._sum += values

        count = len(self._times)
        if count < self.minimum_count or time_ms - self._times[0] < self.average_window_ms // 4:
            return RecognitionResult(max(self._previous_index, 0), 0, False, False)

        averages = self._sum // count  # non-negative, so // is C's truncating division
        top = 0
        top_score = 0
        for i, avg in enumerate(averages):
            if avg > top_score:
                top, top_score = i, int(avg)

        if self._previous_index < 0 or self.ignored[self._previous_index]:
            suppressed = False
        else:
            suppressed = (
                top == self._previous_index
                and time_ms - self._previous_time <= self.suppression_ms
            )
        is_new = top_score > self.detection_threshold and not suppressed
        if is_new:
            self._previous_index = top
            self._previous_time = time_ms
        return RecognitionResult(top, top_score, is_new, is_new and not self.ignored[top])

    def _pop(self) -> None:
        self._times.popleft()
        self._sum -= self._scores.popleft()

    def detections(self, scores: np.ndarray, times_ms: Sequence[int]) -> list[Detection]:
        """Feeds ``scores`` (``[T, num_labels]``) at ``times_ms`` (``T`` values) and returns
        the reported detections, continuing from the current state."""
        scores = np.asarray(scores)
        if scores.ndim != 2 or len(scores) != len(times_ms):
            raise ValueError("scores must be [T, num_labels] with one time per row")
        found = []
        for row, t in zip(scores, times_ms):
            result = self.process(row, int(t))
            if result.reported:
                found.append(Detection(self.labels[result.label_index], int(t), result.score))
        return found


class StreamAverages:
    """:class:`RecognizeCommands` over a whole stream at once, for sweeping its settings.

    What a stream's decisions depend on splits in two: the averaged window (``average_window_ms``,
    ``minimum_count``, ``capacity``), computed here once with cumulative sums, and the decision
    (``detection_threshold``, ``suppression_ms``), replayed by :meth:`detections` over the few
    results whose top average passes the threshold. A DET curve or an operating-point search
    then costs one averaging per window and a short loop per threshold instead of a full
    recognizer run each. :meth:`detections` equals ``RecognizeCommands(...).detections`` for
    every setting (tested); the class-level reference stays the one the C++ port mirrors.

    Args:
        scores: int8 or uint8 ``[T, labels]``.
        times_ms: ``T`` non-decreasing, non-negative timestamps.
        labels, average_window_ms, minimum_count, capacity, ignore_labels: as
            :class:`RecognizeCommands`.

    Example:
        >>> s = np.zeros((100, 3), np.uint8); s[30:90, 2] = 250
        >>> avg = StreamAverages(s, np.arange(100) * 20, ["_silence_", "_unknown_", "yes"])
        >>> avg.detections(detection_threshold=200, suppression_ms=1500)
        [Detection(label='yes', time_ms=1400, score=205)]
    """

    def __init__(self, scores: np.ndarray, times_ms: Sequence[int], labels: Sequence[str], *,
                 average_window_ms: int = 1000, minimum_count: int = 3, capacity: int = 50,
                 ignore_labels: Iterable[str] | None = None):
        # The reference validates the settings and labels the same way.
        ref = RecognizeCommands(labels, average_window_ms=average_window_ms,
                                minimum_count=minimum_count, capacity=capacity,
                                ignore_labels=ignore_labels)
        self.labels, self.ignored = ref.labels, ref.ignored
        scores = np.asarray(scores)
        times = np.asarray(times_ms, np.int64).reshape(-1)
        if scores.ndim != 2 or scores.shape[1] != len(self.labels) or len(scores) != len(times):
            raise ValueError("scores must be [T, num_labels] with one time per row")
        if scores.dtype == np.int8:
            values = scores.astype(np.int64) + 128
        elif scores.dtype == np.uint8:
            values = scores.astype(np.int64)
        else:
            raise TypeError(f"scores must be int8 or uint8 (the model's output), not {scores.dtype}")
        if len(times) and (times[0] < 0 or np.any(np.diff(times) < 0)):
            raise ValueError("times_ms must be non-negative and non-decreasing")
        self.times = times
        n = len(times)
        index = np.arange(n)
        # The kept results at t: time >= t - window (pruning) and at most `capacity` of them.
        first = np.maximum(np.searchsorted(times, times - int(average_window_ms), side="left"),
                           index - int(capacity) + 1)
        count = index - first + 1
        sums = np.concatenate([np.zeros((1, values.shape[1]), np.int64), np.cumsum(values, 0)])
        averages = (sums[index + 1] - sums[first]) // np.maximum(count, 1)[:, None]
        # argmax: the first label with the largest average (label 0 when all are 0), as TFLM.
        self.top = np.argmax(averages, axis=1) if n else np.zeros(0, np.int64)
        self.top_score = averages[index, self.top] if n else np.zeros(0, np.int64)
        self.deciding = ((count >= int(minimum_count))
                         & (times - times[first] >= int(average_window_ms) // 4)) if n else (
            np.zeros(0, bool))

    def detections(self, detection_threshold: int, suppression_ms: int) -> list[Detection]:
        """The reported detections at this threshold (score units) and suppression."""
        passing = np.flatnonzero(self.deciding & (self.top_score > int(detection_threshold)))
        ignored_top = self.ignored[self.top[passing]]
        # A passing result whose top label is ignored is always a new command (it is never the
        # suppressed previous keyword), and it lifts suppression for the next one: only the
        # keyword results are replayed, each knowing whether an ignored one came since the last.
        ignored_before = np.cumsum(ignored_top)
        found: list[Detection] = []
        previous, previous_time, previous_mark = -1, 0, 0
        for k in np.flatnonzero(~ignored_top):
            t = int(passing[k])
            label, time_ms = int(self.top[t]), int(self.times[t])
            lifted = previous < 0 or ignored_before[k] != previous_mark
            if (not lifted and label == previous
                    and time_ms - previous_time <= int(suppression_ms)):
                continue
            previous, previous_time, previous_mark = label, time_ms, int(ignored_before[k])
            found.append(Detection(self.labels[label], time_ms, int(self.top_score[t])))
        return found
