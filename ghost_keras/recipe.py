"""The optimization side of a training run: learning-rate schedule, optimizer and loss.

Two schedules: Hello Edge's piecewise-constant rates (the original recipe), or a linear warmup
followed by a cosine decay. Adam, or AdamW (decoupled weight decay) when a weight decay is set.
Sparse cross-entropy on logits, with optional label smoothing.

Example:

>>> schedule = learning_rate_schedule([3e-3, 3e-4], 100, kind="cosine", warmup_steps=10)
>>> round(float(schedule(10)), 6), round(float(schedule(100)), 6)
(0.003, 0.0003)
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

#: The learning-rate schedules a run can use.
SCHEDULES = ("piecewise", "cosine")


def learning_rate_schedule(rates: list[float], total_steps: int, kind: str = "piecewise",
                           warmup_steps: int = 0) -> Any:
    """The learning rate over ``total_steps`` optimizer steps.

    Args:
        rates: ``piecewise``: the rates, each for an equal share of the steps. ``cosine``: the
            peak ``rates[0]``, reached after the warmup, decaying along a cosine to
            ``rates[-1]`` at the last step (to 0 when only one rate is given).
        total_steps: steps of the whole run.
        kind: ``piecewise`` or ``cosine``.
        warmup_steps: ``cosine`` only: steps of the linear rise from 0 to the peak.

    Returns:
        A float (one constant rate) or a Keras schedule.

    Raises:
        ValueError: an unknown kind, or a warmup with the piecewise schedule.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {kind!r}; choose one of {SCHEDULES}.")
    if kind == "piecewise":
        if warmup_steps:
            raise ValueError("warmup is only available with lr_schedule='cosine'.")
        if len(rates) == 1:
            return rates[0]
        boundaries = [int(total_steps * (i + 1) / len(rates)) for i in range(len(rates) - 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, list(rates))
    peak = rates[0]
    final = rates[-1] if len(rates) > 1 else 0.0
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
    return keras.optimizers.schedules.CosineDecay(
        # With a warmup, Keras' CosineDecay rises from initial_learning_rate to warmup_target.
        initial_learning_rate=0.0 if warmup_steps else peak,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=final / peak,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def make_optimizer(learning_rate: Any, weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """Adam, or AdamW with decoupled ``weight_decay`` (per step, times the learning rate) when
    it is above 0; biases are not decayed."""
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0.")
    if not weight_decay:
        return keras.optimizers.Adam(learning_rate)
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


@keras.saving.register_keras_serializable(package="ghost_keras")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against logits, with label smoothing: the target is
    ``(1 - s)`` on the label plus ``s / classes`` on every class (Keras'
    ``SparseCategoricalCrossentropy`` has no smoothing in tf-keras 2.21).

    Args:
        label_smoothing: ``s`` in [0, 1).
        name: the loss name.
    """

    def __init__(self, label_smoothing: float = 0.1, name: str = "smoothed_crossentropy",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        labels = tf.reshape(tf.cast(y_true, tf.int32), tf.shape(y_pred)[:-1])
        one_hot = tf.one_hot(labels, tf.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=True, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(label_smoothing: float = 0.0) -> keras.losses.Loss:
    """Keras' sparse cross-entropy on logits; the smoothed one when ``label_smoothing`` > 0."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing={label_smoothing}: must be in [0, 1).")
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return SmoothedSparseCrossentropy(label_smoothing)
