"""Matching detections with the truth of a stream (FRR, FA/h, per keyword, per part) and
comparing two runs (detections, frame argmax). The rule: :mod:`firmware_export.evaluate`, step 4.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from firmware_export.firmware.recognizer import Detection, default_ignore_labels
from firmware_export.evaluate.runners import ScoreRun, StreamError
from ghost_keras.data.long_stream import TruthItem, read_truth

#: Default time tolerance after a keyword's end (see :func:`match`).
DEFAULT_TOLERANCE_MS = 1000

MATCH_RULE = (
    "a detection hits a truth keyword of its label when its time lies in [start, end + "
    "tolerance]; each truth keyword takes at most one detection and each detection one truth "
    "keyword (hits first, in time order, earliest keyword first; then a detection left takes "
    "the earliest keyword still without a detection as a wrong label); every other detection "
    "is a false accept; unknown words and silence are not targets"
)


def truth_items(truth: str | os.PathLike | Sequence[TruthItem],
                labels: Sequence[str] | None = None,
                duration_s: float | None = None) -> list[TruthItem]:
    """The truth as items, its labels checked against ``labels`` and, when ``duration_s``
    (the audio's length) is given, every item's start against it: an item that starts after
    the audio ends could only ever count as a miss, so it means the truth is another WAV's."""
    if isinstance(truth, (str, os.PathLike)):
        items = read_truth(truth, labels)
    else:
        items = list(truth)
        if labels is not None:
            bad = sorted({t.label for t in items} - set(labels))
            if bad:
                raise StreamError(f"truth labels {bad} are not among the model's labels "
                                  f"{list(labels)}")
    late = [(n, t) for n, t in enumerate(items, 1) if duration_s is not None
            and t.start >= duration_s]
    if late:
        n, first = late[0]
        source = f"{truth}: " if isinstance(truth, (str, os.PathLike)) else ""
        raise StreamError(
            f"{source}{len(late)} truth item(s) start after the audio ends ({duration_s:.2f} s), "
            f"the first is item {n} ({first.label!r} at {first.start:.2f} s): the truth is not "
            "this WAV's; pass the truth file written with it")
    return items


def _rate(num: int, den: int | float) -> float | None:
    return None if not den else num / den


def match(detections: Sequence[Detection], truth: str | os.PathLike | Sequence[TruthItem], *,
          tolerance_ms: int = DEFAULT_TOLERANCE_MS, duration_s: float | None = None,
          parts: int = 2, ignore_labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Scores detections against the ground truth (rule: :mod:`firmware_export.evaluate`, step 4).

    Args:
        detections: from :func:`detect` (any order; labels in ``ignore_labels`` are dropped).
        truth: items or a truth CSV.
        tolerance_ms: a detection may come this long after the keyword's end.
        duration_s: stream length for FA/h (default: the last truth end + tolerance, or the
            last detection); a truth item starting after it is an error (see
            :func:`truth_items`).
        parts: split the stream into this many equal parts by position for ``by_part``.
        ignore_labels: labels that are not targets (default: silence and unknown).

    Returns:
        A JSON-able dict: ``targets, hits, misses, wrong_label, frr, miss_rate, detections,
        false_accepts, fa_per_hour, false_accepts_on {keyword, unknown, silence, gap}, hours,
        latency_ms {median, max} (detection time - keyword end, hits), per_keyword, by_part,
        events`` (every detection with its outcome) and ``rule``.
    """
    items = truth_items(truth, duration_s=duration_s)
    all_labels = sorted({t.label for t in items} | {d.label for d in detections})
    ignore = set(default_ignore_labels(all_labels) if ignore_labels is None else ignore_labels)
    tol = int(tolerance_ms)
    targets = [i for i, t in enumerate(items) if t.label not in ignore]
    is_target = [t.label not in ignore for t in items]
    is_silence = [t.label in ignore and t.label.strip("_").lower() == "silence" for t in items]
    # Where a detection may fall for each item: [start, end + tolerance]; a silence item is
    # only its own span (it is never matched, only used to say where a false accept fell).
    win = [(t.start * 1000.0, t.end * 1000.0 + (0 if is_silence[i] else tol))
           for i, t in enumerate(items)]
    order = sorted(range(len(items)), key=lambda i: (items[i].start, i))
    starts = [win[i][0] for i in order]
    longest = max((win[i][1] - win[i][0] for i in order), default=0.0)

    def containing(t: float) -> list[int]:
        """Items whose window holds ``t``, earliest start first."""
        found = []
        j = bisect.bisect_right(starts, t) - 1
        while j >= 0 and starts[j] >= t - longest:
            if win[order[j]][1] >= t:
                found.append(order[j])
            j -= 1
        return found[::-1]

    dets = sorted((d for d in detections if d.label not in ignore), key=lambda d: d.time_ms)
    outcome: list[str | None] = [None] * len(dets)
    took: list[int | None] = [None] * len(dets)
    target_state: dict[int, str] = {}
    for n, d in enumerate(dets):  # hits
        for i in containing(d.time_ms):
            if is_target[i] and i not in target_state and items[i].label == d.label:
                target_state[i], outcome[n], took[n] = "hit", "hit", i
                break
    for n, d in enumerate(dets):  # wrong labels
        if outcome[n] is None:
            for i in containing(d.time_ms):
                if is_target[i] and i not in target_state:
                    target_state[i], outcome[n], took[n] = "wrong", "wrong_label", i
                    break
    for n, d in enumerate(dets):  # false accepts, by where they fell
        if outcome[n] is None:
            where = "gap"
            for i in containing(d.time_ms):
                where = "keyword" if is_target[i] else "silence" if is_silence[i] else "unknown"
                took[n] = None if is_silence[i] else i
                break
            outcome[n] = f"false_accept_{where}"

    if duration_s is None:
        ends = [it.end + tol / 1000.0 for it in items] + [d.time_ms / 1000.0 for d in dets]
        duration_s = max(ends) if ends else 0.0
    duration_s = float(duration_s)

    def summary(t_idx: list[int], d_idx: list[int], seconds: float) -> dict[str, Any]:
        hits = sum(target_state.get(i) == "hit" for i in t_idx)
        wrong = sum(target_state.get(i) == "wrong" for i in t_idx)
        misses = len(t_idx) - hits - wrong
        fa = [n for n in d_idx if outcome[n].startswith("false_accept")]
        hours = seconds / 3600.0
        return {
            "targets": len(t_idx), "hits": hits, "misses": misses, "wrong_label": wrong,
            "frr": _rate(misses + wrong, len(t_idx)), "miss_rate": _rate(misses, len(t_idx)),
            "detections": len(d_idx), "false_accepts": len(fa),
            "fa_per_hour": _rate(len(fa), hours), "hours": hours,
            "false_accepts_on": {w: sum(outcome[n] == f"false_accept_{w}" for n in fa)
                                 for w in ("keyword", "unknown", "silence", "gap")},
        }

    result = summary(targets, list(range(len(dets))), duration_s)
    latencies = [dets[n].time_ms - items[took[n]].end * 1000.0
                 for n in range(len(dets)) if outcome[n] == "hit"]
    result["latency_ms"] = ({"median": float(np.median(latencies)), "max": float(max(latencies))}
                            if latencies else None)
    per_keyword = {}
    for label in sorted({items[i].label for i in targets} | {d.label for d in dets}):
        t_idx = [i for i in targets if items[i].label == label]
        d_idx = [n for n, d in enumerate(dets) if d.label == label]
        row = summary(t_idx, d_idx, duration_s)
        per_keyword[label] = {k: row[k] for k in ("targets", "hits", "misses", "wrong_label",
                                                  "frr", "detections", "false_accepts")}
    result["per_keyword"] = per_keyword
    by_part = []
    parts = max(1, int(parts))
    for p in range(parts):
        lo, hi = duration_s * p / parts, duration_s * (p + 1) / parts
        last = p == parts - 1
        t_idx = [i for i in targets if lo <= items[i].start < hi or (last and items[i].start >= hi)]
        d_idx = [n for n, d in enumerate(dets)
                 if lo <= d.time_ms / 1000.0 < hi or (last and d.time_ms / 1000.0 >= hi)]
        row = summary(t_idx, d_idx, hi - lo)
        row.update(start_s=lo, end_s=hi)
        by_part.append(row)
    result["by_part"] = by_part
    result["events"] = [{"time_ms": d.time_ms, "label": d.label, "score": d.score,
                         "outcome": outcome[n], "truth_index": took[n],
                         "truth_label": items[took[n]].label if took[n] is not None else None}
                        for n, d in enumerate(dets)]
    result["tolerance_ms"] = tol
    result["duration_s"] = duration_s
    result["rule"] = MATCH_RULE
    return result


def compare_detections(a: Sequence[Detection], b: Sequence[Detection],
                       within_ms: int = 500) -> dict[str, Any]:
    """How alike two detection lists are: pairs of the same label within ``within_ms``
    (greedy in time order, one to one); ``agreement = both / (both + only_a + only_b)``."""
    used = set()
    both = 0
    for d in sorted(a, key=lambda d: d.time_ms):
        best = None
        for j, e in enumerate(b):
            if j in used or e.label != d.label or abs(e.time_ms - d.time_ms) > within_ms:
                continue
            if best is None or abs(e.time_ms - d.time_ms) < abs(b[best].time_ms - d.time_ms):
                best = j
        if best is not None:
            used.add(best)
            both += 1
    only_a, only_b = len(a) - both, len(b) - both
    total = both + only_a + only_b
    return {"both": both, "only_a": only_a, "only_b": only_b, "within_ms": within_ms,
            "agreement": both / total if total else 1.0}


def argmax_agreement(a: ScoreRun, b: ScoreRun) -> dict[str, Any]:
    """Share of common timestamps where both runs have the same top label."""
    common, ia, ib = np.intersect1d(a.times_ms, b.times_ms, return_indices=True)
    if not len(common):
        return {"frames": 0, "agreement": None}
    same = np.argmax(a.scores[ia], axis=1) == np.argmax(b.scores[ib], axis=1)
    return {"frames": int(len(common)), "agreement": float(same.mean())}
