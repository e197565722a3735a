"""Ghost GRU: a GRU that computes a few intrinsic states and makes the rest cheaply.

GhostRNN (Zhou et al., Interspeech 2023) observes that many hidden-state dimensions of a
trained GRU are near-copies of others. The Ghost GRU runs the real gated recurrence on
``m = units // ratio`` *intrinsic* units ``h`` and derives the ``units - m`` *ghost* units
``g = phi(h)`` with a cheap operation. The full state, carried forward and returned, is
``[h, g]``:

    r = sigmoid(x W_ir + b_ir + [h, g]_{t-1} W_hr + b_hr)        # m units
    z = sigmoid(x W_iz + b_iz + [h, g]_{t-1} W_hz + b_hz)        # m units
    c = tanh(x W_ic + b_ic + r * (h_{t-1} W_hc + b_hc) + g_{t-1} W_gc)
    h = z * h_{t-1} + (1 - z) * c
    g = phi(h)

With ``reset_after=False`` the reset gate is applied before the matrix product
(``(r * h_{t-1}) W_hc``, one bias), the classic GRU and Hello Edge's form.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from ghost_keras.layers.base import GhostCellBase, GhostRNNBase, expose_cell_options
from ghost_keras.layers.gru_sequence import ghost_gru_sequence


@keras.utils.register_keras_serializable(package="ghost_keras")
class GhostGRUCell(GhostCellBase):
    """Cell class for the :class:`GhostGRU` layer: one time step.

    Args:
        units: Size of the full state ``[h, g]`` and of the output.
        ratio: ``units / m``: the full state is ``ratio`` times the intrinsic state. ``1``
            makes a plain GRU (no ghost part). ``m = units // ratio`` (rounded down when
            ``ratio`` does not divide ``units``: 154 units at ratio 4 give ``m = 38``) must be
            at least 1.
        cheap_op: How ghost states are made from intrinsic ones: ``"dense"`` (a dense
            ``m x (units - m)`` linear map, the default) or ``"depthwise"`` (each ghost unit
            is a scaled, shifted copy of one intrinsic unit: ``2 * (units - m)`` weights).
        ghost_activation: Activation after the cheap op. ``"tanh"`` (default) keeps the
            whole state in (-1, 1), as the int8 export with a fixed state scale needs;
            ``None`` / ``"linear"`` gives a purely linear ghost map.
        activation: Candidate activation (default ``tanh``).
        recurrent_activation: Gate activation (default ``sigmoid``).
        use_bias: Whether the gates, candidate and cheap op have biases.
        reset_after: Apply the reset gate after the recurrent matrix product (Keras'
            default and cuDNN's form, two bias vectors); ``False`` gives the classic form.
        kernel_initializer, recurrent_initializer, bias_initializer, ghost_initializer:
            Initializers of the input kernel, recurrent kernel, biases and cheap op.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, ghost_regularizer:
            Regularizers of the same weights.
        kernel_constraint, recurrent_constraint, bias_constraint, ghost_constraint:
            Constraints of the same weights.
        dropout: Fraction of the inputs to drop (training only).
        recurrent_dropout: Fraction of the previous state to drop in the gate and
            candidate products (training only).

    Example:

    >>> import ghost_keras, tensorflow as tf, tf_keras as keras
    >>> from ghost_keras.layers import GhostGRUCell
    >>> layer = keras.layers.RNN(GhostGRUCell(8, ratio=2))
    >>> layer(tf.zeros([2, 5, 3])).shape
    TensorShape([2, 8])
    """

    num_gates = 3

    def __init__(self, units: int, ratio: int = 2, reset_after: bool = True, **kwargs: Any):
        super().__init__(units, ratio=ratio, **kwargs)
        self.reset_after = bool(reset_after)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape: tf.TensorShape) -> None:
        width = 3 * self.intrinsic_units
        self._build_weights(int(input_shape[-1]), (2, width) if self.reset_after else (width,))
        self.built = True

    def call(
        self, inputs: tf.Tensor, states: Any, training: bool | None = None
    ) -> tuple[tf.Tensor, list[tf.Tensor]]:
        state = states[0] if tf.nest.is_nested(states) else states
        m = self.intrinsic_units
        h_prev = state[:, :m]
        inputs, gate_state = self._input_and_state_masks(inputs, state, training)

        input_bias, recurrent_bias = self.split_bias()
        x = keras.backend.dot(inputs, self.kernel)
        if input_bias is not None:
            x = keras.backend.bias_add(x, input_bias)
        x_z, x_r, x_c = tf.split(x, 3, axis=-1)

        # The gates read the whole previous state [h, g].
        rec_gates = keras.backend.dot(gate_state, self.recurrent_kernel[:, : 2 * m])
        if recurrent_bias is not None:
            rec_gates = keras.backend.bias_add(rec_gates, recurrent_bias[: 2 * m])
        rec_z, rec_r = tf.split(rec_gates, 2, axis=-1)
        z = self.recurrent_activation(x_z + rec_z)
        r = self.recurrent_activation(x_r + rec_r)

        # The reset gate scales the intrinsic recurrent term only; the ghost term is added.
        gate_h = gate_state[:, :m]
        w_hc = self.recurrent_kernel[:m, 2 * m :]
        if self.reset_after:
            rec_c = keras.backend.dot(gate_h, w_hc)
            if recurrent_bias is not None:
                rec_c = keras.backend.bias_add(rec_c, recurrent_bias[2 * m :])
            rec_c = r * rec_c
        else:
            rec_c = keras.backend.dot(r * gate_h, w_hc)
        if self.ghost_units:
            rec_c = rec_c + keras.backend.dot(gate_state[:, m:], self.recurrent_kernel[m:, 2 * m :])
        c = self.activation(x_c + rec_c)
        h = z * h_prev + (1.0 - z) * c
        new_state = self._with_ghosts(h)
        return new_state, [new_state]

    def split_bias(self) -> tuple[tf.Tensor | None, tf.Tensor | None]:
        """``(input_bias, recurrent_bias)``; the recurrent one exists with ``reset_after``."""
        if not self.use_bias:
            return None, None
        if self.reset_after:
            input_bias, recurrent_bias = tf.unstack(self.bias)
            return input_bias, recurrent_bias
        return self.bias, None

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None):
        if inputs is not None:
            batch_size, dtype = tf.shape(inputs)[0], inputs.dtype
        return tf.zeros([batch_size, self.units], dtype=dtype or self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


@expose_cell_options
@keras.utils.register_keras_serializable(package="ghost_keras")
class GhostGRU(GhostRNNBase):
    """Ghost Gated Recurrent Unit layer (GhostRNN, Zhou et al., Interspeech 2023).

    A GRU whose state of ``units`` is ``[h, g]``: ``m = units // ratio`` intrinsic units
    ``h`` follow the GRU recurrence, the ``units - m`` ghost units are ``g = phi(h)``, a cheap
    operation. Gates read the whole previous state; the reset gate scales only the intrinsic
    recurrent term. ``ratio=1`` is exactly ``keras.layers.GRU`` (same weight layout when
    ``reset_after`` matches). With ``ratio=2`` and the default cheap op the layer has about 40%
    fewer parameters and MACs than a GRU of the same width.

    Args:
        units: Width of the full state and of the output.
        ratio: Full-to-intrinsic state ratio (``1``: plain GRU; ``2``: the paper's headline).
        cheap_op: ``"dense"`` (default) or ``"depthwise"``; see :class:`GhostGRUCell`.
        ghost_activation: ``"tanh"`` (default) or ``None`` for a linear cheap op.
        reset_after: Reset gate after the recurrent product (default, Keras' form).
        return_sequences: Return the output of every step (``[batch, time, units]``).
        return_state: Also return the last state (``[batch, units]``).
        go_backwards: Process the sequence backwards (used by ``Bidirectional``).
        stateful: Carry the last state of batch ``i`` into batch ``i`` of the next call.
        unroll: Unroll the time loop. ``None`` (default): unroll when the sequence length is
            known and at most :attr:`AUTO_UNROLL_STEPS` (on a 2-core CPU a training step on
            49 frames took 10-25% less time than the loop; tracing takes a few seconds
            longer), else loop.
        **kwargs: The cell's other options (activations, initializers, regularizers,
            constraints, ``use_bias``, ``dropout``, ``recurrent_dropout``) and the usual
            layer arguments (``name``, ``dtype``, ``activity_regularizer``...).

    Call arguments: ``inputs`` ``[batch, time, features]``, ``mask`` ``[batch, time]``,
    ``training``, ``initial_state`` (one tensor ``[batch, units]``).

    Example:

    >>> import ghost_keras, tensorflow as tf
    >>> from ghost_keras.layers import GhostGRU
    >>> out, state = GhostGRU(16, ratio=2, return_state=True)(tf.zeros([4, 49, 10]))
    >>> out.shape, state.shape
    (TensorShape([4, 16]), TensorShape([4, 16]))
    """

    cell_class = GhostGRUCell
    #: Longest sequence that ``unroll=None`` unrolls: a 1-s clip at a 10 ms stride fits.
    AUTO_UNROLL_STEPS = 100

    def call(
        self,
        inputs: tf.Tensor,
        mask: tf.Tensor | None = None,
        training: bool | None = None,
        initial_state: Any = None,
        constants: Any = None,
    ) -> Any:
        # The sequence path fuses the step's products (see gru_sequence); recurrent dropout
        # masks the state inside those products, and ragged inputs and constants are rare:
        # those keep Keras' generic path through the cell.
        if (
            isinstance(inputs, tf.RaggedTensor)
            or constants is not None
            or 0.0 < self.cell.recurrent_dropout < 1.0
        ):
            return super().call(inputs, mask, training, initial_state, constants)
        inputs, initial_state, _ = self._process_inputs(inputs, initial_state, None)
        self._maybe_reset_cell_dropout_mask(self.cell)
        if mask is not None:
            mask = tf.nest.flatten(mask)[0]
        timesteps = inputs.shape[0] if self.time_major else inputs.shape[1]
        unroll = self.unroll
        if unroll is None:
            unroll = timesteps is not None and timesteps <= self.AUTO_UNROLL_STEPS
        elif unroll and timesteps is None:
            raise ValueError("Cannot unroll a GhostGRU whose time dimension is undefined.")
        last_output, outputs, state = ghost_gru_sequence(
            self.cell,
            inputs,
            initial_state[0],
            mask=mask,
            training=training,
            go_backwards=self.go_backwards,
            unroll=unroll,
            time_major=self.time_major,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
        )
        if self.stateful:
            self.add_update([tf.compat.v1.assign(self.states[0], state)])
        output = outputs if self.return_sequences else last_output
        return [output, state] if self.return_state else output
