"""Single-step (streaming) models: one feature frame in, logits and the new state out.

A microcontroller runs a recurrent KWS model one frame per stride, carrying the state between
calls. :func:`step_model` rebuilds a trained sequence model as that single step, sharing its
weights: inputs ``[frame, state_1, ...]``, outputs ``[logits, new_state_1, ...]`` (external
state, the form TFLM runs: see docs/design.md, "The step model").

:class:`ghost_keras.step_runner.KerasStepRunner` drives a step model over frames.

Example:

>>> import ghost_keras
>>> from ghost_keras.models import build_model
>>> from ghost_keras.streaming import step_model
>>> model = build_model("ghost_gru", "S", input_shape=(49, 10))
>>> step = step_model(model)
>>> [tuple(t.shape) for t in step.inputs]
[(None, 10), (None, 154)]
"""

from __future__ import annotations

import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer,
)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2,
)

from ghost_keras.layers.step import (  # noqa: F401  (NotStreamableError: public here too)
    NotStreamableError,
    check_unidirectional,
    layer_step_model,
    rnn_step,
)

# Layers that act on each frame independently and so run unchanged inside a step.
_FRAMEWISE = (keras.layers.Dense, keras.layers.Activation, keras.layers.ReLU,
              keras.layers.Softmax, keras.layers.Rescaling)
# Layers that are the identity at inference.
_INFERENCE_IDENTITY = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.InputLayer)


def _is_framewise(layer: keras.layers.Layer) -> bool:
    """Acts on each frame alone: frame-wise layers, the QAT input fake quant, and QAT wrappers
    (tfmot's ``quant_<name>``) around a frame-wise layer."""
    if isinstance(layer, QuantizeWrapperV2):
        return _is_framewise(layer.layer)
    return isinstance(layer, _FRAMEWISE + (QuantizeLayer,))


def is_streamable(model: keras.Model) -> bool:
    """Whether :func:`step_model` can rebuild ``model`` as a single step."""
    try:
        _check_layers(model)
    except NotStreamableError:
        return False
    return True


def _check_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = list(model.layers)
    for layer in layers:
        if isinstance(layer, keras.layers.RNN):
            check_unidirectional(layer)
        elif not (_is_framewise(layer) or isinstance(layer, _INFERENCE_IDENTITY)):
            raise NotStreamableError(
                f"layer {layer.name!r} ({type(layer).__name__}) cannot run one frame at a time. "
                "Streaming models are RNN layers followed by frame-wise layers (Dense, "
                "activations, Dropout); export other models as window models."
            )
    if not any(isinstance(layer, keras.layers.RNN) for layer in layers):
        raise NotStreamableError(
            f"{model.name} has no recurrent layer: export it as a window model instead "
            "(the whole window is recomputed at every stride)."
        )
    return layers


def step_model(model: keras.Model | keras.layers.RNN, input_dim: int | None = None) -> keras.Model:
    """Returns the single-step model of a recurrent KWS model (or of one RNN layer).

    Args:
        model: A trained model (RNN layers followed by frame-wise layers), or an RNN layer.
        input_dim: Features per frame; needed only for an RNN layer that is not yet built.

    Returns:
        A ``keras.Model`` sharing ``model``'s weights, with inputs ``[frame, *states]`` and
        outputs ``[output, *new_states]`` in the order of the recurrent layers. Feeding each
        new state back reproduces the sequence model frame by frame.

    Raises:
        NotStreamableError: a layer needs the whole window (conv, backward RNN...).
    """
    if isinstance(model, keras.layers.RNN):
        return layer_step_model(model, input_dim)
    layers = _check_layers(model)
    frame = keras.Input((int(model.input_shape[-1]),), name="frame")
    x = frame
    state_inputs, state_outputs = [], []
    for layer in layers:
        if isinstance(layer, _INFERENCE_IDENTITY):
            continue
        if isinstance(layer, keras.layers.RNN):
            x, states, new_states = rnn_step(layer, x)
            state_inputs += states
            state_outputs += new_states
        else:
            x = layer(x, training=False)
    return keras.Model([frame, *state_inputs], [x, *state_outputs], name=f"{model.name}_step")
