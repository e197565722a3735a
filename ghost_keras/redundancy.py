"""Redundancy of recurrent hidden states: GhostRNN's observation (the paper's Figs. 1-2).

GhostRNN (Zhou et al., Interspeech 2023) starts from the observation that in a trained GRU
"partial dimensions of hidden states are similar to the others". This module measures that on
our own models:

* :func:`hidden_states` streams clips through a model one frame at a time (its
  :func:`ghost_keras.streaming.step_model`, run by
  :class:`ghost_keras.step_runner.KerasStepRunner`) and records the state of a recurrent layer at
  every frame: ``[clips, frames, units]``.
* :func:`cosine_matrix` is the cosine similarity between state *dimensions* over all clips and
  frames (Fig. 1): entry ``(i, j)`` compares the time series of unit ``i`` with that of unit
  ``j``. With ``center=True`` each dimension's mean is removed first (Pearson correlation),
  which discounts two units that merely share a sign.
* :func:`redundancy_stats` summarizes a matrix: the share of dimensions whose most similar
  *other* dimension has ``|cos| > threshold`` (0.9 by default), the mean and median of that
  best ``|cos|``, and the number of pairs above the threshold.
* :func:`plot_cosine_matrix` and :func:`plot_state_values` draw Figs. 1 and 2 as PNG files
  (written atomically with :func:`ghost_keras.plots.save_figure`).
* :func:`analyse_model` does all of it for one model and a feature array; :func:`analyse_run`
  for a training run folder (its test split).

Example:

>>> import ghost_keras, numpy as np
>>> from ghost_keras.redundancy import cosine_matrix, redundancy_stats
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=(500, 4))
>>> states = np.concatenate([a, a[:, :2]], axis=1)  # units 4, 5 copy units 0, 1
>>> stats = redundancy_stats(cosine_matrix(states))
>>> stats.redundant_units, stats.units
(4, 6)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ghost_keras.fileio import atomic_write_json
from ghost_keras.plots import plt, save_figure

#: A dimension counts as redundant when its best |cosine| with another dimension exceeds this.
DEFAULT_THRESHOLD = 0.9


# --------------------------------------------------------------------------- hidden states


def _recurrent_layers(model: Any) -> list[Any]:
    import tf_keras as keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def hidden_states(model: Any, x: np.ndarray, layer: str | int | None = None,
                  state: int = 0, batch_size: int = 512) -> np.ndarray:
    """The state of one recurrent layer after every frame, for every clip.

    The model runs as its single-step form (:func:`ghost_keras.streaming.step_model`) from a
    zero state, exactly as it streams on the device; the state recorded after frame ``t`` is
    the one carried into frame ``t + 1``.

    Args:
        model: A trained recurrent KWS model (RNN layers followed by frame-wise layers).
        x: Features ``[clips, frames, features]``.
        layer: Which recurrent layer (name or index among the recurrent layers; default the
            first).
        state: Which state of that layer: 0 is the hidden state ``h`` (for a GhostGRU the full
            ``[intrinsic, ghost]`` state); an LSTM's cell state ``c`` is 1.
        batch_size: Clips run together.

    Returns:
        ``[clips, frames, units]`` float32.
    """
    from ghost_keras.layers.step import state_sizes
    from ghost_keras.step_runner import KerasStepRunner
    from ghost_keras.streaming import step_model

    x = np.asarray(x, np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be [clips, frames, features], got shape {x.shape}.")
    rnns = _recurrent_layers(model)
    if not rnns:
        raise ValueError(f"{model.name} has no recurrent layer, so it has no hidden state.")
    if layer is None:
        position = 0
    elif isinstance(layer, int):
        position = layer
    else:
        names = [r.name for r in rnns]
        if layer not in names:
            raise ValueError(f"no recurrent layer {layer!r}; the recurrent layers are {names}.")
        position = names.index(layer)
    if not -len(rnns) <= position < len(rnns):
        raise ValueError(f"layer index {position} out of range: {len(rnns)} recurrent layer(s).")
    position %= len(rnns)
    sizes = [state_sizes(r.cell) for r in rnns]
    if not 0 <= state < len(sizes[position]):
        raise ValueError(f"state {state} out of range: layer {rnns[position].name!r} has "
                         f"{len(sizes[position])} state(s).")
    index = sum(len(s) for s in sizes[:position]) + state  # among the step's state outputs

    runner = KerasStepRunner(step_model(model))
    chunks = []
    for start in range(0, len(x), max(1, batch_size)):
        batch = x[start:start + batch_size]
        runner.reset(len(batch))  # every clip from a zero state
        chunks.append(runner.run(batch, return_states=True).states[index])
    return np.concatenate(chunks, axis=0).astype(np.float32)


# --------------------------------------------------------------------------- statistics


def state_matrix(states: np.ndarray) -> np.ndarray:
    """``[..., units]`` -> ``[samples, units]``: every clip and frame is one sample."""
    states = np.asarray(states, np.float64)
    if states.ndim < 2:
        raise ValueError(f"states need a units axis and at least one sample axis, got {states.shape}.")
    return states.reshape(-1, states.shape[-1])


def cosine_matrix(states: np.ndarray, center: bool = False) -> np.ndarray:
    """Cosine similarity between state dimensions, ``[units, units]`` (the paper's Fig. 1).

    Args:
        states: ``[..., units]`` (e.g. ``[clips, frames, units]``); all leading axes are samples.
        center: Remove each dimension's mean first (the Pearson correlation).

    A dimension that is constant zero (after centering, constant) has no direction: its
    similarity with every other dimension is 0, with itself 1.
    """
    s = state_matrix(states)
    if center:
        s = s - s.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(s, axis=0)
    scale = np.max(np.abs(s)) if s.size else 0.0
    dead = norms <= max(scale, 1.0) * 1e-9 * np.sqrt(len(s))
    unit = np.where(dead, 0.0, s / np.where(dead, 1.0, norms))
    cos = np.clip(unit.T @ unit, -1.0, 1.0)
    np.fill_diagonal(cos, 1.0)
    return cos


def best_other_similarity(cos: np.ndarray) -> np.ndarray:
    """For each dimension, its largest ``|cos|`` with any *other* dimension."""
    cos = np.asarray(cos, np.float64)
    if cos.ndim != 2 or cos.shape[0] != cos.shape[1] or len(cos) < 2:
        raise ValueError(f"need a square matrix of at least 2 x 2, got shape {cos.shape}.")
    off = np.abs(cos).copy()
    np.fill_diagonal(off, -np.inf)
    return off.max(axis=1)


def most_similar_pairs(cos: np.ndarray, top: int = 5) -> list[tuple[int, int, float]]:
    """The ``top`` pairs ``(i, j, cos)`` with ``i < j`` of largest ``|cos|``, largest first."""
    cos = np.asarray(cos, np.float64)
    i, j = np.triu_indices(len(cos), k=1)
    values = cos[i, j]
    order = np.argsort(-np.abs(values), kind="stable")[: max(0, top)]
    return [(int(i[k]), int(j[k]), float(values[k])) for k in order]


@dataclass
class RedundancyStats:
    """How redundant the dimensions of a state are (from a cosine matrix)."""

    units: int
    threshold: float
    redundant_units: int  # dimensions whose best |cos| with another dimension > threshold
    redundant_share: float  # redundant_units / units
    mean_max_abs_cos: float  # mean over dimensions of the best |cos| with another dimension
    median_max_abs_cos: float
    pairs_above: int  # pairs i < j with |cos| > threshold
    mean_abs_cos: float  # mean |cos| over all pairs i < j
    samples: int | None = None  # clip-frames the matrix was computed from
    centered: bool | None = None
    top_pairs: list[tuple[int, int, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["top_pairs"] = [list(p) for p in self.top_pairs]
        return values

    def summary(self) -> str:
        return (f"{self.redundant_units}/{self.units} dimensions ({self.redundant_share:.0%}) "
                f"have another with |cos| > {self.threshold:g}; best |cos| with another "
                f"dimension: mean {self.mean_max_abs_cos:.3f}, median "
                f"{self.median_max_abs_cos:.3f}; {self.pairs_above} pairs above the threshold; "
                f"mean |cos| over all pairs {self.mean_abs_cos:.3f}")


def redundancy_stats(cos: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                     samples: int | None = None, centered: bool | None = None,
                     top: int = 5) -> RedundancyStats:
    """Summary statistics of a cosine matrix from :func:`cosine_matrix`."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}.")
    cos = np.asarray(cos, np.float64)
    best = best_other_similarity(cos)
    redundant = int(np.sum(best > threshold))
    upper = np.abs(cos[np.triu_indices(len(cos), k=1)])
    return RedundancyStats(
        units=len(cos),
        threshold=float(threshold),
        redundant_units=redundant,
        redundant_share=redundant / len(cos),
        mean_max_abs_cos=float(best.mean()),
        median_max_abs_cos=float(np.median(best)),
        pairs_above=int(np.sum(upper > threshold)),
        mean_abs_cos=float(upper.mean()),
        samples=samples,
        centered=centered,
        top_pairs=most_similar_pairs(cos, top),
    )


