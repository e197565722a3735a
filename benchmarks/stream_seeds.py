"""The streaming suite's stream-training seeds: how a seed's rows are named and each recipe's
mean and spread over its seeds."""

from __future__ import annotations

import statistics
from typing import Any

#: False accepts per hour the FRR is read at (the suite's DET summaries).
FA_PER_HOUR_POINTS = (1, 5, 20)
_SEED = " seed "


def seed_label(recipe: str, seed: int) -> str:
    """The ``training`` of a recipe's row: the recipe for seed 0, ``"<recipe> seed s"`` else."""
    return recipe if not seed else f"{recipe}{_SEED}{seed}"


def _recipe(training: str) -> str:
    return training.split(_SEED)[0]


def _spread(values: list[float | None]) -> str | None:
    """``mean ± std``; seeds without a value (no threshold reaches the budget) are counted out,
    and the text says how many had one."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    sd = statistics.stdev(known) if len(known) > 1 else 0.0
    text = f"{statistics.fmean(known):.3f} ± {sd:.3f}"
    return text if len(known) == len(values) else f"{text} ({len(known)} of {len(values)})"


def seed_summary(rows: list[dict[str, Any]], point_rows: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Each model's stream-training recipes over their seeds, int8 on TFLM: mean and standard
    deviation of FRR at 1/5/20 FA/h on the test stream and, at each seed's operating point,
    the test stream's FRR and FA/h and the negative-only stream's FA/h."""
    out = []
    keys = dict.fromkeys((r["model"], _recipe(r["training"])) for r in rows
                         if r["training"] != "clip" and r["scorer"] == "tflm_int8")
    for model, recipe in keys:
        steps = [r for r in rows if r["model"] == model and _recipe(r["training"]) == recipe
                 and r["scorer"] == "tflm_int8"]
        points = {s: [r for r in point_rows if r["model"] == model
                      and _recipe(r["training"]) == recipe and r["stream"] == s]
                  for s in ("test", "negatives")}
        out.append({"model": model, "training": recipe, "seeds": len(steps),
                    **{f"frr_at_{x}fa_h": _spread([r[f"frr_at_{x}fa_h"] for r in steps])
                       for x in FA_PER_HOUR_POINTS},
                    "point_frr": _spread([r["frr"] for r in points["test"]]),
                    "point_fa_h": _spread([r["fa_h"] for r in points["test"]]),
                    "negatives_fa_h": _spread([r["fa_h"] for r in points["negatives"]])})
    return out
