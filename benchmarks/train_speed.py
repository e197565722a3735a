"""The ``train_speed`` suite: training step time of GhostGRU vs keras GRU of the same full
width and of the same intrinsic width, and of the GhostGRU cell run step by step, side by side
in one process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import DataChoice, tiny_mode


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
