"""Benchmark suites: ``python -m benchmarks.run SUITE [--quick] [--data real|synthetic]``.

Suites (each prints a table and writes ``<results>/<suite>.json``, ``.md`` and PNG plots):

- ``paper``: GRU vs GhostGRU (ratios 2, 4) at the Hello Edge sizes, plus LSTM, GhostLSTM and
  DS-CNN at S, trained the same way: params, int8 flash, MACs, state, float accuracy and
  int8 accuracy on TFLM (QAT when available), mean and spread over seeds.
- ``train_speed``: training step time of GhostGRU vs keras GRU of the same full width and of
  the same intrinsic width, and of the GhostGRU cell run step by step, side by side in one
  process.
- ``deploy``: for every exported run under ``<results>/runs/``: ``.tflite`` bytes vs int8
  weight bytes, smallest TFLM arena, ops, host invoke time, and the cost of streaming (one
  step per 20 ms frame) against recomputing the whole 1-s window at every stride.
- ``redundancy``: the GhostRNN paper's Figs. 1-2 (cosine similarity of hidden-state
  dimensions, state values) for the seed-0 ``gru_S`` and ``ghost_gru_S_r2`` runs, with the
  redundancy statistics (:mod:`ghost_keras.redundancy`).
- ``streaming``: GRU-S, GhostGRU-S r2 (clip-trained and stream-trained) and DS-CNN-S on a long
  stream of test speakers, float and int8 on TFLM: FRR at 1/5/20 FA/h, drift, compute per
  second of audio (:mod:`benchmarks.streaming`).

``deploy`` and ``redundancy`` reuse the runs ``paper`` trained into the same ``--out``; with
``--quick`` they train two tiny runs (GRU-S, GhostGRU-S r2) when there are none.
``python -m benchmarks.report RESULTS`` turns the JSON files into ``docs/results.md``.

Real data (the default): train on ``mini_speech_commands_flac`` plus 50% of the speakers of
``speech_commands_v2_test12_dev``; validate on 10% and test on the other 40% of its speakers,
so no test speaker is seen in training. ``--data synthetic`` uses the eSpeak NG set instead.
``--quick`` runs tiny settings (S only, few epochs, one seed) for CI-style checks; with the
environment variable ``GHOST_KWS_BENCH_TINY=1`` quick mode is smaller still (1 epoch, a
20-clips-per-word synthetic set, few clips and repeats): what ``tests/test_benchmarks.py`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import device_cost
from benchmarks.common import (SHARED_DATA, TINY_CLIPS_PER_WORD, DataChoice, FoundRun,
                               data_choice, find_runs, markdown_table, progress, quick_runs,
                               tiny_mode)
from benchmarks.paper import suite_paper
from benchmarks.streaming import suite_streaming
from ghost_keras.fileio import atomic_write_json, atomic_write_text


# -- train_speed ----------------------------------------------------------------------------

def suite_train_speed(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                      **_unused: Any) -> dict[str, Any]:
    """Training step time on random 49x40 batches: the recurrence's cost, not the data's.

    Each model is timed in ``rounds`` interleaved rounds of ``steps`` steps and keeps its best
    round, so a burst of load on a shared machine does not fall on one model only.
    """
    import numpy as np
    import tf_keras as keras

    from ghost_keras.layers import GhostGRU, GhostGRUCell

    rows = []
    batch, steps = 100, (2 if tiny_mode(quick) else 5 if quick else 30)
    rounds = 1 if tiny_mode(quick) else 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 49, 40)).astype("float32")
    y = rng.integers(0, 12, batch)
    for units in ((154,) if quick else (154, 250, 400)):
        layers = {
            f"GRU({units})": lambda u=units: keras.layers.GRU(u),
            f"GhostGRU({units}, r2)": lambda u=units: GhostGRU(u, ratio=2),
            # Its time loop (what sequences longer than AUTO_UNROLL_STEPS get).
            f"GhostGRU({units}, r2, unroll=False)":
                lambda u=units: GhostGRU(u, ratio=2, unroll=False),
            # The same layer computed step by step through its cell (Keras' generic RNN).
            f"RNN(GhostGRUCell({units}, r2)) (per-step cell)":
                lambda u=units: keras.layers.RNN(GhostGRUCell(u, ratio=2)),
            f"GRU({units // 2}) (intrinsic width)": lambda u=units: keras.layers.GRU(u // 2),
        }
        models = {}
        for name, make in layers.items():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((49, 40)), make(), keras.layers.Dense(12)])
            model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(x, y)  # build and trace outside the timed region
            models[name] = model
        times = {name: float("inf") for name in models}
        for _ in range(rounds):
            for name, model in models.items():
                start = time.perf_counter()
                for _ in range(steps):
                    model.train_on_batch(x, y)
                times[name] = min(times[name], (time.perf_counter() - start) / steps)
        gru = times[f"GRU({units})"]
        for name, seconds in times.items():
            rows.append({"layer": name, "step_ms": 1000 * seconds, "vs_GRU_same_width": seconds / gru})
    return {"summary": rows, "batch": batch, "steps": steps, "rounds": rounds}


# -- deploy ----------------------------------------------------------------------------------

def _run_profile(run: FoundRun) -> dict[str, Any]:
    """The run's :class:`~ghost_keras.profile.ModelProfile` as a dict (from ``metrics.json``,
    else by loading the model)."""
    metrics = run.path / "metrics.json"
    if metrics.is_file():
        profile = json.loads(metrics.read_text()).get("profile")
        if profile:
            return profile
    from ghost_keras.profile import profile_model
    from ghost_keras.training import load_run

    return profile_model(load_run(run.path)[0]).to_dict()


def deploy_row(run: FoundRun, repeats: int) -> dict[str, Any]:
    """Flash, arena, ops, host time and streaming cost of one exported run."""
    from firmware_export.pipeline import WINDOW_EVERY_FRAMES
    from firmware_export.tflite_model import read_tflite
    from firmware_export.tflm import TflmInterpreter, find_smallest_arena, time_invoke

    info = json.loads((run.path / "export" / "export.json").read_text())
    tflite = (run.path / "export" / "model_int8.tflite").read_bytes()
    model_info = read_tflite(tflite)
    profile = _run_profile(run)
    arena = find_smallest_arena(tflite)
    timing = time_invoke(TflmInterpreter(tflite, arena), repeats=repeats)
    kind, frames = info["model"]["kind"], int(info["model"]["frames"])
    frames_per_s = 1000.0 / float(info["frontend"]["stride_ms"])
    per_frame, per_window = int(profile["macs_per_frame"]), int(profile["macs_per_decision"])
    if kind == "step":
        # One invoke per frame, state carried: a 1-s decision is `frames` invokes.
        decision_invokes, decision_macs = frames, per_frame * frames
        stream_macs_per_s = per_frame * frames_per_s
    else:
        # A window model: one invoke is a decision; the firmware re-runs it every
        # WINDOW_EVERY_FRAMES frames.
        decision_invokes, decision_macs = 1, per_window
        stream_macs_per_s = per_window * frames_per_s / WINDOW_EVERY_FRAMES
    window_macs_per_s = per_window * frames_per_s  # the whole window again at every stride
    return {
        "model": run.model, "kind": kind,
        "tflite_bytes": len(tflite), "int8_weight_bytes": int(profile["int8_bytes"]),
        "tflite_vs_weights": len(tflite) / int(profile["int8_bytes"]),
        "arena_bytes": arena, "operators": model_info.num_operators,
        "ops": ", ".join(model_info.ops),
        "invoke_us": timing.median_us, "decision_invokes": decision_invokes,
        "decision_macs": decision_macs, "decision_host_us": decision_invokes * timing.median_us,
        "stream_macs_per_s": round(stream_macs_per_s),
        "window_macs_per_s": round(window_macs_per_s),
        "window_vs_stream": window_macs_per_s / stream_macs_per_s,
        "run": run.path.name,
    }


def suite_deploy(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                 models: list[str] | None = None, **_unused: Any) -> dict[str, Any]:
    """Deployment cost of every exported run under ``<out>/runs`` (one row per model: its
    lowest seed; the others have the same graph)."""
    if quick:
        quick_runs(out, data, quick, models, need_export=True)
    runs = [r for r in find_runs(out) if r.exported and (not models or r.model in models)]
    if not runs:
        raise SystemExit(f"no exported runs under {out / 'runs'}: run the paper suite with "
                         f"--out {out} first (or use --quick)")
    repeats = 50 if tiny_mode(quick) else 200 if quick else 1000
    trees = device_cost.tflm_trees()
    wav = None
    if trees is None:
        print("deploy: no TFLM trees (set GHOST_KERAS_TFLM_TREES): no Cortex-M4 figures",
              flush=True)
    else:
        wav = device_cost.speech_wav(SHARED_DATA / "speech_commands_v2_test12_dev",
                                     5 if quick else 20, out / "device_speech.wav")
    rows, details = [], []
    for model in dict.fromkeys(r.model for r in runs):
        run = next(r for r in runs if r.model == model)
        progress(f"deploy {model}: arena search and {repeats} timed invokes ({run.path.name})")
        row = deploy_row(run, repeats)
        if trees is not None:
            print(f"deploy: {model} on the Cortex-M4 (QEMU)", flush=True)
            m4 = device_cost.device_cost(run.path, wav, trees)
            for kernels in device_cost.KERNELS:
                for key, value in m4[kernels].items():
                    row[f"m4_{kernels}_{key}"] = value
        print(json.dumps(row), flush=True)
        rows.append(row)
        report = json.loads((run.path / "export" / "export.json").read_text())["report"]
        details.append({"model": model, "run_dir": str(run.path),
                        "seeds_found": [r.seed for r in runs if r.model == model],
                        "export_arena_bytes": report["arena_bytes"],
                        "export_invoke_us": report["invoke_us"],
                        "int8_tflm_accuracy": report["accuracy"],
                        "ops": row["ops"].split(", ")})
    return {"summary": rows, "models": details, "invoke_repeats": repeats,
            "note": ("step models: one invoke per 20 ms frame (state carried), a 1-s decision "
                     "is 49 invokes; window models (ds_cnn): one invoke per decision, re-run "
                     "every 5 frames when deployed. window_macs_per_s: the whole 49-frame "
                     "window recomputed at every 20 ms stride. Host times are TFLM reference "
                     "kernels on this PC, a relative measure only. m4_*: the firmware folder "
                     "on a Cortex-M4 under QEMU (benchmarks/device_cost.py): executed "
                     "instructions (not cycles) per Invoke() and per 20 ms stride (front end "
                     "+ invoke + recognizer; medians, window models invoke every 5th stride: "
                     "see the _mean column), flash = text + data and static RAM = data + bss "
                     "of the whole test firmware, heap = the front end's, arena = smallest "
                     "that allocates and invokes on the M4.")}


# -- redundancy ------------------------------------------------------------------------------

#: The runs (seed 0) the redundancy suite analyses: the paper's GRU and its GhostGRU.
REDUNDANCY_MODELS = ["gru_S", "ghost_gru_S_r2"]


def _intrinsic_units(run: FoundRun) -> tuple[int, int]:
    """(state units, intrinsic units) of the run's first recurrent layer."""
    import tf_keras as keras

    from ghost_keras.training import load_run

    model, _ = load_run(run.path)
    cell = next(layer for layer in model.layers if isinstance(layer, keras.layers.RNN)).cell
    units = int(cell.units)
    return units, int(getattr(cell, "intrinsic_units", units))


