"""Ghost LSTM: the GhostRNN idea applied to the LSTM.

The paper notes that the intrinsic/ghost split applies to RNNs in general. Here the LSTM
recurrence runs on ``m = units // ratio`` intrinsic units (cell state ``c`` and hidden state
``h``, both of width ``m``); the ``units - m`` ghost units are ``g = phi(h)``. The gates read the
whole previous output ``[h, g]``:

    i, f, o = sigmoid(x W_i + [h, g]_{t-1} U_i + b_i), ...   # m units each
    c = f * c_{t-1} + i * tanh(x W_c + [h, g]_{t-1} U_c + b_c)
    h = o * tanh(c)
    g = phi(h)

The layer's output and carried hidden state are ``[h, g]`` (``units``); the cell state stays
at ``m`` units, so the recurrent state is ``units + m`` values instead of an LSTM's ``2 * units``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from ghost_keras.layers.base import GhostCellBase, GhostRNNBase, expose_cell_options


@keras.utils.register_keras_serializable(package="ghost_keras")
class GhostLSTMCell(GhostCellBase):
    """Cell class for the :class:`GhostLSTM` layer: one time step.

    Args:
        units: Width of the output and of the carried hidden state ``[h, g]``.
        ratio: Full-to-intrinsic ratio; ``1`` is a plain LSTM (Keras' weight layout,
            gate order i, f, c, o).
        cheap_op: ``"dense"`` (default) or ``"depthwise"``; see :class:`GhostMap`.
        ghost_activation: After the cheap op; ``"tanh"`` (default) keeps ``g`` in (-1, 1).
        unit_forget_bias: Start the forget-gate bias at 1 (Jozefowicz et al., 2015), as Keras.
        activation, recurrent_activation, use_bias, *_initializer, *_regularizer,
            *_constraint, dropout, recurrent_dropout: As in :class:`GhostGRUCell`.

    Example:

    >>> import ghost_keras, tensorflow as tf, tf_keras as keras
    >>> from ghost_keras.layers import GhostLSTMCell
    >>> keras.layers.RNN(GhostLSTMCell(8, ratio=2))(tf.zeros([2, 5, 3])).shape
    TensorShape([2, 8])
    """

    num_gates = 4

    def __init__(self, units: int, ratio: int = 2, unit_forget_bias: bool = True, **kwargs: Any):
        super().__init__(units, ratio=ratio, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.intrinsic_units]
        self.output_size = self.units

    def build(self, input_shape: tf.TensorShape) -> None:
        m = self.intrinsic_units
        bias_init = None
        if self.use_bias and self.unit_forget_bias:
            base_init = self.bias_initializer

            def bias_init(shape, *args, **kwargs):
                return tf.concat(
                    [
                        base_init((m,), *args, **kwargs),
                        tf.ones((m,), dtype=kwargs.get("dtype")),
                        base_init((2 * m,), *args, **kwargs),
                    ],
                    axis=0,
                )

        self._build_weights(int(input_shape[-1]), (4 * m,), bias_init)
        self.built = True

    def call(
        self, inputs: tf.Tensor, states: Any, training: bool | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        full_prev, c_prev = states[0], states[1]
        inputs, gate_state = self._input_and_state_masks(inputs, full_prev, training)
        z = keras.backend.dot(inputs, self.kernel) + keras.backend.dot(
            gate_state, self.recurrent_kernel
        )
        if self.bias is not None:
            z = keras.backend.bias_add(z, self.bias)
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        h = self.recurrent_activation(z_o) * self.activation(c)
        full = self._with_ghosts(h)
        return full, [full, c]

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        dtype = dtype or self.compute_dtype
        return [
            tf.zeros([batch_size, self.units], dtype=dtype),
            tf.zeros([batch_size, self.intrinsic_units], dtype=dtype),
        ]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@expose_cell_options
@keras.utils.register_keras_serializable(package="ghost_keras")
class GhostLSTM(GhostRNNBase):
    """Ghost Long Short-Term Memory layer.

    An LSTM whose output and carried hidden state ``[h, g]`` have ``units`` values, of which
    only ``m = units // ratio`` come from the LSTM recurrence; the rest are ``g = phi(h)``.
    ``ratio=1`` is exactly ``keras.layers.LSTM``.

    Args:
        units: Width of the output.
        ratio: Full-to-intrinsic ratio (``1``: plain LSTM).
        return_sequences, return_state, go_backwards, stateful, unroll: As in
            ``keras.layers.LSTM``; ``return_state`` returns ``[output, hidden, cell]``.
        **kwargs: The cell's options (see :class:`GhostLSTMCell`) and layer arguments.

    Example:

    >>> import ghost_keras, tensorflow as tf
    >>> from ghost_keras.layers import GhostLSTM
    >>> GhostLSTM(16, ratio=2)(tf.zeros([4, 49, 10])).shape
    TensorShape([4, 16])
    """

    cell_class = GhostLSTMCell
