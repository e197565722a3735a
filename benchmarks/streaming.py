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
stream-trained run (``<clip run>_<recipe>``, one per :data:`STREAM_RECIPES` row asked for) is
reused when it was made with the same ``StreamTrainConfig``; it is quantized by per-frame QAT
(``ghost-kws qat`` on a stream-trained run: on training streams with the per-frame targets),
so its int8 model keeps the stream training.

Every run is also scored at the operating point it deploys: chosen by ``ghost-kws
operating-point`` for :data:`TARGET_FA_PER_HOUR` on a stream of its validation speakers, then
run on each of :data:`STREAMS` (the test stream, a second stream built with other settings and
real background noise, and a negative-only stream twice as long), FA/h with its 95% Poisson
interval.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (LEARNING_RATES, PAPER_EPOCHS, DataChoice, progress, reusable,
                               run_config, run_folder, spec_name, tiny_mode, train_one)
from benchmarks.stream_seeds import FA_PER_HOUR_POINTS, seed_label, seed_summary

#: (arch, size, ratio) of the suite.
STREAMING_SPECS = [("gru", "S", 1), ("ghost_gru", "S", 2), ("ds_cnn", "S", 1)]
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


#: The suite's streams, all of test-split speakers (the spec of each: ``make_long_stream``'s
#: arguments, minutes as a multiple of the suite's stream length, and which noise):
#: ``test`` the suite's stream since its first version (the noise bed: the test split's real
#: ``_silence_`` clips); ``real_noise`` a second stream built with other settings (the real
#: ``_background_noise_`` recordings, 5 dB SNR, shorter gaps, wider level changes, its own
#: seed), so that a gain is not fitted to one generator; ``negatives`` twice as long, with no
#: keyword at all (unknown words and silence in the real background noise): false accepts
#: only, for FA/h with a tight interval.
STREAMS = {
    "test": {"length": 1.0, "noise": "split", "snr_db": 10.0, "seed": 0},
    "real_noise": {"length": 1.0, "noise": "background", "snr_db": 5.0, "seed": 1,
                   "gap_s": (0.5, 2.0), "gain_db": (-10.0, 6.0)},
    "negatives": {"length": 2.0, "noise": "background", "snr_db": 10.0, "seed": 2,
                  "keyword_fraction": 0.0, "unknown_fraction": 0.5},
}
#: Stream-training recipes (``--rows``; default: ``stream`` only), each a row's ``training``
#: and a run folder ``<clip run>_<name>``: what it changes in the suite's StreamTrainConfig.
#: ``stream+clips`` mixes a quarter of the training clips into each epoch
#: (``StreamTrainConfig.clip_share``); ``+gain`` also draws word levels from -12..+6 dB (the
#: default -6..+6 is narrower than the ``real_noise`` stream's -10..+6); ``+unknown`` puts
#: more unknown words into the streams (40% of items, keywords 45%) and labels their frames
#: ``_unknown_`` while they are spoken.
STREAM_RECIPES: dict[str, dict[str, Any]] = {
    "stream": {},
    "stream+clips": {"clip_share": 0.25},
    "stream+clips+gain": {"clip_share": 0.25, "gain_db": [-12.0, 6.0]},
    "stream+clips+unknown": {"clip_share": 0.25, "keyword_fraction": 0.45,
                             "unknown_fraction": 0.4, "whole_unknown": True},
}
#: The false-accept budget the deployed operating point is chosen for, on a validation stream
#: this many times the suite's stream length (``ghost-kws operating-point``).
TARGET_FA_PER_HOUR = 1.0
VALIDATION_LENGTH = 2.0


def _stream(out: Path, data: DataChoice, minutes: float, name: str) -> tuple[Path, Path]:
    """One of the suite's :data:`STREAMS` (built once per length, then reused)."""
    from ghost_keras import data as kws_data
    from ghost_keras.data.long_stream import make_long_stream, write_stream
    from ghost_keras.training import TrainConfig, load_index

    spec = dict(STREAMS[name])
    length, noise, seed = spec.pop("length"), spec.pop("noise"), spec.pop("seed")
    folder = out / "streams"
    stem = "test" if name == "test" else f"test_{name}"
    wav = folder / f"{stem}_{minutes * length:g}min_seed{seed}.wav"
    csv = wav.with_suffix(".csv")
    if wav.is_file() and csv.is_file():
        return wav, csv

    def data_index() -> Any:
        return load_index(TrainConfig(data_dirs=data.data_dirs, seed=0, **(
            {"synthetic_clips_per_word": data.synthetic_clips_per_word}
            if data.synthetic_clips_per_word else {})))

    if data.split_dirs:  # real data: the test-split speakers of the speaker-split folder
        index = kws_data.scan(data.split_dirs[0], split="none").with_speaker_split(
            tuple(data.speaker_split), seed=0)
    else:
        index = data_index()
    recordings = None
    if noise == "background":  # the data folders' _background_noise_ recordings
        recordings = (data_index() if data.split_dirs else index).background_noise()
        if not recordings:
            raise FileNotFoundError(f"no _background_noise_ recordings in {data.data_dirs}")
    audio, truth = make_long_stream(index, 60.0 * minutes * length, seed=seed, split="test",
                                    noise=recordings, **spec)
    write_stream(wav, csv, audio, truth)
    return wav, csv


