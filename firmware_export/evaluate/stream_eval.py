"""The whole streaming evaluation of a run (:func:`stream_eval`): its exported int8 model on
TFLM and its float model over a long WAV, detections matched with the truth, DET curves, cost
per second of audio. The pipeline is described in :mod:`firmware_export.evaluate`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from firmware_export.pipeline import deployed_recognizer
from firmware_export.firmware.recognizer import Detection, default_ignore_labels
from firmware_export.evaluate.det import DEFAULT_THRESHOLDS, det_points, plot_det
from firmware_export.evaluate.detect import detect, recognizer_settings
from firmware_export.evaluate.match import (
    DEFAULT_TOLERANCE_MS,
    MATCH_RULE,
    argmax_agreement,
    compare_detections,
    match,
    truth_items,
)
from firmware_export.evaluate.runners import (
    DEFAULT_FLOAT_WINDOW_EVERY,
    ScoreRun,
    load_export,
    read_stream_audio,
    run_float_step,
    run_float_window,
    run_tflm,
)
from ghost_keras.data.long_stream import TruthItem
from ghost_keras.features.stream import stream_features
from ghost_keras.fileio import atomic_write_json


def _cost(run: ScoreRun, macs_per_invoke: int | None, stride_ms: int,
          audio_seconds: float) -> dict[str, Any]:
    invokes_per_s = 1000.0 / (stride_ms * run.every)
    return {
        "invokes_per_s": invokes_per_s,
        "macs_per_invoke": macs_per_invoke,
        "macs_per_s": None if macs_per_invoke is None else macs_per_invoke * invokes_per_s,
        "host_ms_per_s": 1000.0 * run.host_seconds / audio_seconds if audio_seconds else None,
    }


def stream_eval(run_dir: str | os.PathLike, wav: str | os.PathLike | np.ndarray,
                truth: str | os.PathLike | Sequence[TruthItem], *,
                tolerance_ms: int = DEFAULT_TOLERANCE_MS, every: int = 1,
                float_step: bool = True,
                float_window_every: int | None = DEFAULT_FLOAT_WINDOW_EVERY,
                settings: dict[str, Any] | None = None,
                thresholds: Sequence[float] | None = DEFAULT_THRESHOLDS, parts: int = 2,
                out_dir: str | os.PathLike | None = None, verbose: int = 0) -> dict[str, Any]:
    """Streams a long WAV through a run's exported int8 model (TFLM) and its float model, and
    scores the detections against the truth.

    Args:
        run_dir: an exported training run (``ghost-kws export RUN`` first).
        wav: the stream (mono 16-bit PCM at the front end's rate).
        truth: its truth CSV (``label,start,end``) or items.
        tolerance_ms: see :func:`match`.
        every: window models on TFLM: frames between re-runs (1 = every stride).
        float_step: also run the float step model (recurrent models only).
        float_window_every: also run the float windowed baseline every this many strides
            (None: skip).
        settings: recognizer overrides of the run's deployed settings (its operating point,
            else ``RECOGNIZER_DEFAULTS``: :func:`~firmware_export.pipeline.deployed_recognizer`).
        thresholds: detection probabilities of the DET curve (None: no curve).
        parts: the stream is split into this many parts by position (drift).
        out_dir: if given, ``stream_eval.json`` and ``det.png`` are written there.
        verbose: a progress line per model run over the stream (:mod:`ghost_keras.progress`).

    Returns:
        A JSON-able dict: ``runs`` (name -> ``kind, cost, metrics, det``), ``agreement`` (int8
        vs float: frame argmax and detections), the stream and truth counts, settings, rule.
    """
    from ghost_keras.profile import profile_model
    from ghost_keras.streaming import is_streamable
    from ghost_keras.training import load_run

    loaded = load_export(run_dir)
    settings = deployed_recognizer(loaded.info, settings)
    model, run_config = load_run(run_dir)
    labels = loaded.labels
    fe = loaded.frontend
    audio = read_stream_audio(wav, fe.sample_rate)
    audio_seconds = len(audio) / fe.sample_rate
    items = truth_items(truth, labels, duration_s=audio_seconds)
    t0 = time.perf_counter()
    features, times = stream_features(audio, fe)
    frontend_seconds = time.perf_counter() - t0
    profile = profile_model(model)

    runs: list[ScoreRun] = [run_tflm(loaded.exported, features, times, every=every,
                                     frontend=loaded.frontend, verbose=verbose)]
    if float_step and is_streamable(model):
        runs.append(run_float_step(model, features, times, verbose=verbose))
    if loaded.exported.kind == "window":
        runs.append(run_float_window(model, features, times, every=runs[0].every,
                                     verbose=verbose))
    if float_window_every is not None and not (
            loaded.exported.kind == "window" and float_window_every == runs[0].every):
        runs.append(run_float_window(model, features, times, every=float_window_every,
                                     verbose=verbose))

    main_settings = recognizer_settings(settings, runs[0].score_scale, runs[0].score_zero_point)
    probability = (None if "detection_threshold" in settings
                   else float(settings["detection_probability"]))
    out_runs: dict[str, Any] = {}
    detections: dict[str, list[Detection]] = {}
    for run in runs:
        macs = profile.macs_per_frame if run.kind == "step" else profile.macs_per_decision
        period = fe.stride_ms * run.every
        curve, found = det_points(run.scores, run.times_ms, items, thresholds or (), labels,
                                   settings, tolerance_ms, audio_seconds, period,
                                   run.score_scale, run.score_zero_point, parts)
        if probability in found:  # the curve already ran the recognizer at this threshold
            dets = found[probability]
        else:
            dets = detect(run.scores, run.times_ms, labels, settings, period_ms=period,
                          score_scale=run.score_scale, score_zero_point=run.score_zero_point)
        detections[run.name] = dets
        entry = {
            "kind": run.kind, "every": run.every, "results": int(len(run.times_ms)),
            "cost": _cost(run, macs, fe.stride_ms, audio_seconds),
            "metrics": match(dets, items, tolerance_ms=tolerance_ms, duration_s=audio_seconds,
                             parts=parts),
        }
        if thresholds:
            entry["det"] = curve
        out_runs[run.name] = entry

    agreement = {}
    for other in runs[1:]:
        if other.kind == runs[0].kind and other.every == runs[0].every:
            agreement[f"{runs[0].name}_vs_{other.name}"] = {
                "argmax": argmax_agreement(runs[0], other),
                "detections": compare_detections(detections[runs[0].name], detections[other.name]),
            }
    counts = {"keywords": 0, "unknown": 0, "silence": 0}
    ignore = set(default_ignore_labels(labels))
    for it in items:
        key = ("silence" if it.label.strip("_").lower() == "silence" else "unknown"
               if it.label in ignore else "keywords")
        counts[key] += 1
    result = {
        "run_dir": str(run_dir), "wav": str(wav) if not isinstance(wav, np.ndarray) else None,
        "audio_seconds": audio_seconds, "labels": labels, "truth_counts": counts,
        "model": {"kind": loaded.exported.kind, "arch": run_config.get("train", {}).get("arch"),
                  "bytes": loaded.exported.size_bytes, "params": profile.params,
                  "macs_per_frame": profile.macs_per_frame,
                  "macs_per_decision": profile.macs_per_decision},
        "frontend": {"kind": fe.kind, "stride_ms": fe.stride_ms, "frames": int(len(features)),
                     "host_ms_per_s": 1000.0 * frontend_seconds / audio_seconds},
        "recognizer": {**main_settings, "detection_probability": probability},
        "tolerance_ms": int(tolerance_ms), "rule": MATCH_RULE,
        "runs": out_runs, "agreement": agreement,
    }
    if out_dir is not None:
        out = Path(out_dir)
        if thresholds:
            deployed = runs[0].name  # int8 on TFLM; the float runs are its baselines
            plot_det({deployed: out_runs[deployed]["det"]}, out / "det.png",
                     title=f"{Path(str(run_dir)).name}: {audio_seconds / 60:.1f} min, "
                           f"{counts['keywords']} keywords", mark_probability=probability,
                     baselines={deployed: {n: r["det"] for n, r in out_runs.items()
                                           if n != deployed}})
            result["det_png"] = str(out / "det.png")
        result["json"] = str(atomic_write_json(out / "stream_eval.json", result))
    return result
