"""The ``deploy`` suite: for every exported run under ``<results>/runs/``: ``.tflite`` bytes vs
int8 weight bytes, smallest TFLM arena, ops, host invoke time, and the cost of streaming (one
step per 20 ms frame) against recomputing the whole 1-s window at every stride; with the TFLM
trees at hand, the Cortex-M4 figures of :mod:`benchmarks.device_cost` too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import device_cost
from benchmarks.common import (SHARED_DATA, DataChoice, FoundRun, find_runs, progress,
                               quick_runs, tiny_mode)


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
    rows, details, device = [], [], []
    for model in dict.fromkeys(r.model for r in runs):
        run = next(r for r in runs if r.model == model)
        progress(f"deploy {model}: arena search and {repeats} timed invokes ({run.path.name})")
        row = deploy_row(run, repeats)
        if trees is not None:
            progress(f"deploy {model}: firmware on the Cortex-M4 (QEMU)")
            # Tests (tiny mode) skip the reference kernels (one TFLM build less on a new
            # machine) and the activation-tables-only row.
            tiny = tiny_mode(quick)
            kernels = ("cmsis_nn",) if tiny else tuple(device_cost.KERNELS)
            variants = tuple(v for v in device_cost.CMSIS_NN_VARIANTS
                             if not tiny or v[0] == "cmsis_nn_tflm_kernels")
            m4 = device_cost.device_cost(run.path, wav, trees, kernels, variants)
            device += [{"model": model, "kernels": k, **v} for k, v in m4.items()
                       if isinstance(v, dict)]
        print(json.dumps(row), flush=True)
        rows.append(row)
        report = json.loads((run.path / "export" / "export.json").read_text())["report"]
        details.append({"model": model, "run_dir": str(run.path),
                        "seeds_found": [r.seed for r in runs if r.model == model],
                        "export_arena_bytes": report["arena_bytes"],
                        "export_invoke_us": report["invoke_us"],
                        "int8_tflm_accuracy": report["accuracy"],
                        "ops": row["ops"].split(", ")})
    return {"summary": rows, "device": device,
            "models": details, "invoke_repeats": repeats,
            "note": ("step models: one invoke per 20 ms frame (state carried), a 1-s decision "
                     "is 49 invokes; window models (ds_cnn): one invoke per decision, re-run "
                     "every 5 frames when deployed. window_macs_per_s: the whole 49-frame "
                     "window recomputed at every 20 ms stride. Host times are TFLM reference "
                     "kernels on this PC, a relative measure only. The Cortex-M4 table: the "
                     "firmware folder built with its Makefile and run under QEMU "
                     "(benchmarks/device_cost.py): executed instructions (not cycles) per "
                     "Invoke() and per 20 ms stride (front end + invoke + recognizer; medians; "
                     "window models invoke every 5th stride: see the _mean column), flash = "
                     "text + data and static RAM = data + bss of the whole test firmware, heap "
                     "= the front end's after setup, arena = smallest that allocates and "
                     "invokes on the M4. Kernels cmsis_nn and reference: with the folder's own int8 "
                     "LOGISTIC/TANH/SOFTMAX (tables), FULLY_CONNECTED and ADD/SUB/MUL kernels "
                     "(TFLM's bytes); cmsis_nn_activation_tables: the folder's LOGISTIC/TANH "
                     "tables only; cmsis_nn_tflm_kernels: none of the folder's kernels.")}
