"""Keras KWS model -> full-int8 TFLite model that TFLite Micro runs.

Recurrent models become a **step model** (one feature frame + the state in, scores + the new
state out; docs/design.md, "The step model"): ~20 ops and a few KB of arena, where the whole unrolled
sequence would need ~1,000 ops and hundreds of KB. Window models (DS-CNN) are converted whole.

Every conversion goes through the quantized graph of :mod:`ghost_keras.quantization`: a QAT
model is converted with its learned ranges; a float model first gets the same fake
quantization, *calibrated* on the representative features (post-training quantization).
Either way the converter emits int8 builtins only, and each recurrent state has one fixed int8
quantization shared by its input and output (hidden states: scale 1/128, zero point 0), so the
firmware copies the output state bytes into the input unchanged.

Example:

>>> import ghost_keras, numpy as np
>>> from ghost_keras.models import build_model
>>> from firmware_export.convert import convert_model
>>> model = build_model("ghost_gru", "S", input_shape=(49, 10))
>>> rep = np.random.default_rng(0).standard_normal((8, 49, 10)).astype("float32")
>>> exported = convert_model(model, rep)
>>> exported.kind, exported.state_sizes, exported.source
('step', [154], 'float')
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras as keras

from firmware_export.tflite_model import read_tflite
from ghost_keras.quiet import filtered_c_stderr
from ghost_keras.quantization import (
    STATE_MAX,
    STATE_MIN,
    QuantizedGhostGRUCell,
    QuantizedGhostLSTMCell,
    quantize_model,
)
from ghost_keras.streaming import (
    NotStreamableError,
    QuantizeLayer,
    QuantizeWrapperV2,
    is_streamable,
    step_model,
)

_QUANTIZED_CELLS = (QuantizedGhostGRUCell, QuantizedGhostLSTMCell)
# Post-training calibration of a float model: this many batches of representative features.
_CALIBRATION_BATCH = 64
_CALIBRATION_STEPS = 8


class ExportError(ValueError):
    """The model cannot be exported for TFLite Micro; the message says what to change."""


@dataclass
class ExportedModel:
    """A converted model and what the firmware needs to know about its interface."""

    tflite: bytes
    kind: str  # "step" (one frame per invoke, state carried) or "window"
    frames: int  # frames per decision window
    feature_dim: int
    num_labels: int
    state_sizes: list[int] = field(default_factory=list)
    state_ranges: list[tuple[float, float]] = field(default_factory=list)  # fixed int8 ranges
    source: str = "float"  # "qat": learned ranges; "float": post-training calibration
    # The converter orders a model's tensors as it likes: for each TFLite input (output), its
    # position in [frame, *states] ([logits, *new_states]).
    input_roles: list[int] = field(default_factory=lambda: [0])
    output_roles: list[int] = field(default_factory=lambda: [0])

    @property
    def size_bytes(self) -> int:
        return len(self.tflite)

    @property
    def frame_input(self) -> int:
        """TFLite input index of the feature frame (or window)."""
        return self.input_roles.index(0)

    @property
    def logits_output(self) -> int:
        """TFLite output index of the logits."""
        return self.output_roles.index(0)

    @property
    def state_inputs(self) -> list[int]:
        """TFLite input index of each state, in the step model's state order."""
        return [self.input_roles.index(i + 1) for i in range(len(self.state_sizes))]

    @property
    def state_outputs(self) -> list[int]:
        """TFLite output index of each new state; state i goes back into input state i."""
        return [self.output_roles.index(i + 1) for i in range(len(self.state_sizes))]

    def to_dict(self) -> dict:
        """JSON-safe description (without the model bytes)."""
        return {
            "kind": self.kind, "frames": self.frames, "feature_dim": self.feature_dim,
            "num_labels": self.num_labels, "state_sizes": self.state_sizes,
            "state_ranges": [list(r) for r in self.state_ranges], "size_bytes": self.size_bytes,
            "input_roles": self.input_roles, "output_roles": self.output_roles,
            "source": self.source,
        }


