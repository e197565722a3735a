"""One time step of a Keras RNN layer, with its state as explicit inputs and outputs.

The building block of every step model: :func:`ghost_keras.streaming.step_model` chains it
over a model's recurrent layers, and a Ghost layer's own ``step_model()`` is it alone (streaming
is a property of the layer; docs/design.md, "The step model").
"""

from __future__ import annotations

from typing import Any

import tf_keras as keras


class NotStreamableError(ValueError):
    """The model has a layer that cannot run one frame at a time."""


def state_sizes(cell: keras.layers.Layer) -> list[int]:
    """The sizes of ``cell``'s states (one for a GRU, two for an LSTM)."""
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [int(s) for s in sizes]


def check_unidirectional(layer: keras.layers.RNN) -> None:
    """Raises :class:`NotStreamableError` when ``layer`` runs backwards in time."""
    if layer.go_backwards:
        raise NotStreamableError(
            f"layer {layer.name!r} runs backwards in time, which needs the whole window; "
            "a streaming model must be unidirectional."
        )


def rnn_step(layer: keras.layers.RNN, frame: Any) -> tuple[Any, list[Any], list[Any]]:
    """``layer``'s cell applied to the symbolic ``frame`` with new state inputs.

    Returns:
        ``(output, state_inputs, new_states)``: Keras tensors; the state inputs are named
        ``<layer>_state_<i>``.

    Raises:
        NotStreamableError: the layer runs backwards in time.
    """
    check_unidirectional(layer)
    states = [keras.Input((size,), name=f"{layer.name}_state_{i}")
              for i, size in enumerate(state_sizes(layer.cell))]
    output, new_states = layer.cell(frame, states if len(states) > 1 else states[0],
                                    training=False)
    new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
    return output, states, new_states


def layer_step_model(layer: keras.layers.RNN, input_dim: int | None = None) -> keras.Model:
    """The single step of one RNN layer: inputs ``[frame, *states]``, outputs
    ``[output, *new_states]``, sharing the layer's weights.

    Args:
        layer: a Keras RNN layer (GhostGRU, GhostLSTM, GRU, ...).
        input_dim: features per frame; needed only when the layer is not built yet.
    """
    if input_dim is None:
        if not layer.cell.built:
            raise ValueError("pass input_dim for an RNN layer that has not been built yet.")
        input_dim = int(layer.cell.kernel.shape[0])
    frame = keras.Input((int(input_dim),), name="frame")
    output, states, new_states = rnn_step(layer, frame)
    return keras.Model([frame, *states], [output, *new_states], name=f"{layer.name}_step")
