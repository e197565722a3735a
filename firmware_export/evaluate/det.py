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
from firmware_export.evaluate.detect import recognizer_settings, stream_averages
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
    base = recognizer_settings(settings, score_scale, score_zero_point)
    averages = stream_averages(scores, times_ms, labels, base, period_ms)
    curve, found = [], {}
    for p in thresholds:
        threshold = probability_to_threshold(float(p), score_scale, score_zero_point, "int8")
        dets = averages.detections(threshold, base["suppression_ms"])
        found[float(p)] = dets
        m = match(dets, items, tolerance_ms=tolerance_ms, duration_s=duration_s, parts=parts)
        point = {"probability": float(p), "threshold": threshold,
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


#: Line styles of the baseline scorers in the second panel, in order of first appearance.
BASELINE_STYLES = ("-", "--", ":", "-.")


def _points(curve: list[dict[str, Any]]) -> list[tuple[float, float, float | None]]:
    """(FA/h, FRR, probability) of the points that have both figures."""
    return [(c["fa_per_hour"], c["frr"], c.get("probability")) for c in curve
            if c["fa_per_hour"] is not None and c["frr"] is not None]


def _marked(points: list[tuple[float, float, float | None]],
            probability: float | None) -> tuple[float, float] | None:
    """The point at the operating probability, if the curve has one."""
    if probability is None:
        return None
    return next(((x, y) for x, y, p in points
                 if p is not None and abs(p - probability) < 1e-9), None)


def _fa_axis(axes: Sequence[Any], xs: list[float]) -> float | None:
    """A log FA/h axis on every panel, with a "0" column at its left edge when some point
    has none (a log axis cannot draw 0, and a symlog axis stretches 0-1 FA/h over as much
    room as a decade). Returns the x at which 0 FA/h is drawn (None: no such point)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from ghost_keras.plots import log_ticks

    positive = [x for x in xs if x > 0]
    lo = 10.0 ** np.floor(np.log10(min(positive))) if positive else 1.0
    hi = max(positive, default=lo) * 1.6
    zero_x = lo / 4 if any(x <= 0 for x in xs) else None
    decades = [float(10.0 ** k) for k in range(int(np.log10(lo)), int(np.log10(hi)) + 1)]
    minor = [k * d for d in decades for k in range(2, 10) if k * d <= hi]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlim((zero_x or lo) / 1.6, hi)
        ax.xaxis.set_major_locator(FixedLocator(([zero_x] if zero_x else [])
                                                + log_ticks(lo, hi)))
        ax.xaxis.set_minor_locator(FixedLocator(minor))
        ax.xaxis.set_minor_formatter(NullFormatter())  # the log axis would label minor ticks
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "0" if zero_x and abs(v - zero_x) < 1e-12 else f"{v:,g}"))
        if zero_x:  # shade the 0 column so it does not read as a point on the log scale
            ax.axvspan(zero_x / 1.6, lo / 2, color="0.92", zorder=0)
        ax.set_xlabel("false accepts per hour (log scale"
                      + ("; grey column: 0 FA/h)" if zero_x else ")"))
    return zero_x


def det_figure(curves: dict[str, list[dict[str, Any]]], title: str = "",
               mark_probability: float | None = None,
               baselines: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
               deployed_points: dict[str, tuple[float, float]] | None = None) -> Any:
    """The DET figure of :func:`plot_det` (a matplotlib ``Figure``, not yet saved).

    Args: as :func:`plot_det`.
    """
    from ghost_keras.plots import plt

    baselines = {k: v for k, v in (baselines or {}).items() if v}
    fig, axes = plt.subplots(1, 2 if baselines else 1, sharey=True, squeeze=False,
                             figsize=(12, 5.6) if baselines else (6.4, 5.6),
                             layout="constrained")
    axes = list(axes[0])
    every = [c for curve in curves.values() for c in curve] + [
        c for runs in baselines.values() for curve in runs.values() for c in curve]
    deployed_points = deployed_points or {}
    zero_x = _fa_axis(axes, [x for x, _, _ in _points(every)]
                      + [fa for fa, _ in deployed_points.values()])

    def draw(ax: Any, curve: list[dict[str, Any]], **style: Any) -> Any:
        points = _points(curve)
        if not points:
            return None
        xs = [zero_x if x <= 0 else x for x, _, _ in points]
        (line,) = ax.plot(xs, [y for _, y, _ in points], marker="o", ms=3, lw=1.4, **style)
        mark = _marked(points, mark_probability)
        if mark:  # one open marker per curve; its figures go in the legend, not on the axes
            ax.plot([zero_x if mark[0] <= 0 else mark[0]], [mark[1]], "o", ms=10, mew=2,
                    mfc="none", color=line.get_color())
        return line, mark

    colours = {}
    for name, curve in curves.items():
        drawn = draw(axes[0], curve)
        if drawn is None:
            continue
        line, mark = drawn
        colours[name] = line.get_color()
        point = deployed_points.get(name)
        if point:  # the settings the run deploys, measured on this stream: a star
            axes[0].plot([zero_x if point[0] <= 0 else point[0]], [point[1]], "*", ms=14,
                         mec="k", mew=0.6, color=line.get_color())
            line.set_label(f"{name}: deployed FRR {point[1]:.2f} at {_fa(point[0])} FA/h")
        elif mark:
            line.set_label(f"{name}: FRR {mark[1]:.2f} at {_fa(mark[0])} FA/h")
        else:
            line.set_label(name)
    styles: dict[str, str] = {}
    for name, runs in baselines.items():
        for scorer, curve in runs.items():
            style = styles.setdefault(scorer, BASELINE_STYLES[len(styles) % len(BASELINE_STYLES)])
            draw(axes[1], curve, color=colours.get(name, "0.4"), ls=style)
    ring = ([plt.Line2D([], [], color="0.3", marker="o", ms=10, mew=2, mfc="none", ls="none",
                        label=f"operating point (p = {mark_probability:g})")]
            if mark_probability is not None else [])
    star = ([plt.Line2D([], [], color="0.3", marker="*", ms=12, mec="k", mew=0.6, ls="none",
                        label="deployed operating point (its own window and suppression)")]
            if deployed_points else [])
    axes[0].legend(handles=axes[0].get_legend_handles_labels()[0] + ring + star, fontsize=8,
                   loc="upper center", bbox_to_anchor=(0.5, -0.13))
    if baselines:
        axes[0].set_title("deployed scorer (int8 on TFLM)", fontsize=10)
        axes[1].set_title("float baselines (colours as on the left)", fontsize=10)
        axes[1].legend(handles=[plt.Line2D([], [], color="0.3", ls=s, label=scorer)
                                for scorer, s in styles.items()] + ring,
                       fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    axes[0].set_ylabel("false rejection rate")
    # FRR from the tenth at least 0.05 below the lowest point to 1: the curves fill the panel.
    frrs = [y for _, y, _ in _points(every)]
    axes[0].set_ylim(max(0.0, np.floor(10 * min(frrs, default=0.0) - 0.5) / 10), 1.0)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title or "DET over the detection probability")
    return fig


def _fa(value: float) -> str:
    """FA/h for a label: whole from 10 up (a 60-min stream counts them), 2 digits below."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def plot_det(curves: dict[str, list[dict[str, Any]]], path: str | os.PathLike,
             title: str = "", mark_probability: float | None = None,
             baselines: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
             deployed_points: dict[str, tuple[float, float]] | None = None) -> Path:
    """FRR against FA/h (log, 0 FA/h in a column at the left edge), one line per curve with
    its operating point marked and its figures in the legend; PNG written atomically.

    Args:
        curves: legend name -> DET points of the deployed scorer (dicts with ``fa_per_hour``,
            ``frr`` and ``probability``, as :func:`det_curve` returns; a ``probability`` may
            be None for a point read at a FA/h budget), in the first panel.
        path: the PNG to write.
        title: the figure's title.
        mark_probability: the detection probability of the operating point marked on each
            curve (the firmware's, ``RECOGNIZER_DEFAULTS``); None: no mark.
        baselines: a name of ``curves`` -> scorer -> its DET points, drawn in a second panel
            in that curve's colour, one line style per scorer (None or empty: one panel).
        deployed_points: a name of ``curves`` -> ``(FA/h, FRR)`` measured at the settings the
            run deploys (its operating point), drawn as a star and given in the legend.

    Returns:
        ``path``.
    """
    from ghost_keras.plots import save_figure

    return save_figure(det_figure(curves, title, mark_probability, baselines,
                                  deployed_points), path)