def suite_redundancy(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                     models: list[str] | None = None, **_unused: Any) -> dict[str, Any]:
    """Figs. 1-2 of the GhostRNN paper on our trained GRU-S and GhostGRU-S r2 (test clips)."""
    from ghost_keras.redundancy import analyse_run, cosine_matrix, redundancy_stats

    wanted = [m for m in REDUNDANCY_MODELS if not models or m in models] or REDUNDANCY_MODELS
    if quick:
        quick_runs(out, data, quick, wanted, need_export=False)
    found = {r.model: r for r in find_runs(out) if r.seed == 0}
    missing = [m for m in wanted if m not in found]
    if missing:
        raise SystemExit(f"no trained seed-0 runs of {missing} under {out / 'runs'}: run the "
                         f"paper suite with --out {out} first (or use --quick)")
    max_clips = 16 if tiny_mode(quick) else 64 if quick else 256
    rows, plots, details = [], [], []
    for name in wanted:
        run = found[name]
        progress(f"redundancy {name}: states of up to {max_clips} test clips ({run.path.name})")
        units, intrinsic = _intrinsic_units(run)
        boundaries = [intrinsic] if intrinsic < units else []
        result = analyse_run(run.path, out_dir=out / "redundancy" / name, max_clips=max_clips,
                             title=f"{name} (seed {run.seed})", boundaries=boundaries)
        stats = result.stats
        pearson = redundancy_stats(cosine_matrix(result.states, center=True),
                                   samples=stats.samples, centered=True)
        inner = (redundancy_stats(result.cosine[:intrinsic, :intrinsic]) if boundaries else None)
        for key, suffix in (("cosine_matrix", "cosine"), ("state_values", "states")):
            target = out / f"redundancy_{name}_{suffix}.png"
            shutil.copyfile(result.paths[key], target)
            plots.append(target.name)
        rows.append({
            "model": name, "units": units, "intrinsic_units": intrinsic,
            "clips": int(result.states.shape[0]), "samples": stats.samples,
            "redundant_units": stats.redundant_units,
            "redundant_share": stats.redundant_share,
            "mean_best_abs_cos": stats.mean_max_abs_cos,
            "median_best_abs_cos": stats.median_max_abs_cos,
            "pairs_above": stats.pairs_above, "mean_abs_cos": stats.mean_abs_cos,
            "pearson_redundant_share": pearson.redundant_share,
            "pearson_mean_best_abs_r": pearson.mean_max_abs_cos,
            "intrinsic_redundant_share": inner.redundant_share if inner else None,
        })
        print(json.dumps(rows[-1]), flush=True)
        details.append({"model": name, "run_dir": str(run.path), "cosine": stats.to_dict(),
                        "pearson": pearson.to_dict(),
                        "intrinsic_only": inner.to_dict() if inner else None})
    return {"summary": rows, "plots": plots, "details": details, "threshold": stats.threshold,
            "max_clips": max_clips,
            "note": ("hidden state of the first recurrent layer after every frame of up to "
                     f"{max_clips} test clips, streamed one frame at a time from a zero state. "
                     f"redundant: a dimension whose most similar other dimension has |cos| > "
                     f"{stats.threshold:g}; pearson_*: the same after removing each dimension's "
                     "mean; intrinsic_*: among a GhostGRU's intrinsic dimensions only.")}


