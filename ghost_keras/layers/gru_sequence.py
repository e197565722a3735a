"""The Ghost GRU over a whole sequence, with the cell's arithmetic regrouped for speed.

:class:`~ghost_keras.layers.GhostGRUCell` computes one step from the raw frame: five matrix
products per step (input, gates, intrinsic and ghost candidate terms, cheap op), each on a
slice of a weight. Over a whole sequence the same outputs come from fewer, larger products:

* the input projection ``x W_x + b_x`` does not depend on the state, so it is one product
  for all time steps before the loop;
* the new intrinsic state ``h`` feeds both the cheap op of this step and the recurrent
  products of the next, so both are one product ``h [U_h | G]`` (``U_h`` the recurrent
  kernel's intrinsic rows, ``G`` the dense cheap op), with the recurrent and ghost biases
  added once;
* the ghost state's recurrent term ``g U_g`` is the only other product of the step.

The loop carries ``h``, ``g`` and ``h U_h`` (already computed at the end of the previous
step). Masking, ``go_backwards``, ``unroll``, ``time_major`` and the outputs are
``keras.backend.rnn``'s, as for the cell.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras


def _fused_weights(cell: Any) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor | None, int]:
    """``(W, b, U_g, n)``: the product ``h W + b`` gives ``h U_h`` (``n`` columns, with its
    recurrent bias) followed by the dense cheap op's pre-activation; ``U_g`` the ghost rows."""
    m = cell.intrinsic_units
    # reset_after=False applies the reset gate to h before the candidate product: only the
    # gate columns of U_h can be computed ahead.
    n = 3 * m if cell.reset_after else 2 * m
    kernel = cell.recurrent_kernel[:m, :n]
    _, recurrent_bias = cell.split_bias()
    biases = [recurrent_bias] if recurrent_bias is not None else []
    dense_ghosts = cell.ghost_map is not None and cell.cheap_op == "dense"
    if dense_ghosts:
        kernel = tf.concat([kernel, cell.ghost_map.kernel], axis=1)
        if cell.ghost_map.bias is not None:
            biases = biases or [tf.zeros([n], kernel.dtype)]
            biases.append(cell.ghost_map.bias)
    bias = tf.concat(biases, axis=0) if biases else None
    ghost_rows = cell.recurrent_kernel[m:] if cell.ghost_units else None
    return kernel, bias, ghost_rows, n


def ghost_gru_sequence(
    cell: Any,
    inputs: tf.Tensor,
    initial_state: tf.Tensor,
    mask: tf.Tensor | None = None,
    training: Any = None,
    go_backwards: bool = False,
    unroll: bool = False,
    time_major: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = False,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Runs ``cell`` (a built :class:`GhostGRUCell` without recurrent dropout) over ``inputs``.

    Returns ``(last_output, outputs, last_state)`` as ``keras.backend.rnn`` does, equal to
    running the cell step by step (input dropout included: one mask for all steps).
    """
    m, k = cell.intrinsic_units, cell.ghost_units
    frame = inputs[0] if time_major else inputs[:, 0]
    if 0.0 < cell.dropout < 1.0:
        drop = cell.get_dropout_mask_for_cell(frame, training)
        inputs = inputs * tf.expand_dims(drop, 0 if time_major else 1)
    input_bias, _ = cell.split_bias()
    projected = keras.backend.dot(inputs, cell.kernel)
    if input_bias is not None:
        projected = projected + input_bias

    kernel, bias, ghost_rows, n = _fused_weights(cell)
    candidate_rows = None if cell.reset_after else cell.recurrent_kernel[:m, 2 * m :]
    dense_ghosts = k and cell.cheap_op == "dense"

    def advance(h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``h U_h + b`` for the next step and this step's ghost state ``phi(h)``."""
        product = keras.backend.dot(h, kernel)
        if bias is not None:
            product = keras.backend.bias_add(product, bias)
        if dense_ghosts:
            ahead, ghost = tf.split(product, [n, k], axis=-1)
            return ahead, cell.ghost_activation(ghost)
        return product, (cell.ghost_map(h) if k else None)

    def step(x: tf.Tensor, states: list[tf.Tensor]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        h, ahead = states[0], states[-1]
        x_zr, x_c = tf.split(x, [2 * m, m], axis=-1)
        if k:
            ghost_term = keras.backend.dot(states[1], ghost_rows)
            g_zr, g_c = tf.split(ghost_term, [2 * m, m], axis=-1)
        if cell.reset_after:
            h_zr, h_c = tf.split(ahead, [2 * m, m], axis=-1)
        else:
            h_zr = ahead
        gates = x_zr + h_zr + g_zr if k else x_zr + h_zr
        z, r = tf.split(cell.recurrent_activation(gates), 2, axis=-1)
        if cell.reset_after:
            rec_c = r * h_c
        else:
            rec_c = keras.backend.dot(r * h, candidate_rows)
        c = cell.activation(x_c + rec_c + g_c if k else x_c + rec_c)
        h = z * h + (1.0 - z) * c
        ahead, g = advance(h)
        if not k:
            return h, [h, ahead]
        return tf.concat([h, g], axis=-1), [h, g, ahead]

    h0 = initial_state[:, :m]
    states = [h0, initial_state[:, m:]] if k else [h0]
    states.append(advance(h0)[0])
    timesteps = inputs.shape[0] if time_major else inputs.shape[1]
    last_output, outputs, final = keras.backend.rnn(
        step,
        projected,
        states,
        go_backwards=go_backwards,
        mask=mask,
        unroll=unroll,
        input_length=timesteps,
        time_major=time_major,
        zero_output_for_mask=zero_output_for_mask,
        return_all_outputs=return_sequences,
    )
    last_state = tf.concat(final[:2], axis=-1) if k else final[0]
    return last_output, outputs, last_state
