"""Detections over a stream's scores: TFLM micro_speech's ``RecognizeCommands`` with the
firmware's settings, and the ``ghost-kws stream`` helper (:func:`detect_in_wav`). See
:mod:`firmware_export.evaluate`, step 3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from firmware_export.pipeline import RECOGNIZER_DEFAULTS, deployed_recognizer
from firmware_export.firmware.recognizer import (
    Detection,
    StreamAverages,
    probability_to_threshold,
    recognizer_capacity,
)
from firmware_export.evaluate.runners import (
    SOFTMAX_SCALE,
    SOFTMAX_ZERO_POINT,
    StreamError,
    load_export,
    read_stream_audio,
    run_tflm,
)
from ghost_keras.features.stream import stream_features


def recognizer_settings(settings: dict[str, Any] | None = None,
                        score_scale: float = SOFTMAX_SCALE,
                        score_zero_point: int = SOFTMAX_ZERO_POINT) -> dict[str, int]:
    """The firmware's recognizer settings (``RECOGNIZER_DEFAULTS`` + overrides) with the
    threshold in score units 0..255 (from ``detection_probability`` unless
    ``detection_threshold`` is given)."""
    cfg = {**RECOGNIZER_DEFAULTS, **(settings or {})}
    unknown = set(cfg) - {"average_window_ms", "detection_probability", "detection_threshold",
                          "suppression_ms", "minimum_count"}
    if unknown:
        raise StreamError(f"unknown recognizer settings {sorted(unknown)}")
    if settings and "detection_threshold" in settings:
        threshold = int(settings["detection_threshold"])
    else:
        threshold = probability_to_threshold(float(cfg["detection_probability"]), score_scale,
                                             score_zero_point, "int8")
    return {"average_window_ms": int(cfg["average_window_ms"]), "detection_threshold": threshold,
            "suppression_ms": int(cfg["suppression_ms"]),
            "minimum_count": int(cfg["minimum_count"])}


def detect(scores: np.ndarray, times_ms: Sequence[int], labels: Sequence[str],
           settings: dict[str, Any] | None = None, *, period_ms: int | None = None,
           score_scale: float = SOFTMAX_SCALE,
           score_zero_point: int = SOFTMAX_ZERO_POINT) -> list[Detection]:
    """Detections of the firmware's ``RecognizeCommands`` over a stream's scores.

    Args:
        scores: uint8 (or int8) ``[T, labels]``.
        times_ms: ``T`` timestamps (non-decreasing).
        labels: the model's labels; silence and unknown are never reported.
        settings: overrides of ``RECOGNIZER_DEFAULTS`` (``detection_probability`` or
            ``detection_threshold`` in score units, ``average_window_ms``, ``suppression_ms``,
            ``minimum_count``).
        period_ms: time between results, for the firmware's buffer capacity (default: the
            median step of ``times_ms``).
    """
    cfg = recognizer_settings(settings, score_scale, score_zero_point)
    averages = stream_averages(scores, times_ms, labels, cfg, period_ms)
    return averages.detections(cfg["detection_threshold"], cfg["suppression_ms"])


def stream_averages(scores: np.ndarray, times_ms: Sequence[int], labels: Sequence[str],
                    settings: dict[str, int], period_ms: int | None = None) -> StreamAverages:
    """The recognizer's averaged window over a stream for ``settings`` (``average_window_ms``,
    ``minimum_count``), with the firmware's buffer capacity for results every ``period_ms``
    (default: the median step of ``times_ms``); its ``detections`` replay any threshold."""
    times = np.asarray(times_ms, np.int64)
    window = int(settings["average_window_ms"])
    if period_ms is None:
        period_ms = int(np.median(np.diff(times))) if len(times) > 1 else window
    return StreamAverages(scores, times, labels, average_window_ms=window,
                          minimum_count=int(settings["minimum_count"]),
                          capacity=recognizer_capacity(window, max(1, period_ms)))


def detect_in_wav(run_dir: str | os.PathLike, wav: str | os.PathLike | np.ndarray, *,
                  settings: dict[str, Any] | None = None, every: int = 1,
                  verbose: bool = True, file: TextIO | None = None,
                  progress: int = 0) -> list[Detection]:
    """Detections of a run's exported int8 model over a WAV (what ``ghost-kws stream`` does):
    front end once over the file, TFLM as the firmware runs it, the firmware's recognizer.
    With ``verbose`` each detection is printed as ``time  label  score``; ``progress`` is the
    TFLM run's progress line (the ``verbose`` levels of :mod:`ghost_keras.progress`)."""
    loaded = load_export(run_dir)
    audio = read_stream_audio(wav, loaded.frontend.sample_rate)
    features, times = stream_features(audio, loaded.frontend)
    run = run_tflm(loaded.exported, features, times, every=every, frontend=loaded.frontend,
                   verbose=progress)
    dets = detect(run.scores, run.times_ms, loaded.labels,
                  deployed_recognizer(loaded.info, settings),
                  period_ms=loaded.frontend.stride_ms * run.every,
                  score_scale=run.score_scale, score_zero_point=run.score_zero_point)
    if verbose:
        out = file or sys.stdout
        seconds = len(audio) / loaded.frontend.sample_rate
        print(f"{wav if not isinstance(wav, np.ndarray) else '(array)'}: {seconds:.1f} s, "
              f"{len(dets)} detection(s)", file=out)
        for d in dets:
            print(f"{d.time_ms / 1000.0:9.2f} s  {d.label:<10} {d.score / 256.0:.2f}", file=out)
    return dets
