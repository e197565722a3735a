"""The ``redundancy`` suite: the GhostRNN paper's Figs. 1-2 (cosine similarity of hidden-state
dimensions, state values) for the seed-0 ``gru_S`` and ``ghost_gru_S_r2`` runs, with the
redundancy statistics (:mod:`ghost_keras.redundancy`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks.common import DataChoice, FoundRun, find_runs, progress, quick_runs, tiny_mode

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
