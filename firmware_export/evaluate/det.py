"""DET curves of a stream: FRR and FA/h over the detection probability (the recognizer rerun
at each), and their plot. See :mod:`firmware_export.evaluate`, step 5.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from firmware_export.firmware.recognizer import Detection, probability_to_threshold
from firmware_export.evaluate.detect import detect
from firmware_export.evaluate.match import DEFAULT_TOLERANCE_MS, match, truth_items
from firmware_export.evaluate.runners import SOFTMAX_SCALE, SOFTMAX_ZERO_POINT
from ghost_keras.data.long_stream import TruthItem

#: Detection probabilities of the DET curve.
DEFAULT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def det_points(scores: np.ndarray, times_ms: Sequence[int], items: list[TruthItem],
                thresholds: Sequence[float], labels: Sequence[str],
                settings: dict[str, Any] | None, tolerance_ms: int, duration_s: float | None,
                period_ms: int | None, score_scale: float, score_zero_point: int,
                parts: int = 1) -> tuple[list[dict[str, Any]], dict[float, list[Detection]]]:
    base = {k: v for k, v in (settings or {}).items()
            if k not in ("detection_probability", "detection_threshold")}
    curve, found = [], {}
    for p in thresholds:
        dets = detect(scores, times_ms, labels, {**base, "detection_probability": float(p)},
                      period_ms=period_ms, score_scale=score_scale,
                      score_zero_point=score_zero_point)
        found[float(p)] = dets
        m = match(dets, items, tolerance_ms=tolerance_ms, duration_s=duration_s, parts=parts)
        point = {"probability": float(p),
                 "threshold": probability_to_threshold(float(p), score_scale,
                                                       score_zero_point, "int8"),
                 **{k: m[k] for k in ("frr", "fa_per_hour", "hits", "misses",
                                      "wrong_label", "false_accepts", "targets")}}
        if parts > 1:  # drift at every threshold, not only at the firmware's
            point["by_part"] = [{k: b[k] for k in ("frr", "fa_per_hour", "targets",
                                                   "false_accepts")} for b in m["by_part"]]
        curve.append(point)
    return curve, found


def det_curve(scores: np.ndarray, times_ms: Sequence[int],
              truth: str | os.PathLike | Sequence[TruthItem], thresholds: Sequence[float] =
              DEFAULT_THRESHOLDS, *, labels: Sequence[str], settings: dict[str, Any] | None = None,
              tolerance_ms: int = DEFAULT_TOLERANCE_MS, duration_s: float | None = None,
              period_ms: int | None = None, score_scale: float = SOFTMAX_SCALE,
              score_zero_point: int = SOFTMAX_ZERO_POINT) -> list[dict[str, Any]]:
    """FRR and FA/h at each detection probability (the recognizer rerun with the rest of
    ``settings`` unchanged). Returns one dict per threshold, in the given order: ``probability,
    threshold`` (score units), ``frr, fa_per_hour, hits, misses, wrong_label, false_accepts,
    targets``."""
    return det_points(scores, times_ms, truth_items(truth), thresholds, labels, settings,
                       tolerance_ms, duration_s, period_ms, score_scale, score_zero_point)[0]


def plot_det(curves: dict[str, list[dict[str, Any]]], path: str | os.PathLike,
             title: str = "", mark_probability: float | None = None) -> Path:
    """FRR vs FA/h, one line per run, each threshold labelled; PNG written atomically."""
    from ghost_keras.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name, curve in curves.items():
        pts = [(c["fa_per_hour"], c["frr"], c["probability"]) for c in curve
               if c["fa_per_hour"] is not None and c["frr"] is not None]
        if not pts:
            continue
        xs, ys, ps = zip(*pts)
        (line,) = ax.plot(xs, ys, "o-", label=name, ms=4)
        for x, y, p in zip(xs, ys, ps):
            if mark_probability is not None and abs(p - mark_probability) < 1e-9:
                ax.plot([x], [y], "s", color=line.get_color(), ms=9, mfc="none")
            ax.annotate(f"{p:g}", (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejection rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or "DET over the detection probability")
    return save_figure(fig, path)