def _stream_info(wav: Path, csv: Path) -> dict[str, Any]:
    lines = csv.read_text().splitlines()[1:]
    keywords = sum(1 for line in lines if not line.startswith(("_silence_", "_unknown_")))
    unknown = sum(1 for line in lines if line.startswith("_unknown_"))
    return {"wav": wav.name, "items": len(lines), "keywords": keywords, "unknown": unknown}


def _at_operating_point(run_dir: Path, streams: dict[str, tuple[Path, Path]], minutes: float,
                        every: int, out: Path, key: str
                        ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The run's operating point for :data:`TARGET_FA_PER_HOUR` (chosen on a stream of its
    validation speakers, reused when ``export.json`` has one of the same target and stream),
    and the int8 TFLM evaluation of every suite stream at it (DET at its window/suppression)."""
    from firmware_export.evaluate import stream_eval, tune_operating_point
    from firmware_export.evaluate.operating_point import DEFAULT_VALIDATION_SEED

    info = json.loads((run_dir / "export" / "export.json").read_text())
    point = info.get("operating_point") or {}
    val_minutes = minutes * VALIDATION_LENGTH
    same = (point.get("target_fa_per_hour") == TARGET_FA_PER_HOUR
            and (point.get("validation_stream") or {}).get("minutes") == val_minutes
            and (point.get("validation_stream") or {}).get("seed") == DEFAULT_VALIDATION_SEED)
    if not same:
        progress(f"streaming {key}: operating point for {TARGET_FA_PER_HOUR:g} FA/h on a "
                 f"{val_minutes:g}-min validation stream")
        point = tune_operating_point(run_dir, TARGET_FA_PER_HOUR, minutes=val_minutes)
    results = {}
    for name, (wav, csv) in streams.items():
        results[name] = stream_eval(run_dir, wav, csv, every=every, float_step=False,
                                    float_window_every=None, thresholds=STREAM_THRESHOLDS,
                                    parts=1, out_dir=out / "streaming" / f"{key}_point_{name}")
    return point, results


def _point_row(point: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """FRR and FA/h (with its 95% Poisson interval) of a stream at the operating point, and
    the validation figures the point was chosen on."""
    from firmware_export.evaluate import fa_rate_interval

    m = result["runs"]["tflm_int8"]["metrics"]
    rec = point["recognizer"]
    low, high = fa_rate_interval(m["false_accepts"], m["hours"])
    curve = result["runs"]["tflm_int8"]["det"]
    return {"probability": rec["detection_probability"],
            "window_ms": rec["average_window_ms"], "suppression_ms": rec["suppression_ms"],
            "minimum_count": rec["minimum_count"], "val_frr": point["frr"],
            "val_fa_h": point["fa_per_hour"], "frr": m["frr"], "fa_h": m["fa_per_hour"],
            "fa_h_low": low, "fa_h_high": high, "false_accepts": m["false_accepts"],
            "hours": m["hours"], "targets": m["targets"],
            **{f"frr_at_{x}fa_h": frr_at(curve, x) for x in FA_PER_HOUR_POINTS}}


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


def _checks(rows: list[dict[str, Any]], trained: str) -> dict[str, Any]:
    """Checks of GhostGRU-S r2 stream-trained by recipe ``trained``, int8 on TFLM with its
    state carried: FRR at most the windowed re-run's at 1/5/20 FA/h, its compute against that
    re-run's, and the first against the last tenth of the stream (drift)."""
    def find(training: str, scorer: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["model"] == "ghost_gru_S_r2"
                     and r["training"] == training and r["scorer"] == scorer), None)

    step = find(trained, "tflm_int8")
    if step is None:
        return {}
    out: dict[str, Any] = {"training": trained}
    for training in (trained, "clip"):
        window = find(training, "float_window_every1")
        if window is None:
            continue
        better = []
        for x in FA_PER_HOUR_POINTS:
            a, b = step[f"frr_at_{x}fa_h"], window[f"frr_at_{x}fa_h"]
            better.append(b is None or (a is not None and a <= b))
        which = "clip" if training == "clip" else "stream"
        out[f"step_frr_le_window_{which}_at_1_5_20_fa_h"] = better
        out[f"compute_ratio_vs_window_{which}"] = (
            step["mmacs_per_s"] / window["mmacs_per_s"] if window["mmacs_per_s"] else None)
    out["last_tenth_vs_first_tenth"] = {
        "frr": [step["first_tenth_frr"], step["last_tenth_frr"]],
        "fa_h": [step["first_tenth_fa_h"], step["last_tenth_fa_h"]]}
    return out


