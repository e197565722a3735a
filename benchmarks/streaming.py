"""The ``streaming`` suite: keyword spotting on continuous audio (docs/design.md, "Always
listening").

GRU-S, GhostGRU-S (ratio 2) and DS-CNN-S on one long stream of test-split speakers, scored the
way the device runs them (:func:`firmware_export.evaluate.stream_eval`: front end run
continuously, the int8 model on TFLM, the firmware's recognizer), float and int8:

- recurrent models twice: **clip-trained** (the paper suite's training) and **stream-trained**
  (the same run fine-tuned per frame on long training audio,
  :mod:`ghost_keras.stream_training`); each read at every frame with its state carried for the
  whole stream (``tflm_int8`` and ``float_step``), and re-run on the last 1-s window at every
  20-ms stride (``float_window_every1``, the windowed baseline);
- DS-CNN-S, a window model: int8 on TFLM every 5 strides (the firmware's rate) and float at
  every stride.

Per scorer: FRR at 1, 5 and 20 false accepts per hour read off the DET curve (the lowest FRR
among thresholds whose FA/h is at most that; ``-`` when no threshold gets that low), FRR and
FA/h at the firmware's threshold, FRR and FA/h in the first and the last tenth of the stream at
the 20 FA/h operating point (drift of the carried state), and MACs and host time per second of
audio. The DET curves go into one PNG (:func:`plot_result`) and, per scorer, into the
result's ``det`` (so the PNG can be re-drawn from the JSON).

Clip-trained runs are reused from ``<out>/runs/`` when the ``paper`` suite (same ``--out``,
same ``--epochs``) has made them; missing ones are trained here the same way. A
stream-trained run (``<clip run>_stream``) is reused when it was made with the same
``StreamTrainConfig``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (LEARNING_RATES, DataChoice, progress, run_folder, spec_name,
                               tiny_mode, train_one)

#: (arch, size, ratio) of the suite.
STREAMING_SPECS = [("gru", "S", 1), ("ghost_gru", "S", 2), ("ds_cnn", "S", 1)]
#: False accepts per hour the FRR is read at.
FA_PER_HOUR_POINTS = (1, 5, 20)
#: Detection probabilities of the DET curves: every 0.025 from 0.3 to 0.95, then 0.97-0.99
#: (FRR at X FA/h is read off these points, so they must be dense where FA/h is 1-20).
STREAM_THRESHOLDS = tuple(round(0.3 + 0.025 * i, 3) for i in range(27)) + (0.97, 0.98, 0.99)
#: Window models on TFLM are re-run every this many strides (the firmware's rate).
TFLM_WINDOW_EVERY = 5
#: The stream is scored in this many parts by position; the first and last are compared,
#: at the operating point of the FRR at this many false accepts per hour.
PARTS = 10
DRIFT_FA_PER_HOUR = 20


def operating_point(curve: list[dict[str, Any]], fa_per_hour: float) -> dict[str, Any] | None:
    """The DET point with the lowest FRR among those with at most ``fa_per_hour`` false
    accepts per hour (the highest threshold on ties); None if no point is that low.

    Example:
        >>> operating_point([{"probability": 0.5, "frr": 0.1, "fa_per_hour": 30.0},
        ...                  {"probability": 0.7, "frr": 0.3, "fa_per_hour": 4.0}], 5)["frr"]
        0.3
    """
    ok = [c for c in curve if c["fa_per_hour"] is not None and c["frr"] is not None
          and c["fa_per_hour"] <= fa_per_hour]
    return min(ok, key=lambda c: (c["frr"], -c["probability"])) if ok else None


def frr_at(curve: list[dict[str, Any]], fa_per_hour: float) -> float | None:
    """Lowest FRR of a DET curve with at most ``fa_per_hour`` false accepts per hour."""
    point = operating_point(curve, fa_per_hour)
    return None if point is None else point["frr"]


def _test_stream(out: Path, data: DataChoice, minutes: float, seed: int) -> tuple[Path, Path]:
    """The suite's long test stream (built once per length and seed, then reused)."""
    from ghost_keras import data as kws_data
    from ghost_keras.data.long_stream import make_long_stream, write_stream
    from ghost_keras.training import TrainConfig, load_index

    folder = out / "streams"
    wav = folder / f"test_{minutes:g}min_seed{seed}.wav"
    csv = wav.with_suffix(".csv")
    if wav.is_file() and csv.is_file():
        return wav, csv
    if data.split_dirs:  # real data: the test-split speakers of the speaker-split folder
        index = kws_data.scan(data.split_dirs[0], split="none").with_speaker_split(
            tuple(data.speaker_split), seed=seed)
    else:
        index = load_index(TrainConfig(data_dirs=data.data_dirs, seed=seed, **(
            {"synthetic_clips_per_word": data.synthetic_clips_per_word}
            if data.synthetic_clips_per_word else {})))
    audio, truth = make_long_stream(index, 60.0 * minutes, seed=seed, split="test", snr_db=10.0)
    write_stream(wav, csv, audio, truth)
    return wav, csv


