"""Keyword-spotting model builders: GRU / GhostGRU / LSTM / GhostLSTM / DS-CNN at S, M, L.

Sizes follow Hello Edge (Zhang et al. 2017, arXiv 1711.07128): GRU-S/M/L have 154/250/400
units, DS-CNN-S/M/L 64/172/276 filters. Keras' LSTM has no projection or peepholes, so the LSTM
sizes are the widths whose parameter count matches Hello Edge's LSTM-S (78.5k) and GRU-M/L on
10 MFCC inputs. Every builder takes ``(frames, features)`` and returns logits over the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
import tf_keras as keras

from ghost_keras.layers import GhostGRU, GhostLSTM

RECURRENT_WIDTHS = {
    "gru": {"S": 154, "M": 250, "L": 400},
    "lstm": {"S": 133, "M": 216, "L": 346},
}
# DS-CNN: (filters, depthwise-separable blocks).
DS_CNN_SIZES = {"S": (64, 4), "M": (172, 4), "L": (276, 5)}
DEFAULT_RATIO = 2


@dataclass(frozen=True)
class Architecture:
    """One family of KWS models. ``recurrent`` models stream one frame per step."""

    name: str
    description: str
    layer_class: type[keras.layers.Layer] | None = None  # None: a window model (DS-CNN)
    widths: str = ""  # key of RECURRENT_WIDTHS
    ghost: bool = False

    @property
    def recurrent(self) -> bool:
        return self.layer_class is not None


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("gru", "one GRU layer, last state -> linear (Hello Edge)",
                     keras.layers.GRU, "gru"),
        Architecture("ghost_gru", "one GhostGRU layer -> linear (GhostRNN)", GhostGRU, "gru",
                     ghost=True),
        Architecture("lstm", "one LSTM layer -> linear", keras.layers.LSTM, "lstm"),
        Architecture("ghost_lstm", "one GhostLSTM layer -> linear", GhostLSTM, "lstm",
                     ghost=True),
        Architecture("ds_cnn", "depthwise-separable CNN (Hello Edge, MLPerf Tiny)"),
    )
}


def _recurrent_model(
    spec: Architecture,
    size: str,
    input_shape: tuple[int, int],
    num_labels: int,
    per_frame: bool,
    name: str,
    **ghost_kwargs,
) -> keras.Model:
    inputs = keras.Input(input_shape, name="features")
    units = RECURRENT_WIDTHS[spec.widths][size]
    rnn = spec.layer_class(units, return_sequences=per_frame, name="rnn", **ghost_kwargs)
    logits = keras.layers.Dense(num_labels, name="logits")(rnn(inputs))
    return keras.Model(inputs, logits, name=name)


def _ds_cnn(size: str, input_shape: tuple[int, int], num_labels: int, name: str) -> keras.Model:
    filters, blocks = DS_CNN_SIZES[size]
    inputs = keras.Input(input_shape, name="features")
    x = keras.layers.Reshape((*input_shape, 1))(inputs)
    x = keras.layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    for _ in range(blocks):
        x = keras.layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(filters, (1, 1), use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(num_labels, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def build_model(
    arch: str = "ghost_gru",
    size: str = "S",
    input_shape: tuple[int, int] = (49, 40),
    num_labels: int = 12,
    ratio: int = DEFAULT_RATIO,
    cheap_op: str = "dense",
    per_frame: bool = False,
    name: str | None = None,
) -> keras.Model:
    """Builds a KWS model that maps ``(frames, features)`` to logits over ``num_labels``.

    Args:
        arch: One of :data:`ARCHITECTURES`: ``gru``, ``ghost_gru``, ``lstm``, ``ghost_lstm``,
            ``ds_cnn``.
        size: ``"S"``, ``"M"`` or ``"L"`` (Hello Edge sizes).
        input_shape: ``(frames, features)`` of one decision window, e.g. ``(49, 40)`` for
            the microfrontend or ``(49, 10)`` for 10 MFCC.
        num_labels: Number of output classes (12 for the standard task).
        ratio: Ghost ratio of ``ghost_gru`` / ``ghost_lstm`` (ignored by the others): an
            integer; the intrinsic width is ``units // ratio``, rounded down (see
            :func:`ghost_keras.layers.cheap_ops.intrinsic_units`).
        cheap_op: Cheap operation of the ghost models (``"dense"`` or ``"depthwise"``).
        per_frame: Recurrent models only: logits at every frame (``[batch, frames, labels]``),
            for models trained to be read at every step of a stream.
        name: Model name (default ``"<arch>_<size>"``).

    Returns:
        An uncompiled ``keras.Model``.

    Example:

    >>> import ghost_keras
    >>> from ghost_keras.models import build_model
    >>> build_model("ghost_gru", "S", input_shape=(49, 10)).output_shape
    (None, 12)
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(ARCHITECTURES)}.")
    size = size.upper()
    if size not in ("S", "M", "L"):
        raise ValueError(f"unknown size {size!r}; choose S, M or L.")
    if (len(input_shape) != 2 or input_shape[1] is None or int(input_shape[1]) < 1
            or (input_shape[0] is not None and int(input_shape[0]) < 1)):
        raise ValueError(f"input_shape must be (frames, features), got {input_shape!r} "
                         "(frames may be None for a recurrent model: sequences of any length).")
    if num_labels < 2:
        raise ValueError(f"num_labels must be at least 2, got {num_labels}.")
    spec = ARCHITECTURES[arch]
    frames = None if input_shape[0] is None else int(input_shape[0])
    input_shape = (frames, int(input_shape[1]))
    name = name or f"{arch}_{size}"
    if not spec.recurrent:
        if frames is None:
            raise ValueError(f"{arch!r} is a window model: it needs a fixed number of frames.")
        if per_frame:
            raise ValueError(f"per_frame=True needs a recurrent arch; {arch!r} is a window model.")
        return _ds_cnn(size, input_shape, int(num_labels), name)
    ghost_kwargs = {"ratio": ratio, "cheap_op": cheap_op} if spec.ghost else {}
    return _recurrent_model(spec, size, input_shape, int(num_labels), per_frame, name,
                            **ghost_kwargs)