SUITES: dict[str, Callable[..., dict[str, Any]]] = {
    "paper": suite_paper,
    "train_speed": suite_train_speed,
    "deploy": suite_deploy,
    "redundancy": suite_redundancy,
    "streaming": suite_streaming,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="+", choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI-style check)")
    parser.add_argument("--data", default="real",
                        help="real (../shared/data), synthetic, or a Speech Commands folder")
    parser.add_argument("--seeds", type=int, help="seeds for GRU/GhostGRU at S (default 3, quick 1; other models: 1)")
    parser.add_argument("--models", nargs="*", help="paper, deploy, redundancy: only these (e.g. gru_S ghost_gru_S_r2)")
    parser.add_argument("--epochs", type=int, help="paper, streaming: training epochs (default 12, quick 3, tiny 1)")
    parser.add_argument("--out", default="results", help="results folder")
    parser.add_argument("--resume", action="store_true",
                        help="paper: reuse a run's float model when its training config is the "
                             "same (quantization, QAT and export are redone)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = data_choice(args.data)
    if tiny_mode(args.quick) and args.data == "synthetic":
        data = replace(data, name=f"{data.name}, {TINY_CLIPS_PER_WORD} clips per word",
                       synthetic_clips_per_word=TINY_CLIPS_PER_WORD)
    for name in args.suites:
        start = time.perf_counter()
        extra = {"resume": args.resume} if name == "paper" else {}
        result = SUITES[name](out, args.quick, data, args.seeds, models=args.models,
                              epochs=args.epochs, **extra)
        result.update({
            "suite": name, "quick": args.quick, "data": data.name,
            "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"), "wall_seconds": time.perf_counter() - start,
            "tiny": tiny_mode(args.quick),
        })
        columns = list(result["summary"][0]) if result["summary"] else []
        result["columns"] = columns  # the JSON's keys are sorted; the report keeps this order
        atomic_write_json(out / f"{name}.json", result)
        table = markdown_table(result["summary"], columns)
        atomic_write_text(out / f"{name}.md", (
            f"# {name}\n\nData: {result['data']}. Machine: {result['machine']}. Date: "
            f"{result['date']}. Wall time: {result['wall_seconds'] / 60:.1f} min.\n\n"
            f"Command: `{result['command']}`\n\n{table}\n"
            + "".join(f"\n![{png}]({png})\n" for png in result.get("plots", []))))
        print(f"\n== {name} ({result['wall_seconds'] / 60:.1f} min) ==\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