def _point_checks(point_rows: list[dict[str, Any]], trained: str) -> dict[str, Any]:
    """GhostGRU-S r2 stream-trained by recipe ``trained``, at the operating point chosen for
    the target on its validation stream: the test stream's FA/h against the target (goal:
    within 2x), and the FA/h of the test and negative-only streams pooled (three hours: a
    tighter interval)."""
    from firmware_export.evaluate import fa_rate_interval

    rows = {r["stream"]: r for r in point_rows
            if r["model"] == "ghost_gru_S_r2" and r["training"] == trained}
    if "test" not in rows:
        return {}
    ratio = rows["test"]["fa_h"] / TARGET_FA_PER_HOUR
    out = {"test_fa_h_vs_target": ratio, "test_fa_h_within_2x_of_target": 0.5 <= ratio <= 2.0}
    pooled = [rows[n] for n in ("test", "negatives") if n in rows]
    false_accepts, hours = sum(r["false_accepts"] for r in pooled), sum(r["hours"] for r in pooled)
    out["test_and_negatives_fa_h"] = false_accepts / hours
    out["test_and_negatives_fa_h_interval"] = list(fa_rate_interval(false_accepts, hours))
    return out


def suite_streaming(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                    models: list[str] | None = None, epochs: int | None = None,
                    rows: list[str] | None = None, stream_seeds: int = 1) -> dict[str, Any]:
    """The suite's rows (model, training, scorer), checks, evaluations and DET plot;
    ``rows``: the :data:`STREAM_RECIPES` to train (default: ``stream``).

    ``stream_seeds``: each recipe is stream-trained with this many seeds on the same clip run
    (seed 0). Seed 0 is the row named by its recipe, with the float baselines, the checks and
    the plot; seed ``s > 0`` is ``"<recipe> seed s"``, int8 on TFLM only, and
    ``stream_seed_summary`` gives each recipe's mean and spread over its seeds."""
    from firmware_export.pipeline import RECOGNIZER_DEFAULTS, export_run
    from firmware_export.evaluate import stream_eval
    from ghost_keras.quantization import qat_model_path, qat_run
    from ghost_keras.stream_training import StreamTrainConfig, stream_train

    tiny = tiny_mode(quick)
    minutes = 1.0 if tiny else 5.0 if quick else 60.0
    epochs = epochs or (1 if tiny else 3 if quick else PAPER_EPOCHS)
    stream_config = (StreamTrainConfig(epochs=1, minutes_per_epoch=2, validation_minutes=1,
                                       chunk_frames=250)
                     if tiny else
                     StreamTrainConfig(epochs=1, minutes_per_epoch=10, validation_minutes=2)
                     if quick else StreamTrainConfig())
    seed = 0
    recipes = rows or ["stream"]
    unknown = set(recipes) - set(STREAM_RECIPES)
    if unknown:
        raise SystemExit(f"streaming: unknown rows {sorted(unknown)}; choose from "
                         f"{sorted(STREAM_RECIPES)}.")
    specs = [s for s in STREAMING_SPECS if not models or spec_name(*s) in models]
    streams = {name: _stream(out, data, minutes, name) for name in STREAMS}
    wav, csv = streams["test"]
    rows, evals, curves = [], {}, {}  # curves: "<model> <training>" -> scorer -> DET points
    point_rows, point_curves = [], {}  # at the deployed operating point
    for arch, size, ratio in specs:
        name = spec_name(arch, size, ratio)
        clip_dir = run_folder(out, arch, size, ratio, seed)
        if not reusable(clip_dir, run_config(out, arch, size, ratio, seed, data, epochs,
                                              LEARNING_RATES)):
            train_one(out, arch, size, ratio, seed, data, epochs, 0, LEARNING_RATES,
                      tag="streaming")
        elif not _finished(clip_dir):  # trained (e.g. by the paper suite), export pending
            progress(f"streaming {name}: int8 export of {clip_dir}")
            export_run(clip_dir)
        variants = [("clip", clip_dir, 0)]
        for recipe, stream_seed in ((r, k) for r in (recipes if arch != "ds_cnn" else [])
                                    for k in range(stream_seeds)):
            config = dataclasses.replace(stream_config, **STREAM_RECIPES[recipe],
                                         seed=stream_seed)
            stream_dir = clip_dir.with_name(f"{clip_dir.name}_{recipe.replace('+', '_')}"
                                            + (f"_seed{stream_seed}" if stream_seed else ""))
            trained = (_stream_config(stream_dir) == config.to_dict()
                       and (stream_dir / "model.keras").is_file())
            if not trained:
                progress(f"streaming {name}: {recipe} training -> {stream_dir}")
                stream_train(clip_dir, stream_dir, config, verbose=1)
            if not trained or not qat_model_path(stream_dir).is_file():
                progress(f"streaming {name}: per-frame QAT and int8 export of {stream_dir}")
                qat_run(stream_dir, verbose=0)  # per frame, on training streams
                export_run(stream_dir)
            elif not _finished(stream_dir):
                export_run(stream_dir)
            variants.append((seed_label(recipe, stream_seed), stream_dir, stream_seed))
        for training, run_dir, stream_seed in variants:
            window = arch == "ds_cnn"
            progress(f"streaming {name} {training}-trained: scoring the {minutes:g}-min stream")
            started = time.perf_counter()
            every = TFLM_WINDOW_EVERY if window else 1
            key = f"{name}_{training}".replace(" seed ", "_seed")
            result = stream_eval(run_dir, wav, csv, every=every, float_step=not stream_seed,
                                 float_window_every=None if stream_seed else 1,
                                 thresholds=STREAM_THRESHOLDS, parts=PARTS,
                                 settings=dict(RECOGNIZER_DEFAULTS),
                                 out_dir=out / "streaming" / key)
            evals[key] = {"run_dir": str(run_dir), "json": result.get("json"),
                          "agreement": result["agreement"]}
            if not stream_seed:  # the plot: one curve per model and recipe
                curves[f"{name} {training}"] = {
                    scorer: [{k: c[k] for k in ("probability", "frr", "fa_per_hour")}
                             for c in run["det"]] for scorer, run in result["runs"].items()}
            progress(f"streaming {name} {training}-trained: scored in "
                     f"{(time.perf_counter() - started) / 60:.1f} min")
            new = _summary_rows(name, training, result)
            for r in new:
                print(json.dumps(r), flush=True)
            rows.extend(new)
            point, at_point = _at_operating_point(run_dir, streams, minutes, every, out, key)
            for stream_name, r in at_point.items():
                row = {"model": name, "training": training, "stream": stream_name,
                       **_point_row(point, r)}
                print(json.dumps(row), flush=True)
                point_rows.append(row)
                if not stream_seed:
                    point_curves[f"{name} {training} {stream_name}"] = (
                        r["runs"]["tflm_int8"]["det"])
    # The checks read the last stream-training recipe asked for (the one under test).
    suite = {"summary": rows, "checks": {**_checks(rows, recipes[-1]),
                                         **_point_checks(point_rows, recipes[-1])},
             "evals": evals, "det": curves,
             "operating_point": point_rows, "operating_point_det": point_curves,
             "target_fa_per_hour": TARGET_FA_PER_HOUR,
             "streams": {n: _stream_info(w, c) for n, (w, c) in streams.items()},
             "stream": {**_stream_info(wav, csv), "wav": str(wav), "truth": str(csv),
                        "minutes": minutes, "snr_db": STREAMS["test"]["snr_db"]},
             "stream_training": stream_config.to_dict(),
             "stream_recipes": {r: STREAM_RECIPES[r] for r in recipes}, "epochs": epochs,
             "stream_seeds": stream_seeds,
             "stream_seed_summary": seed_summary(rows, point_rows) if stream_seeds > 1 else [],
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
    # Each run's operating point measured on this stream (results that have one): a star, and
    # then no ring at the firmware's default threshold.
    points = {f"{r['model']} {r['training']}": (r["fa_h"], r["frr"])
              for r in result.get("operating_point", []) if r["stream"] == "test"}
    if points:
        title += (f"; ★ each run's deployed operating point for "
                  f"{result.get('target_fa_per_hour', TARGET_FA_PER_HOUR):g} FA/h")
    plot = out / "streaming_det.png"
    plot_det({name: runs[deployed] for name, runs in curves.items() if deployed in runs},
             plot, title=title, mark_probability=None if points else probability,
             baselines={name: {s: c for s, c in runs.items() if s != deployed}
                        for name, runs in curves.items()}, deployed_points=points)
    return [plot.name]