def cluster_order(cos: np.ndarray) -> np.ndarray:
    """An order of the dimensions that puts similar ones (by ``|cos|``) next to each other
    (average-linkage clustering on ``1 - |cos|``)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - np.abs(np.asarray(cos, np.float64))
    np.fill_diagonal(distance, 0.0)
    distance = np.clip((distance + distance.T) / 2, 0.0, None)
    return leaves_list(linkage(squareform(distance, checks=False), method="average"))


# --------------------------------------------------------------------------- plots


def plot_cosine_matrix(cos: np.ndarray, path: str | Path, title: str = "",
                       order: str | Sequence[int] = "index",
                       boundaries: Sequence[int] = ()) -> Path:
    """The cosine-similarity matrix of the state dimensions as a PNG (the paper's Fig. 1).

    Args:
        order: ``"index"`` (units in their order), ``"cluster"`` (similar units together, see
            :func:`cluster_order`) or an explicit permutation.
        boundaries: Unit indices to mark with lines in index order, e.g. ``[m]`` between a
            GhostGRU's ``m`` intrinsic and its ghost units.
    """
    cos = np.asarray(cos, np.float64)
    if isinstance(order, str):
        if order not in ("index", "cluster"):
            raise ValueError(f"order must be 'index', 'cluster' or a permutation, got {order!r}.")
        perm = cluster_order(cos) if order == "cluster" else np.arange(len(cos))
    else:
        perm = np.asarray(order, int)
        if sorted(perm.tolist()) != list(range(len(cos))):
            raise ValueError("order must be a permutation of the state dimensions.")
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    image = ax.imshow(cos[np.ix_(perm, perm)], cmap="RdBu_r", vmin=-1, vmax=1,
                      interpolation="nearest")
    if isinstance(order, str) and order == "index":
        for b in boundaries:
            ax.axhline(b - 0.5, color="black", linewidth=0.8)
            ax.axvline(b - 0.5, color="black", linewidth=0.8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    label = "state dimension" + (" (clustered order)" if isinstance(order, str)
                                 and order == "cluster" else "")
    ax.set_xlabel(label)
    ax.set_ylabel(label)
    ax.set_title(title)
    return save_figure(fig, path)


def plot_state_values(states: np.ndarray, path: str | Path, title: str = "",
                      pairs: Sequence[tuple[int, int, float]] | None = None,
                      frame_ms: float = 20.0, snapshots: int = 4) -> Path:
    """The state values of one clip as a PNG (the paper's Fig. 2).

    Three panels: every dimension over time (heat map); the value of each dimension by its
    index at a few frames (the shape of Fig. 2); and the most similar pairs of dimensions over
    time, one colour per pair (solid: first, dashed: second), which is what redundancy looks
    like.

    Args:
        states: ``[frames, units]`` of one clip (e.g. ``hidden_states(...)[k]``).
        pairs: Pairs ``(i, j, cos)`` to draw (default: the 3 most similar within this clip).
        frame_ms: Frame stride, for the time axis.
        snapshots: Frames shown in the value-by-index panel.
    """
    states = np.asarray(states, np.float64)
    if states.ndim != 2:
        raise ValueError(f"states must be [frames, units] of one clip, got shape {states.shape}.")
    frames, units = states.shape
    if pairs is None:
        pairs = most_similar_pairs(cosine_matrix(states), 3) if units > 1 else []
    time_ms = np.arange(1, frames + 1) * frame_ms
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained",
                             gridspec_kw={"width_ratios": [1.25, 1.1, 1.0]})
    limit = max(1.0, float(np.max(np.abs(states)))) if states.size else 1.0
    image = axes[0].imshow(states.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                           origin="lower", interpolation="nearest",
                           extent=(time_ms[0] - frame_ms / 2, time_ms[-1] + frame_ms / 2,
                                   -0.5, units - 0.5))
    fig.colorbar(image, ax=axes[0], label="state value")
    axes[0].set_xlabel("time (ms)")
    axes[0].set_ylabel("state dimension")
    axes[0].set_title("state over time")

    picks = np.unique(np.linspace(0, frames - 1, max(1, snapshots)).round().astype(int))
    for t in picks:
        axes[1].plot(np.arange(units), states[t], ".", markersize=4, alpha=0.8,
                     label=f"t = {time_ms[t]:.0f} ms")
    axes[1].set_xlabel("state dimension")
    axes[1].set_ylabel("value")
    axes[1].set_title("values by index")
    axes[1].grid(alpha=0.3)
    axes[1].legend(fontsize=7)

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (i, j, c) in enumerate(pairs):
        colour = colours[k % len(colours)]
        axes[2].plot(time_ms, states[:, i], "-", color=colour, label=f"{i} / {j}: cos {c:+.2f}")
        axes[2].plot(time_ms, states[:, j], "--", color=colour)
    axes[2].set_xlabel("time (ms)")
    axes[2].set_ylabel("value")
    axes[2].set_title("most similar pairs")
    axes[2].grid(alpha=0.3)
    if len(pairs):
        axes[2].legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- one call


@dataclass
class StateRedundancy:
    """What :func:`analyse_model` measured; ``paths`` holds the files written, if any."""

    states: np.ndarray  # [clips, frames, units]
    cosine: np.ndarray  # [units, units]
    stats: RedundancyStats
    paths: dict[str, Path] = field(default_factory=dict)


def analyse_model(model: Any, x: np.ndarray, out_dir: str | Path | None = None,
                  threshold: float = DEFAULT_THRESHOLD, center: bool = False,
                  layer: str | int | None = None, clip: int = 0, frame_ms: float = 20.0,
                  title: str | None = None, order: str = "index",
                  boundaries: Sequence[int] = ()) -> StateRedundancy:
    """Hidden states, cosine matrix and statistics of ``model`` on features ``x``.

    With ``out_dir`` it writes ``cosine_matrix.png`` (Fig. 1), ``state_values.png`` (Fig. 2,
    clip number ``clip``) and ``redundancy.json`` (the statistics).
    """
    states = hidden_states(model, x, layer=layer)
    cos = cosine_matrix(states, center=center)
    stats = redundancy_stats(cos, threshold, samples=int(states.shape[0] * states.shape[1]),
                             centered=center)
    result = StateRedundancy(states, cos, stats)
    if out_dir is not None:
        out = Path(out_dir)
        name = title or model.name
        kind = "Pearson correlation" if center else "cosine similarity"
        result.paths["cosine_matrix"] = plot_cosine_matrix(
            cos, out / "cosine_matrix.png", order=order, boundaries=boundaries,
            title=f"{name}: {kind} of state dimensions\n{stats.redundant_share:.0%} of "
                  f"{stats.units} have a partner with |cos| > {threshold:g}")
        result.paths["state_values"] = plot_state_values(
            states[clip], out / "state_values.png", frame_ms=frame_ms,
            pairs=stats.top_pairs[:3], title=f"{name}: hidden state of clip {clip}")
        result.paths["json"] = atomic_write_json(out / "redundancy.json", {
            "model": model.name, "clips": int(states.shape[0]),
            "frames": int(states.shape[1]), **stats.to_dict()})
    return result


def analyse_run(run_dir: str | Path, out_dir: str | Path | None = None, split: str = "test",
                max_clips: int = 256, **kwargs: Any) -> StateRedundancy:
    """:func:`analyse_model` on a training run's model and (up to ``max_clips`` of) a split.

    ``out_dir`` defaults to ``<run_dir>/redundancy``; the frame stride comes from the run's
    front end. Other keyword arguments go to :func:`analyse_model`.
    """
    from ghost_keras.training import load_run, run_datasets

    run_dir = Path(run_dir)
    model, run_config = load_run(run_dir)
    datasets, _ = run_datasets(run_config)
    x, _ = datasets.as_numpy(split)
    if max_clips and len(x) > max_clips:
        rng = np.random.default_rng(int(run_config["train"].get("seed", 0)))
        x = x[np.sort(rng.permutation(len(x))[:max_clips])]
    kwargs.setdefault("frame_ms", float(run_config["frontend"].get("stride_ms", 20.0)))
    return analyse_model(model, x, out_dir=run_dir / "redundancy" if out_dir is None else out_dir,
                         **kwargs)


def load_stats(path: str | Path) -> dict[str, Any]:
    """The statistics ``analyse_model`` wrote (``redundancy.json``)."""
    return json.loads(Path(path).read_text())
