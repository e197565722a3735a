"""The ``paper`` suite: GRU vs GhostGRU (ratios 2, 4) at the Hello Edge sizes, plus LSTM,
GhostLSTM and DS-CNN at S, trained the same way: params, int8 flash, MACs, state, float accuracy
and int8 accuracy on TFLM (QAT when available), mean and spread over seeds, beside the published
figures, and a Pareto plot (accuracy against flash and MACs).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (LEARNING_RATES, PAPER_EPOCHS, PAPER_FULL, DataChoice, progress,
                               recorded_settings, run_config, run_settings,
                               spec_name, tiny_mode, train_one)
from ghost_keras.fileio import atomic_write_json

#: The suite's runs so far, rewritten after each one.
PARTIAL = "paper.partial.json"

#: The GhostRNN paper's (Zhou et al., Interspeech 2023, arXiv 2411.14489) and Hello Edge's
#: (Zhang et al. 2017, arXiv 1711.07128) published KWS figures,
#: shown beside ours. Hello Edge: Speech Commands v1, 12 labels, 10 MFCC.
PUBLISHED = {
    "gru_S": "Hello Edge GRU-S: 93.5% (78,090 params, 1.90M MACs, 25 frames)",
    "gru_M": "Hello Edge GRU-M: 198,762 params, 9.56M MACs",
    "gru_L": "Hello Edge GRU-L: 498,012 params, 24.11M MACs",
    "ghost_gru_S": "GhostRNN: +0.1% accuracy vs GRU with ~40% fewer params (secondary summary)",
    "lstm_S": "Hello Edge Basic LSTM 92.0%",
    "ds_cnn_S": "Hello Edge DS-CNN-S 94.4%; MLPerf Tiny int8 53,936 B, 2.66M MACs",
}

#: The models that get ``ml_seeds`` seeds at M and L (the paper's comparison); the others there
#: (GhostGRU r4) are one point each on the Pareto curve.
ML_SEEDED = {("gru", 1), ("ghost_gru", 2)}

#: The models of ``--quick``.
PAPER_QUICK = [("gru", "S", 1), ("ghost_gru", "S", 2)]


def recorded_runs(path: Path) -> list[dict[str, Any]]:
    """The runs of an earlier paper suite's JSON that carry their settings (older ones don't)."""
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SystemExit(f"--resume-from {path}: not a paper suite's JSON ({err}); pass the "
                         f"paper.json or {PARTIAL} an earlier run wrote") from None
    return [r for r in runs if isinstance(r, dict) and "settings" in r]


def _vs_base(row: dict[str, Any], base: dict[str, Any] | None, key: str) -> float | None:
    """``row[key]`` against its base model's; None (not a false 1) when the base did not run."""
    return row[key] / base[key] if base else None


def _mean_std(values: list[float]) -> tuple[float, float]:
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def suite_paper(out: Path, quick: bool, data: DataChoice, seeds: int | None,
                models: list[str] | None = None, epochs: int | None = None,
                resume: bool = False, resume_from: Sequence[Path] = (),
                ml_seeds: int = 1, int8_from: str = "best") -> dict[str, Any]:
    """Trains, quantizes and exports every model (``models``: only these) and seed; one row per
    run and, per model, the mean and spread over its seeds against its base (the GRU or LSTM of
    the same size).

    ``seeds``: seeds of each model at S; ``ml_seeds``: of GRU and GhostGRU r2 at M and L (at 30
    epochs 10-12 min per run on 2 cores, against 8-10 at S; :data:`ML_SEEDED`).
    ``int8_from``: the int8 model each run ships (:func:`firmware_export.pipeline.export_run`;
    ``"best"``: QAT or post-training int8, whichever is more accurate on the validation split
    on TFLM).

    ``resume_from``: ``paper.json`` or ``paper.partial.json`` files of earlier runs (the one
    committed beside ``docs/results.md``, say): their runs whose settings (:func:`run_settings`)
    equal this run's are taken as recorded instead of trained again (the first file that has a
    run wins), so a suite longer than one working session is finished in several."""
    specs = PAPER_QUICK if quick else PAPER_FULL
    if models:
        known = {spec_name(*spec): spec for spec in PAPER_FULL}
        unknown = set(models) - set(known)
        if unknown:
            raise SystemExit(f"unknown models {sorted(unknown)}; choose from {sorted(known)}")
        specs = [known[m] for m in models]
    epochs = epochs or (1 if tiny_mode(quick) else 3 if quick else PAPER_EPOCHS)
    from ghost_keras.quantization.run import DEFAULT_QAT_EPOCHS

    qat_epochs = 1 if quick else DEFAULT_QAT_EPOCHS  # at DEFAULT_QAT_LEARNING_RATE
    rates = LEARNING_RATES
    n_seeds = seeds or (1 if quick else 3)
    plan = [(arch, size, ratio, seed) for arch, size, ratio in specs
            for seed in range(n_seeds if size == "S" else
                              ml_seeds if (arch, ratio) in ML_SEEDED else 1)]
    # Each recorded row's settings read once, as this code would write them.
    recorded = [(recorded_settings(r["settings"]), r, path)
                for path in resume_from for r in recorded_runs(path)]
    runs = []
    for i, (arch, size, ratio, seed) in enumerate(plan, 1):
        tag = f"paper {i}/{len(plan)}"
        settings = run_settings(run_config(out, arch, size, ratio, seed, data, epochs, rates),
                                data, qat_epochs, int8_from)
        row, source = next(((r, path) for known, r, path in recorded if known == settings),
                           (None, None))
        if row:
            progress(f"{tag} {spec_name(arch, size, ratio)} seed {seed}: taken from "
                     f"{source} (same settings; recorded {row['recorded']})")
        else:
            row = train_one(out, arch, size, ratio, seed, data, epochs, qat_epochs, rates,
                            resume=resume, tag=tag, int8_from=int8_from)
            row["recorded"] = time.strftime("%Y-%m-%d")
        print(json.dumps(row), flush=True)
        runs.append(row)
        # Finished runs survive an interrupted suite: --resume-from this file picks them up.
        atomic_write_json(out / PARTIAL, {"suite": "paper", "runs": runs})
    summary = []
    for model in dict.fromkeys(r["model"] for r in runs):
        group = [r for r in runs if r["model"] == model]
        first = group[0]
        base = next((r for r in runs if r["arch"] == first["arch"].replace("ghost_", "")
                     and r["size"] == first["size"]), None)
        fa = _mean_std([r["float_accuracy"] for r in group])
        pa = _mean_std([r["ptq_tflm_accuracy"] for r in group])
        ia = _mean_std([r["int8_tflm_accuracy"] for r in group])
        unknown = [r.get("int8_unknown_recall") for r in group]
        ua = _mean_std(unknown) if None not in unknown else None
        summary.append({
            "model": model, "seeds": len(group), "params": first["params"],
            "params_vs_base": _vs_base(first, base, "params"),
            "tflite_bytes": first["tflite_bytes"],
            "flash_vs_base": _vs_base(first, base, "tflite_bytes"),
            "macs_per_frame": first["macs_per_frame"],
            "macs_per_decision": first["macs_per_decision"],
            "macs_vs_base": _vs_base(first, base, "macs_per_decision"),
            "state_bytes": first["state_bytes"], "arena_bytes": first["arena_bytes"],
            "float_acc": f"{100 * fa[0]:.1f} ± {100 * fa[1]:.1f}",
            "ptq_int8_tflm_acc": f"{100 * pa[0]:.1f} ± {100 * pa[1]:.1f}",
            "int8_tflm_acc": f"{100 * ia[0]:.1f} ± {100 * ia[1]:.1f}",
            "int8_unknown_recall": f"{100 * ua[0]:.1f} ± {100 * ua[1]:.1f}" if ua else "-",
            "int8_from": first["int8_source"],
            "published": PUBLISHED.get(f"{first['arch']}_{first['size']}", ""),
        })
    result = {"runs": runs, "summary": summary, "epochs": epochs, "qat_epochs": qat_epochs,
              "learning_rates": rates}
    return {**result, "plots": plot_result(result, out)}


