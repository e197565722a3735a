"""What every Ghost RNN cell and layer shares: options, weights of the ghost part, config."""

from __future__ import annotations

import inspect
from typing import Any

import tensorflow as tf
import tf_keras as keras
# Private tf-keras classes that keras.layers.GRUCell itself builds on: the dropout-mask
# cache per batch and the seeded random generator.
from tf_keras.src.engine.base_layer import BaseRandomLayer
from tf_keras.src.layers.rnn.dropout_rnn_cell_mixin import DropoutRNNCellMixin

from ghost_keras.layers.cheap_ops import CHEAP_OPS, GhostMap, intrinsic_units
from ghost_keras.layers.step import layer_step_model

_WEIGHT_GROUPS = ("kernel", "recurrent", "bias", "ghost")


def _snake_case(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_").replace(
        "g_r_u", "gru"
    ).replace("l_s_t_m", "lstm")


class GhostCellBase(DropoutRNNCellMixin, BaseRandomLayer):
    """Base of the Ghost cells: holds the shared options and the cheap op.

    Subclasses define ``num_gates`` (weight blocks of ``m`` columns), ``build`` (calling
    :meth:`_build_weights`) and ``call``. The arguments are documented on the subclasses.
    """

    num_gates: int

    def __init__(
        self,
        units: int,
        ratio: int = 2,
        cheap_op: str = "dense",
        ghost_activation: Any = "tanh",
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        ghost_initializer: Any = "glorot_uniform",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        ghost_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        ghost_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.intrinsic_units = intrinsic_units(units, ratio)  # validates both first
        self.units = int(units)
        self.ratio = int(ratio)
        if cheap_op not in CHEAP_OPS:
            raise ValueError(
                f"cheap_op={cheap_op!r} is not supported; use one of {sorted(CHEAP_OPS)}."
            )
        self.cheap_op = cheap_op
        self.ghost_activation = keras.activations.get(ghost_activation)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        local = locals()
        for group in _WEIGHT_GROUPS:
            setattr(self, f"{group}_initializer", keras.initializers.get(local[f"{group}_initializer"]))
            setattr(self, f"{group}_regularizer", keras.regularizers.get(local[f"{group}_regularizer"]))
            setattr(self, f"{group}_constraint", keras.constraints.get(local[f"{group}_constraint"]))
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.ghost_map: GhostMap | None = None

    @property
    def ghost_units(self) -> int:
        """Number of ghost state units, ``units - m``."""
        return self.units - self.intrinsic_units

    def _weight(self, name: str, shape: tuple[int, ...], group: str, initializer: Any = None):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer or getattr(self, f"{group}_initializer"),
            regularizer=getattr(self, f"{group}_regularizer"),
            constraint=getattr(self, f"{group}_constraint"),
        )

    def _build_weights(self, input_dim: int, bias_shape: tuple[int, ...], bias_init: Any = None):
        """Creates ``kernel`` (input_dim, G*m), ``recurrent_kernel`` (units, G*m), the bias
        and the ghost map. The recurrent kernel's rows ``[:m]`` read the intrinsic state,
        rows ``[m:]`` the ghost state."""
        width = self.num_gates * self.intrinsic_units
        self.kernel = self._weight("kernel", (input_dim, width), "kernel")
        self.recurrent_kernel = self._weight("recurrent_kernel", (self.units, width), "recurrent")
        self.bias = self._weight("bias", bias_shape, "bias", bias_init) if self.use_bias else None
        if self.ghost_units:
            self.ghost_map = GhostMap(
                self.cheap_op,
                self.intrinsic_units,
                self.ghost_units,
                activation=self.ghost_activation,
                use_bias=self.use_bias,
                initializer=self.ghost_initializer,
                regularizer=self.ghost_regularizer,
                constraint=self.ghost_constraint,
                name="ghost_map",
            )
            # Under its own name scope, so its weights are ".../ghost_map/kernel": names stay
            # unique in a layer, which the .h5 format needs.
            with tf.name_scope(self.ghost_map.name):
                self.ghost_map.build(tf.TensorShape([None, self.intrinsic_units]))

    def _input_and_state_masks(
        self, inputs: tf.Tensor, state: tf.Tensor, training: Any
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Applies (input) dropout and recurrent dropout, one mask each, training only."""
        # With count=1 the mixin returns one [batch, width] mask (not a list): every example
        # gets its own.
        if 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask_for_cell(inputs, training)
        if 0.0 < self.recurrent_dropout < 1.0:
            state = state * self.get_recurrent_dropout_mask_for_cell(state, training)
        return inputs, state

    def _with_ghosts(self, h: tf.Tensor) -> tf.Tensor:
        """The full state ``[h, phi(h)]``."""
        if self.ghost_map is None:
            return h
        return tf.concat([h, self.ghost_map(h)], axis=-1)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "units": self.units,
            "ratio": self.ratio,
            "cheap_op": self.cheap_op,
            "ghost_activation": keras.activations.serialize(self.ghost_activation),
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
        }
        for group in _WEIGHT_GROUPS:
            config[f"{group}_initializer"] = keras.initializers.serialize(
                getattr(self, f"{group}_initializer")
            )
            config[f"{group}_regularizer"] = keras.regularizers.serialize(
                getattr(self, f"{group}_regularizer")
            )
            config[f"{group}_constraint"] = keras.constraints.serialize(
                getattr(self, f"{group}_constraint")
            )
        return {**super().get_config(), **config}


class GhostRNNBase(keras.layers.RNN):
    """Base of the Ghost RNN layers: a Keras ``RNN`` around a Ghost cell.

    Subclasses set ``cell_class``. Everything else (sequences, states, masking, stateful,
    go_backwards, unroll, Bidirectional) is Keras' own RNN machinery. ``unroll=None`` (the
    default) lets the layer choose: :class:`~ghost_keras.layers.GhostGRU` unrolls short
    sequences of a known length, the others loop.
    """

    cell_class: type[GhostCellBase]

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool | None = None,
        **kwargs: Any,
    ) -> None:
        base_keys = {
            "name", "dtype", "trainable", "input_shape", "batch_input_shape", "batch_size",
            "input_dim", "input_length", "time_major", "zero_output_for_mask",
            "activity_regularizer", "weights",
        }  # fmt: skip
        layer_kwargs = {k: v for k, v in kwargs.items() if k in base_keys}
        cell_kwargs = {k: v for k, v in kwargs.items() if k not in base_keys}
        activity_regularizer = layer_kwargs.pop("activity_regularizer", None)
        cell = self.cell_class(
            units,
            dtype=layer_kwargs.get("dtype"),
            trainable=layer_kwargs.get("trainable", True),
            name=_snake_case(self.cell_class.__name__),
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **layer_kwargs,
        )
        self.activity_regularizer = keras.regularizers.get(activity_regularizer)
        self.input_spec = [keras.layers.InputSpec(ndim=3)]

    def step_model(self, input_dim: int | None = None) -> keras.Model:
        """The single-step computation with explicit state: inputs ``[frame, *states]``,
        outputs ``[output, *new_states]``, sharing this layer's weights (see
        :func:`ghost_keras.layers.step.layer_step_model`)."""
        return layer_step_model(self, input_dim)

    def get_config(self) -> dict[str, Any]:
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config = super().get_config()
        config.pop("cell", None)
        config["activity_regularizer"] = keras.regularizers.serialize(self.activity_regularizer)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GhostRNNBase":
        return cls(**config)


def _constructor_options(cell_class: type[GhostCellBase]) -> list[str]:
    """The arguments of the cell's constructors down to :class:`GhostCellBase` (its
    ``get_config`` keys). Read from the signatures: a cell made at import time would take the
    first automatic name, and the user's first ``GhostGRUCell`` would be ``ghost_gru_cell_1``."""
    mro = cell_class.__mro__
    options = []
    for klass in mro[: mro.index(GhostCellBase) + 1]:
        if "__init__" in vars(klass):
            options += [p.name for p in inspect.signature(klass.__init__).parameters.values()
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                        and p.name != "self"]
    return options


def expose_cell_options(layer_class: type[GhostRNNBase]) -> type[GhostRNNBase]:
    """Class decorator: read-only properties for the cell's options, as keras.layers.GRU has."""
    options = _constructor_options(layer_class.cell_class)
    options += ["intrinsic_units", "ghost_units"]
    for option in options:
        if option in ("name", "trainable", "dtype") or hasattr(layer_class, option):
            continue
        setattr(layer_class, option, property(lambda self, o=option: getattr(self.cell, o)))
    return layer_class
