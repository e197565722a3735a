"""Benchmark suites: ``python -m benchmarks.run SUITE [--quick] [--data real|synthetic]``.

Suites (each prints a table and writes ``<results>/<suite>.json``, ``.md`` and PNG plots):

- ``paper``: GRU vs GhostGRU (ratios 2, 4) at the Hello Edge sizes, plus LSTM, GhostLSTM and
  DS-CNN at S, trained the same way: params, int8 flash, MACs, state, float accuracy and
  int8 accuracy on TFLM (QAT when available), mean and spread over seeds.
- ``train_speed``: training step time of GhostGRU vs keras GRU of the same full width and of
  the same intrinsic width, side by side in one process.

Real data (the default): train on ``mini_speech_commands_flac`` plus 50% of the speakers of
``speech_commands_v2_test12_dev``; validate on 10% and test on the other 40% of its speakers,
so no test speaker is seen in training. ``--data synthetic`` uses the eSpeak NG set instead.
``--quick`` runs tiny settings (S only, few epochs, one seed) for CI-style checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ghost_keras  # noqa: F401  (tf-keras before TensorFlow)
from ghost_keras.fileio import atomic_write_json, atomic_write_text

SHARED_DATA = Path(os.environ.get(
    "GHOST_KERAS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: The GhostRNN paper's and Hello Edge's published KWS figures (design note sections 1-2),
#: shown beside ours. Hello Edge: Speech Commands v1, 12 labels, 10 MFCC.
PUBLISHED = {
    "gru_S": "Hello Edge GRU-S: 93.5% (78,090 params, 1.90M MACs, 25 frames)",
    "gru_M": "Hello Edge GRU-M: 198,762 params, 9.56M MACs",
    "gru_L": "Hello Edge GRU-L: 498,012 params, 24.11M MACs",
    "ghost_gru_S": "GhostRNN: +0.1% accuracy vs GRU with ~40% fewer params (secondary summary)",
    "lstm_S": "Hello Edge Basic LSTM 92.0%",
    "ds_cnn_S": "Hello Edge DS-CNN-S 94.4%; MLPerf Tiny int8 53,936 B, 2.66M MACs",
}


@dataclass
class DataChoice:
    name: str
    data_dirs: list[str]
    split_dirs: list[str]
    speaker_split: list[float]


def data_choice(name: str) -> DataChoice:
    if name == "synthetic":
        return DataChoice("synthetic (eSpeak NG)", [], [], [0.8, 0.1, 0.1])
    mini = SHARED_DATA / "mini_speech_commands_flac"
    test12 = SHARED_DATA / "speech_commands_v2_test12_dev"
    for folder in (mini, test12):
        if not folder.is_dir():
            raise SystemExit(f"real data not found at {folder}; set GHOST_KERAS_SHARED_DATA or "
                             "use --data synthetic")
    return DataChoice("real: mini_speech_commands + 50/10/40 speaker split of test12_dev",
                      [str(mini)], [str(test12)], [0.5, 0.1, 0.4])


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


# -- paper -----------------------------------------------------------------------------------

PAPER_FULL = [(a, s, r) for s in "SML" for a, r in (("gru", 1), ("ghost_gru", 2), ("ghost_gru", 4))]
PAPER_FULL += [("lstm", "S", 1), ("ghost_lstm", "S", 2), ("ds_cnn", "S", 1)]
PAPER_QUICK = [("gru", "S", 1), ("ghost_gru", "S", 2)]


def _train_one(out: Path, arch: str, size: str, ratio: int, seed: int, data: DataChoice,
               epochs: int, qat_epochs: int, learning_rates: list[float]) -> dict[str, Any]:
    from firmware_export.pipeline import export_run
    from ghost_keras.training import TrainConfig, train

    run_dir = out / "runs" / f"{arch}_{size}_r{ratio}_seed{seed}"
    config = TrainConfig(arch=arch, size=size, ratio=max(ratio, 1), data_dirs=data.data_dirs,
                         split_dirs=data.split_dirs, speaker_split=data.speaker_split,
                         epochs=epochs, learning_rates=learning_rates, seed=seed,
                         out_dir=str(run_dir), cache_dir=str(out / "cache"))
    start = time.perf_counter()
    result = train(config, verbose=0)
    qat_accuracy = None
    if qat_epochs:
        from ghost_keras.quantization import qat_run

        qat_accuracy = qat_run(run_dir, epochs=qat_epochs, verbose=0)
    export = export_run(run_dir)
    p = result.profile
    return {
        "model": _spec_name(arch, size, ratio),
        "arch": arch, "size": size, "ratio": ratio, "seed": seed,
        "params": p.params, "int8_weight_bytes": p.int8_bytes,
        "tflite_bytes": export.report.model_bytes, "arena_bytes": export.report.arena_bytes,
        "macs_per_frame": p.macs_per_frame, "macs_per_decision": p.macs_per_decision,
        "state_bytes": p.state_bytes, "float_accuracy": result.test_accuracy,
        "qat_accuracy": qat_accuracy, "int8_tflm_accuracy": export.report.accuracy,
        "int8_source": export.source, "epoch_seconds": result.epoch_seconds,
        "wall_seconds": time.perf_counter() - start,
    }


def _spec_name(arch: str, size: str, ratio: int) -> str:
    return f"{arch}_{size}" + (f"_r{ratio}" if arch.startswith("ghost") else "")


def suite_paper(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                models: list[str] | None = None, epochs: int | None = None) -> dict[str, Any]:
    specs = PAPER_QUICK if quick else PAPER_FULL
    if models:
        known = {_spec_name(*spec): spec for spec in PAPER_FULL}
        unknown = set(models) - set(known)
        if unknown:
            raise SystemExit(f"unknown models {sorted(unknown)}; choose from {sorted(known)}")
        specs = [known[m] for m in models]
    epochs, qat_epochs = (epochs or (3 if quick else 15)), (1 if quick else 2)
    rates = [3e-3, 1e-3, 3e-4]
    n_seeds = seeds or (1 if quick else 3)
    runs = []
    for arch, size, ratio in specs:
        for seed in range(n_seeds if size == "S" else 1):
            row = _train_one(out, arch, size, ratio, seed, data, epochs, qat_epochs, rates)
            print(json.dumps(row), flush=True)
            runs.append(row)
    summary = []
    for model in dict.fromkeys(r["model"] for r in runs):
        group = [r for r in runs if r["model"] == model]
        first = group[0]
        base = next((r for r in runs if r["arch"] == first["arch"].replace("ghost_", "")
                     and r["size"] == first["size"]), first)
        fa = _mean_std([r["float_accuracy"] for r in group])
        ia = _mean_std([r["int8_tflm_accuracy"] for r in group])
        summary.append({
            "model": model, "seeds": len(group), "params": first["params"],
            "params_vs_base": first["params"] / base["params"],
            "tflite_bytes": first["tflite_bytes"],
            "flash_vs_base": first["tflite_bytes"] / base["tflite_bytes"],
            "macs_per_frame": first["macs_per_frame"],
            "macs_per_decision": first["macs_per_decision"],
            "macs_vs_base": first["macs_per_decision"] / base["macs_per_decision"],
            "state_bytes": first["state_bytes"], "arena_bytes": first["arena_bytes"],
            "float_acc": f"{100 * fa[0]:.1f} ± {100 * fa[1]:.1f}",
            "int8_tflm_acc": f"{100 * ia[0]:.1f} ± {100 * ia[1]:.1f}",
            "int8_from": first["int8_source"],
            "published": PUBLISHED.get(f"{first['arch']}_{first['size']}", ""),
        })
    _plot_pareto(runs, out / "paper_pareto.png")
    return {"runs": runs, "summary": summary, "epochs": epochs, "qat_epochs": qat_epochs,
            "learning_rates": rates}


def _plot_pareto(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt

    from ghost_keras.plots import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "tflite_bytes", "int8 flash bytes"),
                           (axes[1], "macs_per_decision", "MACs per 1-s decision")):
        for model in dict.fromkeys(r["model"] for r in runs):
            group = [r for r in runs if r["model"] == model]
            xs = [r[key] for r in group]
            ys = [100 * r["int8_tflm_accuracy"] for r in group]
            ax.scatter(xs, ys, label=model)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("int8 accuracy on TFLM (%)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    save_figure(fig, path)


# -- train_speed ----------------------------------------------------------------------------

def suite_train_speed(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                      **_unused: Any) -> dict[str, Any]:
    """Training step time on random 49x40 batches: the recurrence's cost, not the data's."""
    import numpy as np
    import tf_keras as keras

    from ghost_keras.layers import GhostGRU

    rows = []
    batch, steps = 100, (5 if quick else 30)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 49, 40)).astype("float32")
    y = rng.integers(0, 12, batch)
    for units in ((154,) if quick else (154, 250, 400)):
        layers = {
            f"GRU({units})": lambda: keras.layers.GRU(units),
            f"GhostGRU({units}, r2)": lambda: GhostGRU(units, ratio=2),
            f"GRU({units // 2}) (intrinsic width)": lambda: keras.layers.GRU(units // 2),
        }
        times = {}
        for name, make in layers.items():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((49, 40)), make(), keras.layers.Dense(12)])
            model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(x, y)  # build and trace outside the timed region
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            times[name] = (time.perf_counter() - start) / steps
        gru = times[f"GRU({units})"]
        for name, seconds in times.items():
            rows.append({"layer": name, "step_ms": 1000 * seconds, "vs_GRU_same_width": seconds / gru})
    return {"summary": rows, "batch": batch, "steps": steps}


SUITES: dict[str, Callable[..., dict[str, Any]]] = {
    "paper": suite_paper,
    "train_speed": suite_train_speed,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="+", choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI-style check)")
    parser.add_argument("--data", default="real", choices=["real", "synthetic"])
    parser.add_argument("--seeds", type=int, help="seeds for the S models (default 3, quick 1)")
    parser.add_argument("--models", nargs="*", help="paper: only these (e.g. gru_S ghost_gru_S_r2)")
    parser.add_argument("--epochs", type=int, help="paper: training epochs (default 15, quick 3)")
    parser.add_argument("--out", default="results", help="results folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = data_choice(args.data)
    for name in args.suites:
        start = time.perf_counter()
        result = SUITES[name](out, args.quick, data, args.seeds, models=args.models,
                              epochs=args.epochs)
        result.update({
            "suite": name, "quick": args.quick, "data": data.name,
            "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"), "wall_seconds": time.perf_counter() - start,
        })
        atomic_write_json(out / f"{name}.json", result)
        columns = list(result["summary"][0]) if result["summary"] else []
        table = markdown_table(result["summary"], columns)
        atomic_write_text(out / f"{name}.md", (
            f"# {name}\n\nData: {result['data']}. Machine: {result['machine']}. Date: "
            f"{result['date']}. Wall time: {result['wall_seconds'] / 60:.1f} min.\n\n"
            f"Command: `{result['command']}`\n\n{table}\n"))
        print(f"\n== {name} ({result['wall_seconds'] / 60:.1f} min) ==\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