#: Marker of each family in the Pareto plot (colour: the model).
MARKERS = {"gru": "o", "ghost_gru": "^", "lstm": "s", "ghost_lstm": "v", "ds_cnn": "D"}


def plot_result(result: dict[str, Any], out: Path) -> list[str]:
    """Draws the suite's Pareto plot from its result (the suite's return value or its saved
    JSON) into ``out``.

    Args:
        result: the suite's result (its ``runs``).
        out: the folder of the PNG.

    Returns:
        The names of the PNGs written.
    """
    path = out / "paper_pareto.png"
    _plot_pareto(result["runs"], path)
    return [path.name]


def _pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no cheaper point beats in accuracy, cheapest first.

    Example:
        >>> _pareto_front([(1, 70.0), (2, 65.0), (3, 80.0)])
        [(1, 70.0), (3, 80.0)]
    """
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def _plot_pareto(runs: list[dict[str, Any]], path: Path) -> None:
    """int8 accuracy on TFLM against flash and against MACs: each seed a small dot, each
    model's mean over seeds a marker with its spread, the front of the means dashed; one
    legend beside the panels (labels on the points would collide where models share a
    size)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from ghost_keras.plots import log_ticks, plt, save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    models = list(dict.fromkeys(r["model"] for r in runs))
    # Flash in kB and MACs in millions keep the tick labels short.
    for ax, key, scale, label in ((axes[0], "tflite_bytes", 1e3, "int8 flash (kB, log scale)"),
                                  (axes[1], "macs_per_decision", 1e6,
                                   "million MACs per 1-s decision (log scale)")):
        means = []
        for colour, model in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 2, models):
            group = [r for r in runs if r["model"] == model]
            x = group[0][key] / scale  # one graph per model: every seed has the same cost
            ys = [100 * r["int8_tflm_accuracy"] for r in group]
            ax.scatter([x] * len(ys), ys, s=12, color=colour, alpha=0.45, lw=0)
            mean, spread = _mean_std(ys)
            ax.errorbar([x], [mean], yerr=[spread] if len(ys) > 1 else None, color=colour,
                        marker=MARKERS.get(group[0]["arch"], "o"), ms=8, capsize=3,
                        ls="none", label=f"{model} ({len(ys)} seed{'s' * (len(ys) > 1)})")
            means.append((x, mean))
        ax.plot(*zip(*_pareto_front(means)), color="0.5", ls="--", lw=1, zorder=0)
        ax.set_xscale("log")
        ax.margins(x=0.08)  # the cheapest and dearest markers clear of the frame
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(*ax.get_xlim())))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("int8 accuracy on TFLM (%)")
    front = plt.Line2D([], [], color="0.5", ls="--", lw=1, label="Pareto front of the means")
    fig.legend(handles=axes[0].get_legend_handles_labels()[0] + [front],
               loc="outside right upper", fontsize=8)
    fig.suptitle("Accuracy against cost (dots: seeds; markers: mean ± std over seeds)")
    save_figure(fig, path)