def _finished(run_dir: Path) -> bool:
    return ((run_dir / "model.keras").is_file()
            and (run_dir / "export" / "export.json").is_file())


def _stream_config(run_dir: Path) -> dict[str, Any] | None:
    """The ``stream_training`` settings a stream-trained run was made with (None: none)."""
    try:
        return json.loads((run_dir / "config.json").read_text()).get("stream_training")
    except (OSError, ValueError):
        return None


def _summary_rows(name: str, training: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scorer, run in result["runs"].items():
        m, curve = run["metrics"], run.get("det", [])
        row = {"model": name, "training": training, "scorer": scorer}
        for x in FA_PER_HOUR_POINTS:
            row[f"frr_at_{x}fa_h"] = frr_at(curve, x)
        # Drift, read at the operating point of FRR_at_{DRIFT_FA_PER_HOUR}fa_h.
        point = operating_point(curve, DRIFT_FA_PER_HOUR) or {}
        parts = point.get("by_part") or [{}]
        row.update({
            "frr_p08": m["frr"], "fa_h_p08": m["fa_per_hour"],
            "drift_probability": point.get("probability"),
            "first_tenth_frr": parts[0].get("frr"),
            "first_tenth_fa_h": parts[0].get("fa_per_hour"),
            "last_tenth_frr": parts[-1].get("frr"),
            "last_tenth_fa_h": parts[-1].get("fa_per_hour"),
            "mmacs_per_s": (run["cost"]["macs_per_s"] or 0) / 1e6,
            "host_ms_per_s": run["cost"]["host_ms_per_s"],
        })
        rows.append(row)
    return rows


def _checks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Checks of GhostGRU-S r2, stream-trained, int8 on TFLM with its state carried: FRR at most
    the windowed re-run's at 1/5/20 FA/h, its compute against that re-run's, and the first
    against the last tenth of the stream (drift)."""
    def find(training: str, scorer: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["model"] == "ghost_gru_S_r2"
                     and r["training"] == training and r["scorer"] == scorer), None)

    step = find("stream", "tflm_int8")
    if step is None:
        return {}
    out: dict[str, Any] = {}
    for training in ("stream", "clip"):
        window = find(training, "float_window_every1")
        if window is None:
            continue
        better = []
        for x in FA_PER_HOUR_POINTS:
            a, b = step[f"frr_at_{x}fa_h"], window[f"frr_at_{x}fa_h"]
            better.append(b is None or (a is not None and a <= b))
        out[f"step_frr_le_window_{training}_at_1_5_20_fa_h"] = better
        out[f"compute_ratio_vs_window_{training}"] = (
            step["mmacs_per_s"] / window["mmacs_per_s"] if window["mmacs_per_s"] else None)
    out["last_tenth_vs_first_tenth"] = {
        "frr": [step["first_tenth_frr"], step["last_tenth_frr"]],
        "fa_h": [step["first_tenth_fa_h"], step["last_tenth_fa_h"]]}
    return out


def suite_streaming(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                    models: list[str] | None = None, epochs: int | None = None
                    ) -> dict[str, Any]:
    """The suite's rows (model, training, scorer), checks, evaluations and DET plot."""
    from firmware_export.pipeline import export_run
    from firmware_export.evaluate import stream_eval
    from ghost_keras.stream_training import StreamTrainConfig, stream_train

    tiny = tiny_mode(quick)
    minutes = 1.0 if tiny else 5.0 if quick else 60.0
    epochs = epochs or (1 if tiny else 3 if quick else 12)
    stream_config = (StreamTrainConfig(epochs=1, minutes_per_epoch=2, validation_minutes=1,
                                       chunk_frames=250)
                     if tiny else
                     StreamTrainConfig(epochs=1, minutes_per_epoch=10, validation_minutes=2)
                     if quick else StreamTrainConfig())
    seed = 0
    specs = [s for s in STREAMING_SPECS if not models or spec_name(*s) in models]
    wav, csv = _test_stream(out, data, minutes, seed)
    rows, evals, curves = [], {}, {}  # curves: "<model> <training>" -> scorer -> DET points
    for arch, size, ratio in specs:
        name = spec_name(arch, size, ratio)
        clip_dir = run_folder(out, arch, size, ratio, seed)
        if not (clip_dir / "model.keras").is_file():
            train_one(out, arch, size, ratio, seed, data, epochs, 0, LEARNING_RATES,
                      tag="streaming")
        elif not _finished(clip_dir):  # trained (e.g. by the paper suite), export pending
            progress(f"streaming {name}: int8 export of {clip_dir}")
            export_run(clip_dir)
        variants = [("clip", clip_dir)]
        if arch != "ds_cnn":
            stream_dir = clip_dir.with_name(clip_dir.name + "_stream")
            same = _stream_config(stream_dir) == stream_config.to_dict()
            if not (same and _finished(stream_dir)):
                progress(f"streaming {name}: stream training -> {stream_dir}")
                stream_train(clip_dir, stream_dir, stream_config, verbose=1)
                export_run(stream_dir)  # post-training quantization of the float model
            variants.append(("stream", stream_dir))
        for training, run_dir in variants:
            window = arch == "ds_cnn"
            progress(f"streaming {name} {training}-trained: scoring the {minutes:g}-min stream")
            started = time.perf_counter()
            result = stream_eval(run_dir, wav, csv, every=TFLM_WINDOW_EVERY if window else 1,
                                 float_window_every=1, thresholds=STREAM_THRESHOLDS,
                                 parts=PARTS, out_dir=out / "streaming" / f"{name}_{training}")
            key = f"{name}_{training}"
            evals[key] = {"run_dir": str(run_dir), "json": result.get("json"),
                          "agreement": result["agreement"]}
            curves[f"{name} {training}"] = {
                scorer: [{k: c[k] for k in ("probability", "frr", "fa_per_hour")}
                         for c in run["det"]] for scorer, run in result["runs"].items()}
            progress(f"streaming {name} {training}-trained: scored in "
                     f"{(time.perf_counter() - started) / 60:.1f} min")
            new = _summary_rows(name, training, result)
            for r in new:
                print(json.dumps(r), flush=True)
            rows.extend(new)
    truth_lines = csv.read_text().splitlines()[1:]
    keywords = sum(1 for line in truth_lines
                   if not line.startswith(("_silence_", "_unknown_")))
    suite = {"summary": rows, "checks": _checks(rows), "evals": evals, "det": curves,
             "stream": {"wav": str(wav), "truth": str(csv), "minutes": minutes,
                        "keywords": keywords, "items": len(truth_lines), "snr_db": 10.0},
             "stream_training": stream_config.to_dict(), "epochs": epochs,
             "thresholds": list(STREAM_THRESHOLDS), "parts": PARTS,
             "cpu_count": os.cpu_count(),
             "fa_per_hour_points": list(FA_PER_HOUR_POINTS),
             "note": "frr_at_Xfa_h: lowest FRR over the DET thresholds with FA/h <= X; "
                     "first/last tenth: the stream's first and last 10% by time, at the "
                     f"threshold drift_probability of frr_at_{DRIFT_FA_PER_HOUR}fa_h"}
    return {**suite, "plots": plot_result(suite, out)}


def _summary_curves(rows: list[dict[str, Any]], probability: float
                    ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """DET points of each scorer read off the summary rows, for results saved before the suite
    kept its curves: FRR at each FA/h budget (probability unknown) and at the firmware's
    probability."""
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        points = [{"probability": None, "fa_per_hour": float(x), "frr": row[f"frr_at_{x}fa_h"]}
                  for x in FA_PER_HOUR_POINTS]
        points.append({"probability": probability, "fa_per_hour": row["fa_h_p08"],
                       "frr": row["frr_p08"]})
        curves.setdefault(f"{row['model']} {row['training']}", {})[row["scorer"]] = sorted(
            (c for c in points if c["frr"] is not None and c["fa_per_hour"] is not None),
            key=lambda c: c["fa_per_hour"])
    return curves


def plot_result(result: dict[str, Any], out: Path) -> list[str]:
    """Draws the suite's DET plot from its result (the suite's return value or its saved JSON)
    into ``out``: each model at its deployed scorer (int8 on TFLM) with the firmware's
    operating point marked, the float baselines in a second panel. Results without the
    per-threshold curves (saved before the suite kept them) are drawn from their summary rows.

    Args:
        result: the suite's result (``summary``, ``stream`` and, if saved, ``det``).
        out: the folder of the PNG.

    Returns:
        The names of the PNGs written.
    """
    from firmware_export.evaluate import plot_det
    from firmware_export.pipeline import RECOGNIZER_DEFAULTS

    probability = RECOGNIZER_DEFAULTS["detection_probability"]
    curves = result.get("det") or _summary_curves(result["summary"], probability)
    deployed = "tflm_int8"
    stream = result["stream"]
    title = f"{stream['minutes']:g}-min stream, test speakers, {stream['snr_db']:g} dB SNR"
    if not result.get("det"):
        title += ("\ndrawn from the summary rows (FRR at ≤ "
                  + ", ".join(map(str, FA_PER_HOUR_POINTS)) + f" FA/h and at p = {probability:g}):"
                  " this result has no per-threshold curves")
    plot = out / "streaming_det.png"
    plot_det({name: runs[deployed] for name, runs in curves.items() if deployed in runs},
             plot, title=title, mark_probability=probability,
             baselines={name: {s: c for s, c in runs.items() if s != deployed}
                        for name, runs in curves.items()})
    return [plot.name]