def _roles(names: list[str], input_names: list[str]) -> list[int]:
    """Maps TFLite tensor names back to positions in the function's inputs or outputs.

    Inputs are named ``serving_default_<arg>:0``; outputs ``StatefulPartitionedCall:<k>``.
    """
    roles = []
    for name in names:
        base = name.split(":")[0].removeprefix("serving_default_")
        if base in input_names:
            roles.append(input_names.index(base))
        elif ":" in name and name.rsplit(":", 1)[1].isdigit() and not input_names:
            roles.append(int(name.rsplit(":", 1)[1]))
        else:
            raise ExportError(f"cannot tell which tensor {name!r} of the converted model is.")
    return roles


def _calibration_batches(representative: np.ndarray) -> list[np.ndarray]:
    return [representative[i : i + _CALIBRATION_BATCH]
            for i in range(0, len(representative), _CALIBRATION_BATCH)][:_CALIBRATION_STEPS]


def is_quantized(model: keras.Model) -> bool:
    """Whether ``model`` already carries fake quantization (a QAT model)."""
    return any(isinstance(layer, (QuantizeLayer, QuantizeWrapperV2))
               or isinstance(getattr(layer, "cell", None), _QUANTIZED_CELLS)
               for layer in model.layers)


def quantized_for_export(model: keras.Model, representative: np.ndarray) -> keras.Model:
    """A QAT model as it is; a float model with fake quantization calibrated on data."""
    if is_quantized(model):
        return model
    try:
        return quantize_model(model, calibration_data=_calibration_batches(representative),
                              calibration_steps=_CALIBRATION_STEPS)
    except ValueError as error:
        raise ExportError(f"cannot quantize {model.name} to int8: {error}") from error


def _state_ranges(model: keras.Model) -> list[tuple[float, float]]:
    ranges = []
    for layer in model.layers:
        cell = getattr(layer, "cell", None)
        if isinstance(cell, QuantizedGhostLSTMCell):
            r = cell.cell_state_range
            ranges += [(STATE_MIN, STATE_MAX), (-r, r * 127.0 / 128.0)]
        elif isinstance(cell, QuantizedGhostGRUCell):
            ranges.append((STATE_MIN, STATE_MAX))
    return ranges


def _convert(concrete: tf.types.experimental.ConcreteFunction, trackable: object,
             sample: dict[str, np.ndarray]) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # The fake-quant graph carries every range; the converter still demands a representative
    # dataset for int8 I/O and ignores its content. Keyed by input name: the converted model
    # orders its inputs as it likes.
    converter.representative_dataset = lambda: iter([sample])
    # Per-tensor weights: TFLM cannot prepare a per-channel FULLY_CONNECTED without a bias
    # (kernel_util.cc, measured on tflite-micro 2026-10), and a GRU step has such products.
    converter._experimental_disable_per_channel = True
    try:
        # The calibrator's tf.lite.Interpreter warns that it is deprecated, and the converter
        # prints its settings from C++: neither concerns the user.
        with warnings.catch_warnings(), filtered_c_stderr():
            warnings.simplefilter("ignore", UserWarning)
            return converter.convert()
    except Exception as error:  # the converter's own errors are long MLIR dumps
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(
            f"the TFLite converter could not make a full-int8 model: {first[:300]}. Models "
            "exported here are built from GhostGRU/GRU/GhostLSTM/LSTM, Dense, Conv2D, "
            "DepthwiseConv2D, BatchNormalization, ReLU, pooling and Reshape layers."
        ) from error


def _head(logits: tf.Tensor, probabilities: bool) -> tf.Tensor:
    # Softmax scores (int8, scale 1/256) are what the recognizer averages on the device.
    return tf.nn.softmax(logits) if probabilities else logits


