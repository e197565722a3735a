"""Keras KWS model -> full-int8 TFLite model that TFLite Micro runs.

Recurrent models become a **step model** (one feature frame + the state in, logits + the new
state out; design note section 5): ~20 ops and a few KB of arena, where the whole unrolled
sequence would need ~1,000 ops and hundreds of KB. Every state tensor gets one fixed int8
quantization shared by its input and its output, so the firmware copies the output state bytes
into the input unchanged: hidden states lie in (-1, 1) and get scale 1/128, zero point 0; an
LSTM's cell state gets a power-of-two range measured on the representative data.
Window models (DS-CNN) are converted whole: one window in, logits out.

Post-training quantization calibrates on real (frame, state) pairs from the representative
features. A QAT model (``ghost_keras.quantization``) carries its own learned ranges, which the
converter takes.

Example:

>>> import ghost_keras, numpy as np
>>> from ghost_keras.models import build_model
>>> from firmware_export.convert import convert_model
>>> model = build_model("ghost_gru", "S", input_shape=(49, 10))
>>> rep = np.random.default_rng(0).standard_normal((8, 49, 10)).astype("float32")
>>> exported = convert_model(model, rep)
>>> exported.kind, exported.state_sizes
('step', [154])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras as keras

from firmware_export.tflite_model import read_tflite
from ghost_keras.streaming import NotStreamableError, is_streamable, step_model

#: Fixed range of a hidden state: int8 with scale 1/128 and zero point 0.
HIDDEN_STATE_RANGE = (-1.0, 127.0 / 128.0)
_MAX_CALIBRATION_SAMPLES = 400


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
    state_ranges: list[tuple[float, float]] = field(default_factory=list)
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


def _float_tflite(concrete: tf.types.experimental.ConcreteFunction, trackable: object) -> bytes:
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable).convert()


def _state_range(values: np.ndarray) -> tuple[float, float]:
    """[-R, R*127/128] with R the smallest power of two >= max |value| (at least 1)."""
    peak = float(np.max(np.abs(values))) if values.size else 1.0
    bound = 2.0 ** max(0, math.ceil(math.log2(max(peak, 1e-6))))
    return (-bound, bound * 127.0 / 128.0)


def _calibration_pairs(step: keras.Model, sequences: np.ndarray) -> list[list[np.ndarray]]:
    """Real ``[frame, *states]`` inputs: the step model driven over the sequences."""
    sequences = sequences.astype(np.float32)
    states = [np.zeros((len(sequences), int(t.shape[-1])), np.float32) for t in step.inputs[1:]]
    pairs = []
    for t in range(sequences.shape[1]):
        frame = sequences[:, t]
        pairs.extend([frame[i : i + 1], *(s[i : i + 1] for s in states)] for i in range(len(frame)))
        states = [np.asarray(s) for s in step([frame, *states], training=False)[1:]]
    rng = np.random.default_rng(0)
    if len(pairs) > _MAX_CALIBRATION_SAMPLES:
        keep = rng.choice(len(pairs), _MAX_CALIBRATION_SAMPLES, replace=False)
        pairs = [pairs[i] for i in sorted(keep)]
    return pairs


def _fake_quant(x: tf.Tensor, value_range: tuple[float, float]) -> tf.Tensor:
    return tf.quantization.fake_quant_with_min_max_args(
        x, min=value_range[0], max=value_range[1], num_bits=8
    )


def _convert(concrete: tf.types.experimental.ConcreteFunction, trackable: object,
             representative: list[list[np.ndarray]]) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter.representative_dataset = lambda: iter(representative)
    # Per-tensor weights: TFLM cannot prepare a per-channel FULLY_CONNECTED without a bias
    # (kernel_util.cc, measured on tflite-micro 2026-10), and a GRU step has such products.
    converter._experimental_disable_per_channel = True
    try:
        return converter.convert()
    except Exception as error:  # the converter's own errors are long MLIR dumps
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(
            f"the TFLite converter could not make a full-int8 model: {first[:300]}. Models "
            "exported here are built from GhostGRU/GRU/GhostLSTM/LSTM, Dense, Conv2D, "
            "DepthwiseConv2D, BatchNormalization, ReLU, pooling and Reshape layers."
        ) from error


def _state_ranges(step: keras.Model, pairs: list[list[np.ndarray]]) -> list[tuple[float, float]]:
    """Hidden states (bounded by tanh) get the fixed range; others a measured one."""
    ranges = []
    for index, tensor in enumerate(step.inputs[1:], start=1):
        values = np.concatenate([p[index] for p in pairs])
        is_hidden = not tensor.name.endswith("_state_1")  # LSTM: state_0 = h, state_1 = c
        ranges.append(HIDDEN_STATE_RANGE if is_hidden and np.max(np.abs(values)) <= 1.0
                      else _state_range(values))
    return ranges


def _head(logits: tf.Tensor, probabilities: bool) -> tf.Tensor:
    # Softmax scores (int8, scale 1/256) are what the recognizer averages on the device.
    return tf.nn.softmax(logits) if probabilities else logits


def convert_step_model(model: keras.Model, representative: np.ndarray,
                       probabilities: bool = True) -> ExportedModel:
    """Converts a recurrent KWS model to a full-int8 single-step TFLite model.

    Args:
        model: A trained float or QAT model (RNN layers followed by frame-wise layers).
        representative: ``[N, frames, features]`` real features (a few dozen clips) to
            calibrate the int8 ranges.
        probabilities: Output softmax scores (the firmware's recognizer averages them)
            instead of logits.

    Returns:
        An :class:`ExportedModel`: inputs ``[frame, *states]``, outputs
        ``[logits, *new_states]``, all int8; each state's input and output share scale and
        zero point.
    """
    step = step_model(model)
    pairs = _calibration_pairs(step, representative)
    ranges = _state_ranges(step, pairs)
    arg_names = ["frame"] + [f"state_{i}" for i in range(len(step.inputs) - 1)]
    specs = [tf.TensorSpec([1, int(t.shape[-1])], tf.float32, name=name)
             for t, name in zip(step.inputs, arg_names)]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        frame, states = inputs[0], [_fake_quant(s, r) for s, r in zip(inputs[1:], ranges)]
        outputs = step([frame, *states], training=False)
        logits, new_states = outputs[0], outputs[1:]
        return [_head(logits, probabilities),
                *(_fake_quant(s, r) for s, r in zip(new_states, ranges))]

    concrete = serve.get_concrete_function()
    # The calibrator feeds samples in the converted model's input order: learn it first.
    float_inputs = read_tflite(_float_tflite(concrete, step)).inputs
    order = _roles([t.name for t in float_inputs], arg_names)
    tflite = _convert(concrete, step, [[pair[i] for i in order] for pair in pairs])
    info = read_tflite(tflite)
    return ExportedModel(
        tflite=tflite,
        input_roles=_roles([t.name for t in info.inputs], arg_names),
        output_roles=_roles([t.name for t in info.outputs], []),
        kind="step",
        frames=int(model.input_shape[1]),
        feature_dim=int(model.input_shape[-1]),
        num_labels=int(step.outputs[0].shape[-1]),
        state_sizes=[int(t.shape[-1]) for t in step.inputs[1:]],
        state_ranges=ranges,
    )


def convert_window_model(model: keras.Model, representative: np.ndarray,
                         probabilities: bool = True) -> ExportedModel:
    """Converts a model that reads a whole window (e.g. DS-CNN) to full-int8 TFLite."""
    frames, features = int(model.input_shape[1]), int(model.input_shape[2])
    spec = tf.TensorSpec([1, frames, features], tf.float32, name="features")

    @tf.function(input_signature=[spec])
    def serve(window):
        return _head(model(window, training=False), probabilities)

    samples = [[w[None].astype(np.float32)] for w in representative[:_MAX_CALIBRATION_SAMPLES]]
    tflite = _convert(serve.get_concrete_function(), model, samples)
    return ExportedModel(tflite, "window", frames, features, int(model.output_shape[-1]))


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
