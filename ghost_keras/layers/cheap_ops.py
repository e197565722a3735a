"""The cheap operation phi that turns intrinsic states into ghost states."""

from __future__ import annotations

import numbers
from typing import Any

import tensorflow as tf
import tf_keras as keras

#: Supported cheap operations and what each costs per step (m intrinsic, k ghost units).
CHEAP_OPS = {
    "dense": "g = act(h W + b): m*k MACs, m*k + k weights",
    "depthwise": "g_i = act(a_i * h_(i mod m) + b_i): k MACs, 2*k weights",
}


def _integer(name: str, value: Any) -> int:
    """``value`` as an int; a fractional value is refused, since ``int()`` would truncate it."""
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if is_real and float(value).is_integer():
        return int(value)
    raise ValueError(f"{name} must be an integer, got {value!r}; pass a whole number "
                     "(it is not rounded).")


def intrinsic_units(units: int, ratio: int) -> int:
    """Returns ``m = units // ratio``, the number of intrinsic units, or raises a clear error.

    ``units`` need not be a multiple of ``ratio``: ``m`` rounds down and the ghost part takes
    the rest, so the state stays ``units`` wide (GhostGRU-S r4: ``154 // 4 = 38`` intrinsic and
    116 ghost units, an actual ratio of 4.05). Non-integer ``units`` or ``ratio`` are refused.
    """
    units, ratio = _integer("units", units), _integer("ratio", ratio)
    if units < 1:
        raise ValueError(f"units must be a positive integer, got {units!r}.")
    if ratio < 1:
        raise ValueError(f"ratio must be an integer >= 1, got {ratio!r} (1 means a plain RNN).")
    if ratio > units:
        raise ValueError(
            f"ratio={ratio} is larger than units={units}: there would be no intrinsic unit. "
            "Use a ratio <= units."
        )
    return units // ratio


@keras.utils.register_keras_serializable(package="ghost_keras")
class GhostMap(keras.layers.Layer):
    """Makes ``ghost_units`` ghost states from ``intrinsic_units`` intrinsic states.

    Args:
        cheap_op: ``"dense"`` (full linear map) or ``"depthwise"`` (per-unit scale and shift of
            the intrinsic unit ``i mod m``, repeating the intrinsic state when ``k > m``).
        intrinsic_units: ``m``, the input width.
        ghost_units: ``k``, the output width.
        activation: Applied after the linear map (``"tanh"`` keeps states in (-1, 1)).
        use_bias: Whether to add a bias.
        initializer, regularizer, constraint: For the map's weights (the bias starts at 0).

    Example:

    >>> import ghost_keras, tensorflow as tf
    >>> from ghost_keras.layers import GhostMap
    >>> GhostMap("depthwise", 4, 6)(tf.ones([1, 4])).shape
    TensorShape([1, 6])
    """

    def __init__(
        self,
        cheap_op: str,
        intrinsic_units: int,
        ghost_units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        initializer: Any = "glorot_uniform",
        regularizer: Any = None,
        constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if cheap_op not in CHEAP_OPS:
            raise ValueError(
                f"cheap_op={cheap_op!r} is not supported; use one of {sorted(CHEAP_OPS)}."
            )
        self.cheap_op = cheap_op
        self.intrinsic_units = int(intrinsic_units)
        self.ghost_units = int(ghost_units)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.initializer = keras.initializers.get(initializer)
        self.regularizer = keras.regularizers.get(regularizer)
        self.constraint = keras.constraints.get(constraint)

    def build(self, input_shape: Any = None) -> None:
        shape = (
            (self.intrinsic_units, self.ghost_units)
            if self.cheap_op == "dense"
            else (self.ghost_units,)
        )
        # A depthwise scale starts at 1 (a ghost starts as a copy), a dense map as usual.
        initializer = self.initializer if self.cheap_op == "dense" else "ones"
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=initializer,
            regularizer=self.regularizer,
            constraint=self.constraint,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.ghost_units,), initializer="zeros")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, h: tf.Tensor) -> tf.Tensor:
        if self.cheap_op == "dense":
            g = keras.backend.dot(h, self.kernel)
        else:
            repeats = -(-self.ghost_units // self.intrinsic_units)
            source = tf.concat([h] * repeats, axis=-1) if repeats > 1 else h
            g = source[:, : self.ghost_units] * self.kernel
        if self.bias is not None:
            g = keras.backend.bias_add(g, self.bias)
        return self.activation(g)

    def macs(self) -> int:
        """Multiply-accumulates per step."""
        if self.cheap_op == "dense":
            return self.intrinsic_units * self.ghost_units
        return self.ghost_units

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cheap_op": self.cheap_op,
            "intrinsic_units": self.intrinsic_units,
            "ghost_units": self.ghost_units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "initializer": keras.initializers.serialize(self.initializer),
            "regularizer": keras.regularizers.serialize(self.regularizer),
            "constraint": keras.constraints.serialize(self.constraint),
        }