def _exported(tflite: bytes, kind: str, model: keras.Model, arg_names: list[str],
              source: str, state_sizes: list[int], ranges: list[tuple[float, float]]):
    info = read_tflite(tflite)
    return ExportedModel(
        tflite=tflite, kind=kind, frames=int(model.input_shape[1]),
        feature_dim=int(model.input_shape[-1]), num_labels=int(model.output_shape[-1]),
        state_sizes=state_sizes, state_ranges=ranges, source=source,
        input_roles=_roles([t.name for t in info.inputs], arg_names),
        output_roles=_roles([t.name for t in info.outputs], []),
    )


def convert_step_model(model: keras.Model, representative: np.ndarray,
                       probabilities: bool = True) -> ExportedModel:
    """Converts a recurrent KWS model to a full-int8 single-step TFLite model.

    Args:
        model: A trained float or QAT model (RNN layers followed by frame-wise layers).
        representative: ``[N, frames, features]`` real features to calibrate a float model.
        probabilities: Output softmax scores (the firmware's recognizer averages them)
            instead of logits.

    Returns:
        An :class:`ExportedModel`: inputs ``[frame, *states]``, outputs
        ``[scores, *new_states]``, all int8; each state's input and output share scale and
        zero point.
    """
    source = "qat" if is_quantized(model) else "float"
    quantized = quantized_for_export(model, representative)
    step = step_model(quantized)
    arg_names = ["frame"] + [f"state_{i}" for i in range(len(step.inputs) - 1)]
    specs = [tf.TensorSpec([1, int(t.shape[-1])], tf.float32, name=name)
             for t, name in zip(step.inputs, arg_names)]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        outputs = step(list(inputs), training=False)
        return [_head(outputs[0], probabilities), *outputs[1:]]

    sample = {name: np.zeros(spec.shape, np.float32) for name, spec in zip(arg_names, specs)}
    sample["frame"] = representative[:1, 0].astype(np.float32)
    tflite = _convert(serve.get_concrete_function(), step, sample)
    return _exported(tflite, "step", model, arg_names, source,
                     [int(t.shape[-1]) for t in step.inputs[1:]], _state_ranges(quantized))


def convert_window_model(model: keras.Model, representative: np.ndarray,
                         probabilities: bool = True) -> ExportedModel:
    """Converts a model that reads a whole window (e.g. DS-CNN) to full-int8 TFLite."""
    source = "qat" if is_quantized(model) else "float"
    quantized = quantized_for_export(model, representative)
    frames, features = int(model.input_shape[1]), int(model.input_shape[2])
    spec = tf.TensorSpec([1, frames, features], tf.float32, name="features")

    @tf.function(input_signature=[spec])
    def serve(window):
        return _head(quantized(window, training=False), probabilities)

    tflite = _convert(serve.get_concrete_function(), quantized,
                      {"features": representative[:1].astype(np.float32)})
    return _exported(tflite, "window", model, ["features"], source, [], [])


def convert_model(model: keras.Model, representative: np.ndarray,
                  kind: str | None = None, probabilities: bool = True) -> ExportedModel:
    """Converts ``model`` to full-int8 TFLite: a step model when it can stream, else a window.

    Args:
        model: Trained float or QAT KWS model, input ``[batch, frames, features]``.
        representative: ``[N, frames, features]`` real features for calibration.
        kind: ``"step"`` or ``"window"`` to force one; by default recurrent models stream.
        probabilities: Softmax scores out (default) rather than logits.
    """
    representative = np.asarray(representative, np.float32)
    expected = tuple(int(v) for v in model.input_shape[1:])
    if representative.ndim != 3 or representative.shape[1:] != expected or not len(representative):
        raise ExportError(
            f"representative features must be [N, {expected[0]}, {expected[1]}] with N >= 1 "
            f"(the model's input); got {representative.shape}."
        )
    if kind not in (None, "step", "window"):
        raise ExportError(f"kind must be 'step' or 'window', got {kind!r}.")
    if kind is None:
        kind = "step" if is_streamable(model) else "window"
    if kind == "step":
        try:
            return convert_step_model(model, representative, probabilities)
        except NotStreamableError as error:
            raise ExportError(f"{error} (or pass kind='window')") from error
    return convert_window_model(model, representative, probabilities)
