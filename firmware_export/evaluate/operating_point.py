"""An operating point for a target false-accept rate: the recognizer's detection threshold,
averaging window, suppression and minimum count, chosen jointly on a validation stream.

A keyword detector ships with one setting of its recognizer, and what a product specifies is
a false-accept budget ("at most one false wake-up an hour"), not a probability. So the point is
searched, not set by hand: the run's int8 model runs on TFLM over a long stream built from the
**validation** speakers (never the test speakers the point is then reported on), and every
combination of the grid below is scored against that stream's truth; the point is the one with
the lowest false-reject rate among those whose false accepts per hour are at most the target
(ties: fewer false accepts, then the higher threshold, the longer suppression, the shorter
window). When no combination meets the target, the one with the fewest false accepts is taken
and the result says the target was not met.

A rate of one false accept an hour rests on few events, so the validation stream is long
(default 120 minutes) and the result carries the exact Poisson interval of the rate it measured
(:func:`fa_rate_interval`). :func:`tune_operating_point` writes the point into the run's
``export.json``, from where ``ghost-kws firmware`` (``model_settings.h``), ``stream`` and
``stream-eval`` take it (:func:`firmware_export.pipeline.deployed_recognizer`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from firmware_export.evaluate.detect import recognizer_settings, stream_averages
from firmware_export.evaluate.match import DEFAULT_TOLERANCE_MS, match, truth_items
from firmware_export.evaluate.runners import StreamError, load_export, run_tflm
from firmware_export.firmware.recognizer import probability_to_threshold
from ghost_keras.data.long_stream import TruthItem

#: Averaging windows searched (ms): the model's response to a word lasts about a second.
AVERAGE_WINDOWS_MS = (500, 750, 1000, 1500)
#: Suppressions searched (ms): a clip-trained model can fire the same keyword again ~1.5 s
#: after a hit, so the grid reaches past that.
SUPPRESSIONS_MS = (1000, 1500, 2000, 3000)
#: Minimum counts searched. A step model gives a result every stride (50 in a 1-s window), so
#: for it the minimum count only matters in the first few strides of a stream; a window model
#: run every 5 strides has 5-15 results per window.
MINIMUM_COUNTS = (3, 5)
#: Detection probabilities searched: every 0.01 from 0.50 to 0.99 (int8 scores are in 1/256).
PROBABILITIES = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))
#: Default target (false accepts per hour) and validation stream.
DEFAULT_TARGET_FA_PER_HOUR = 1.0
DEFAULT_VALIDATION_MINUTES = 120.0
DEFAULT_VALIDATION_SEED = 1
DEFAULT_SNR_DB = 10.0


def fa_rate_interval(false_accepts: int, hours: float, confidence: float = 0.95
                     ) -> tuple[float, float]:
    """The exact (Garwood) two-sided Poisson interval of a false-accept rate, per hour.

    Example:
        >>> [round(v, 3) for v in fa_rate_interval(0, 2.0)]
        [0.0, 1.844]
    """
    from scipy.stats import chi2

    if false_accepts < 0 or hours <= 0:
        raise ValueError("need false_accepts >= 0 and hours > 0")
    alpha = 1.0 - confidence
    low = 0.0 if false_accepts == 0 else chi2.ppf(alpha / 2, 2 * false_accepts) / 2
    high = chi2.ppf(1 - alpha / 2, 2 * false_accepts + 2) / 2
    return float(low / hours), float(high / hours)


def _key(point: dict[str, Any]) -> tuple:
    r = point["recognizer"]
    return (point["frr"], point["fa_per_hour"], -r["detection_probability"],
            -r["suppression_ms"], r["average_window_ms"], r["minimum_count"])


def choose_operating_point(scores: np.ndarray, times_ms: Sequence[int],
                           truth: str | os.PathLike | Sequence[TruthItem],
                           labels: Sequence[str], target_fa_per_hour: float, *,
                           duration_s: float, period_ms: int,
                           score_scale: float, score_zero_point: int,
                           tolerance_ms: int = DEFAULT_TOLERANCE_MS,
                           windows_ms: Sequence[int] = AVERAGE_WINDOWS_MS,
                           suppressions_ms: Sequence[int] = SUPPRESSIONS_MS,
                           minimum_counts: Sequence[int] = MINIMUM_COUNTS,
                           probabilities: Sequence[float] = PROBABILITIES) -> dict[str, Any]:
    """The recognizer settings with the lowest FRR at most ``target_fa_per_hour`` on a stream.

    Args:
        scores, times_ms: the model's scores over the stream (uint8/int8 ``[T, labels]``).
        truth: the stream's truth (CSV or items).
        labels: the model's labels.
        target_fa_per_hour: the false-accept budget (> 0).
        duration_s: the stream's length (for FA/h).
        period_ms: time between results (the recognizer's buffer).
        score_scale, score_zero_point: the score tensor's quantization.
        windows_ms, suppressions_ms, minimum_counts, probabilities: the grid.

    Returns:
        ``recognizer`` (``average_window_ms, detection_probability, suppression_ms,
        minimum_count``), ``detection_threshold`` (score units), ``met`` (the target was
        reached), the stream's ``frr, fa_per_hour, fa_per_hour_interval, false_accepts, hits,
        targets, hours`` there, and ``searched`` (grid points scored).
    """
    if not target_fa_per_hour > 0:
        raise StreamError(f"target FA/h {target_fa_per_hour!r} must be > 0 (e.g. 1)")
    items = truth_items(truth, labels, duration_s=duration_s)
    points = []
    for window in windows_ms:
        for minimum_count in minimum_counts:
            averaged = {"average_window_ms": int(window), "minimum_count": int(minimum_count)}
            averages = stream_averages(scores, times_ms, labels, averaged, period_ms)
            for probability in probabilities:
                threshold = probability_to_threshold(float(probability), score_scale,
                                                     score_zero_point, "int8")
                for suppression in suppressions_ms:
                    m = match(averages.detections(threshold, int(suppression)), items,
                              tolerance_ms=tolerance_ms, duration_s=duration_s, parts=1)
                    if m["frr"] is None:
                        raise StreamError("the validation stream has no keywords: its FRR is "
                                          "undefined; build it with keywords")
                    points.append({
                        "recognizer": {**averaged, "detection_probability": float(probability),
                                       "suppression_ms": int(suppression)},
                        "detection_threshold": threshold,
                        **{k: m[k] for k in ("frr", "fa_per_hour", "false_accepts", "hits",
                                             "targets", "hours")}})
    if not points:
        raise StreamError("the operating-point grid is empty")
    within = [p for p in points if p["fa_per_hour"] <= target_fa_per_hour]
    met = bool(within)
    best = (min(within, key=_key) if met else
            min(points, key=lambda p: (p["fa_per_hour"], *_key(p))))
    # The settings in the firmware's vocabulary, validated as it will read them.
    recognizer_settings(best["recognizer"], score_scale, score_zero_point)
    return {**best, "met": met, "target_fa_per_hour": float(target_fa_per_hour),
            "fa_per_hour_interval": list(fa_rate_interval(best["false_accepts"], best["hours"])),
            "searched": len(points),
            "grid": {"average_window_ms": list(map(int, windows_ms)),
                     "suppression_ms": list(map(int, suppressions_ms)),
                     "minimum_count": list(map(int, minimum_counts)),
                     "detection_probability": [float(p) for p in probabilities]}}


def validation_stream(run_dir: str | os.PathLike, minutes: float, seed: int,
                      snr_db: float | None = DEFAULT_SNR_DB) -> tuple[np.ndarray, list[TruthItem]]:
    """A long stream of the run's **validation** speakers (its own data and splits): keywords,
    unknown words and silence over the data's noise (``make_long_stream``'s defaults)."""
    from ghost_keras.data.long_stream import make_long_stream
    from ghost_keras.training import CONFIG_FILE, TrainConfig, load_index

    config_path = Path(run_dir) / CONFIG_FILE
    if not config_path.is_file():
        raise StreamError(f"{config_path} not found: {run_dir} is not a training run")
    train = TrainConfig.from_dict(json.loads(config_path.read_text())["train"])
    return make_long_stream(load_index(train), 60.0 * float(minutes), seed=int(seed),
                            split="validation", snr_db=snr_db)


def tune_operating_point(run_dir: str | os.PathLike,
                         target_fa_per_hour: float = DEFAULT_TARGET_FA_PER_HOUR, *,
                         minutes: float = DEFAULT_VALIDATION_MINUTES,
                         seed: int = DEFAULT_VALIDATION_SEED,
                         snr_db: float | None = DEFAULT_SNR_DB,
                         verbose: int = 0) -> dict[str, Any]:
    """Chooses a run's operating point for ``target_fa_per_hour`` on a validation stream and
    writes it into the run's ``export.json`` (what ``ghost-kws operating-point`` does).

    The exported int8 model runs on TFLM as the firmware runs it (every stride for a step
    model, every ``WINDOW_EVERY_FRAMES`` strides for a window model) over a ``minutes``-long
    stream of the run's validation speakers (:func:`validation_stream`, seeded by ``seed``),
    and :func:`choose_operating_point` picks the settings. Re-exporting the run drops the point
    (it belongs to the model it was measured on).

    Returns:
        What was written under ``export.json``'s ``"operating_point"``: the choice (see
        :func:`choose_operating_point`) and the ``validation_stream`` it was measured on.
    """
    from firmware_export.pipeline import EXPORT_JSON, WINDOW_EVERY_FRAMES
    from ghost_keras.features.stream import stream_features
    from ghost_keras.fileio import atomic_write_json

    if not target_fa_per_hour > 0:
        raise StreamError(f"--target-fa-h {target_fa_per_hour!r} must be > 0 (e.g. 1)")
    if not minutes > 0:
        raise StreamError(f"--minutes {minutes!r} must be > 0 (e.g. 120)")
    loaded = load_export(run_dir)
    audio, truth = validation_stream(run_dir, minutes, seed, snr_db)
    fe = loaded.frontend
    features, times = stream_features(audio, fe)
    every = WINDOW_EVERY_FRAMES if loaded.exported.kind == "window" else 1
    run = run_tflm(loaded.exported, features, times, every=every, frontend=fe, verbose=verbose)
    choice = choose_operating_point(
        run.scores, run.times_ms, truth, loaded.labels, target_fa_per_hour,
        duration_s=len(audio) / fe.sample_rate, period_ms=fe.stride_ms * run.every,
        score_scale=run.score_scale, score_zero_point=run.score_zero_point)
    keywords = sum(1 for t in truth if t.label in loaded.labels
                   and t.label.strip("_").lower() not in ("silence", "unknown"))
    point = {**choice, "validation_stream": {
        "split": "validation", "minutes": float(minutes), "seed": int(seed),
        "snr_db": snr_db, "items": len(truth), "keywords": keywords, "every": run.every}}
    info = dict(loaded.info)
    info["operating_point"] = point
    atomic_write_json(loaded.export_dir / EXPORT_JSON, info)
    return point


def describe_operating_point(point: dict[str, Any]) -> str:
    """One paragraph for a person: the settings, and what they gave on the validation stream."""
    r, v = point["recognizer"], point["validation_stream"]
    low, high = point["fa_per_hour_interval"]
    verdict = ("" if point["met"] else
               f" (target not met: no setting of the grid reached {point['target_fa_per_hour']:g}"
               " FA/h; this is the one with the fewest false accepts)")
    return (f"operating point for {point['target_fa_per_hour']:g} FA/h{verdict}: p > "
            f"{r['detection_probability']:.2f} (score > {point['detection_threshold']}), "
            f"average {r['average_window_ms']} ms, suppression {r['suppression_ms']} ms, "
            f"minimum count {r['minimum_count']}\n"
            f"on the {v['minutes']:g}-min validation stream ({v['keywords']} keywords, seed "
            f"{v['seed']}): FRR {100 * point['frr']:.1f}%, {point['false_accepts']} false "
            f"accepts = {point['fa_per_hour']:.2f} FA/h (95% interval {low:.2f}-{high:.2f}); "
            f"{point['searched']} settings searched")
