"""PNG plots of runs: learning curves and confusion matrices (matplotlib, no display needed),
and the helpers every plot of the package uses."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ghost_keras.fileio import atomic_write_bytes


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Writes ``fig`` as PNG atomically and closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def log_ticks(lo: float, hi: float) -> list[float]:
    """At least three round tick values in [lo, hi] for a log axis: 1-2-5 per decade, denser
    when the range is short (matplotlib's log locator leaves a range inside one decade with
    one label or falls back to crowded linear ones).

    Args:
        lo: the lowest value a tick may have (> 0).
        hi: the highest.

    Example:
        >>> log_ticks(38, 650)
        [50.0, 100.0, 200.0, 500.0]
        >>> log_ticks(2.4, 4.6)
        [2.5, 3.0, 4.0]
    """
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)):
        ticks = [float(f"{m * 10.0 ** k:.6g}") for k in range(math.floor(math.log10(lo)),
                                                              math.ceil(math.log10(hi)) + 1)
                 for m in mantissas if lo <= m * 10.0 ** k <= hi]
        if len(ticks) >= 3:
            break
    return ticks


def plot_history(history: dict[str, Sequence[float]], path: str | Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, training and validation (markers on the points, so a
    one-epoch run shows its single point, which a line alone would not draw)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], style, marker="o",
                        markersize=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return save_figure(fig, path)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    matrix = np.zeros((num_labels, num_labels), np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str],
                   path: str | Path, title: str = "") -> Path:
    """Row-normalized confusion matrix with counts in the cells."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_title(title)
    return save_figure(fig, path)
