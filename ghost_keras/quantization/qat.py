"""Quantization-aware training of KWS models: ``quantize_model``, ``calibrate``, ``fine_tune``.

How a model is quantized:

* Recurrent layers (``keras.layers.GRU`` / ``LSTM``, ``GhostGRU`` / ``GhostLSTM``, or
  ``keras.layers.RNN`` around their cells) are rebuilt as :class:`QuantizedGhostGRU` /
  :class:`QuantizedGhostLSTM` with the same weights (a Keras GRU / LSTM is the Ghost layer with
  ``ratio=1``, weight for weight). Their cells fake-quantize every int8 tensor of the step
  themselves (see :mod:`ghost_keras.quantization.cells`), the state with the fixed range
  [-1, 127/128]. They are **not** wrapped in tfmot's ``QuantizeWrapperV2``: the QAT model keeps
  a ``keras.layers.RNN`` whose ``cell`` can be called on one frame.
* Every other layer goes through tfmot's default 8-bit registry (``Dense``, ``Conv2D``,
  ``DepthwiseConv2D``, ``BatchNormalization``, ``ReLU``, ``Reshape``, pooling...): it becomes a
  ``QuantizeWrapperV2`` named ``quant_<name>``; tfmot also puts a ``QuantizeLayer`` (learned
  input range, ``AllValuesQuantizer``) after the model input.
* Layers neither path can quantize raise a ``ValueError`` naming the layer.

The QAT model of ``build_model("ghost_gru", ...)`` has the layers
``[InputLayer 'features', QuantizeLayer 'quantize_features', QuantizedGhostGRU 'rnn',
QuantizeWrapperV2 'quant_logits' (around Dense 'logits')]``.

Before fine-tuning, :func:`calibrate` sets the learned ranges from a few batches of data (like
post-training calibration): tfmot's moving-average ranges start at [-6, 6] and follow the data
with an EMA of decay 0.999, far too slowly for a short fine-tune. :func:`fine_tune` does both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quant_ops
from tensorflow_model_optimization.python.core.quantization.keras import quantize_layer
from tensorflow_model_optimization.python.core.quantization.keras import quantize_wrapper
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry,
)

from ghost_keras.layers import GhostGRU, GhostGRUCell, GhostLSTM, GhostLSTMCell, GhostMap
from ghost_keras.quantization.cells import (
    DEFAULT_CELL_STATE_PERCENTILE,
    DEFAULT_CELL_STATE_RANGE,
    QuantizedGhostGRU,
    QuantizedGhostGRUCell,
    QuantizedGhostLSTM,
    QuantizedGhostLSTMCell,
    _QuantizedCellMixin,
)
from ghost_keras.quantization.configs import SelfQuantizedConfig

_tfmot_keras = tfmot.quantization.keras
_quantizers = _tfmot_keras.quantizers

#: Classes a saved QAT model needs besides tfmot's own (see :func:`quantize_scope`).
CUSTOM_OBJECTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (QuantizedGhostGRU, QuantizedGhostGRUCell, QuantizedGhostLSTM,
                QuantizedGhostLSTMCell, SelfQuantizedConfig, GhostGRU, GhostGRUCell, GhostLSTM,
                GhostLSTMCell, GhostMap)
}

# RNN-level options carried over to the quantized layer.
_RNN_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                "time_major", "zero_output_for_mask")
# Options of keras.layers.GRUCell / LSTMCell that the Ghost cells share.
_KERAS_CELL_OPTIONS = (
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
    "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout",
)


def quantize_scope(*custom_objects: dict[str, Any]):
    """Scope to load (or clone) QAT models: tfmot's ``quantize_scope`` plus this package's
    classes (quantized cells and layers, :class:`SelfQuantizedConfig`, the Ghost layers).

    QAT models save and load in the ``.h5`` format (with tfmot 0.8 the ``.keras`` format
    fails on load for any tfmot model: ``QuantizeLayer`` / ``QuantizeWrapperV2`` restore a
    different number of variables than they saved)::

        qat.save("qat.h5")
        with quantize_scope():
            qat = keras.models.load_model("qat.h5")

    Args:
        *custom_objects: More ``{name: class}`` dicts to add.
    """
    return _tfmot_keras.quantize_scope(CUSTOM_OBJECTS, *custom_objects)


# -- building the QAT model ----------------------------------------------------------------------


def _cell_options(layer: keras.layers.RNN) -> tuple[str, dict[str, Any]]:
    """``("gru" | "lstm", kwargs of the quantized Ghost layer)`` for a recurrent layer."""
    cell = layer.cell
    if isinstance(cell, _QuantizedCellMixin):
        raise ValueError(f"layer {layer.name!r} is already quantized (the model is a QAT model).")
    if isinstance(cell, (GhostGRUCell, GhostLSTMCell)):
        options = cell.get_config()
        for key in ("name", "trainable", "dtype"):
            options.pop(key, None)
        return ("gru" if isinstance(cell, GhostGRUCell) else "lstm"), options
    if isinstance(cell, keras.layers.GRUCell):
        kind, extra = "gru", ("reset_after",)
    elif isinstance(cell, keras.layers.LSTMCell):
        kind, extra = "lstm", ("unit_forget_bias",)
    else:
        raise ValueError(
            f"cannot quantize recurrent layer {layer.name!r}: its cell "
            f"({type(cell).__name__}) is not a GRU, LSTM, GhostGRU or GhostLSTM cell "
            "(stacked cells are not supported either: use one RNN layer per cell)."
        )
    config = cell.get_config()
    options = {key: config[key] for key in _KERAS_CELL_OPTIONS + extra if key in config}
    options["ratio"] = 1  # a Ghost cell with ratio 1 is the Keras cell, weight for weight
    return kind, options


def _quantized_rnn(layer: keras.layers.RNN, cell_state_range: float | None,
                   cell_state_percentile: float) -> keras.layers.RNN:
    kind, options = _cell_options(layer)
    rnn_config = layer.get_config()
    kwargs = {key: rnn_config[key] for key in _RNN_OPTIONS if key in rnn_config}
    if rnn_config.get("activity_regularizer") is not None:
        kwargs["activity_regularizer"] = rnn_config["activity_regularizer"]
    if kind == "lstm":
        options["cell_state_percentile"] = (cell_state_percentile if cell_state_range is None
                                            else None)
        options["cell_state_range"] = (DEFAULT_CELL_STATE_RANGE if cell_state_range is None
                                       else cell_state_range)
    layer_class = QuantizedGhostGRU if kind == "gru" else QuantizedGhostLSTM
    try:
        return layer_class(name=layer.name, **options, **kwargs)
    except ValueError as error:  # unsupported activations: name the layer
        raise ValueError(f"cannot quantize recurrent layer {layer.name!r}: {error}") from error


def _copy_rnn_weights(source: keras.layers.RNN, target: keras.layers.RNN) -> None:
    src, dst = source.cell, target.cell
    dst.kernel.assign(src.kernel)
    dst.recurrent_kernel.assign(src.recurrent_kernel)
    if dst.bias is not None:
        dst.bias.assign(src.bias)
    if getattr(dst, "ghost_map", None) is not None:
        dst.ghost_map.kernel.assign(src.ghost_map.kernel)
        if dst.ghost_map.bias is not None:
            dst.ghost_map.bias.assign(src.ghost_map.bias)


def _is_self_quantized(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, quantize_wrapper.QuantizeWrapper) and isinstance(
        layer.quantize_config, SelfQuantizedConfig
    )


def quantize_model(
    model: keras.Model,
    *,
    cell_state_range: float | None = None,
    cell_state_percentile: float = DEFAULT_CELL_STATE_PERCENTILE,
    calibration_data: Any = None,
    calibration_steps: int = 20,
) -> keras.Model:
    """Returns the quantization-aware (QAT) version of a trained KWS model.

    The QAT model has the same inputs and outputs and starts from ``model``'s float weights
    (``model`` itself is not changed); ``compile`` and ``fit`` it to fine-tune, or use
    :func:`fine_tune`. Its fake quantization mirrors the int8 TFLite model the converter makes
    of it, recurrent step included (see :mod:`ghost_keras.quantization.cells`).

    Args:
        model: A Functional or Sequential model, e.g. from
            :func:`ghost_keras.models.build_model` (``gru``, ``ghost_gru``, ``lstm``,
            ``ghost_lstm``, ``ds_cnn``): recurrent layers plus layers tfmot's default 8-bit
            registry supports.
        cell_state_range: LSTM only: ``R`` of the cell state's fixed int8 range
            ``[-R, R*127/128]``; None (default): set by :func:`calibrate` from the data
            (``DEFAULT_CELL_STATE_RANGE`` until then).
        cell_state_percentile: LSTM only: the percentile of the calibration batches' ``|c|``
            that ``R`` is set to (100: the largest; default: the 99th).
        calibration_data: Optional batches (``tf.data.Dataset`` or iterable of ``x`` or
            ``(x, y)``) to :func:`calibrate` the learned ranges from right away.
        calibration_steps: Batches used from ``calibration_data``.

    Returns:
        The QAT ``keras.Model`` (uncompiled). Weight ranges are set from the float weights.
        Without ``calibration_data`` the activation ranges are tfmot's initial ones (input
        [0, 0], the rest [-6, 6]): the model's inference output means nothing until
        :func:`calibrate` or training has run (:func:`fine_tune` calibrates first).

    Raises:
        ValueError: a layer cannot be quantized (the message names it), or ``model`` is not a
            Functional / Sequential model.
    """
    if not isinstance(model, keras.Model) or not (
        isinstance(model, keras.Sequential) or model._is_graph_network  # noqa: SLF001
    ):
        raise ValueError(
            "quantize_model needs a Functional or Sequential keras.Model (tf_keras), got "
            f"{type(model).__name__}."
        )
    if not model.built:
        raise ValueError("the model must be built (call it once or give it an Input).")
    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    replaced: dict[str, tuple[keras.layers.Layer, keras.layers.Layer]] = {}

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.RNN):
            new = _quantized_rnn(layer, cell_state_range, cell_state_percentile)
            replaced[layer.name] = (layer, new)
            return _tfmot_keras.quantize_annotate_layer(new, SelfQuantizedConfig())
        if isinstance(layer, keras.Model):
            raise ValueError(
                f"cannot quantize nested model {layer.name!r}: flatten it into one "
                "Functional model first."
            )
        # tfmot decides at quantize_apply (BatchNormalization, for one, is handled only after
        # a convolution, by its layout transforms).
        new = layer.__class__.from_config(layer.get_config())
        replaced[layer.name] = (layer, new)
        return _tfmot_keras.quantize_annotate_layer(new)

    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        for old, new in replaced.values():
            if isinstance(old, keras.layers.RNN):
                _copy_rnn_weights(old, new)
            else:
                new.set_weights(old.get_weights())
        try:
            qat = _tfmot_keras.quantize_apply(annotated)
        except RuntimeError as error:  # "Layer <name>:<class> is not supported. ..."
            supported = [name for name, (old, _) in replaced.items() if registry.supports(old)]
            raise ValueError(
                f"cannot quantize this model: {error} (the quantized recurrent layers handle "
                "GRU, LSTM, GhostGRU and GhostLSTM; tfmot's default 8-bit registry the rest; "
                f"layers it supports here: {supported})"
            ) from error
        # Drop the no-op QuantizeWrapperV2 around the recurrent layers (they quantize
        # themselves): the QAT model keeps plain keras.layers.RNN layers. The input quantizer
        # gets a stable name, "quantize_<input name>" (tfmot numbers them per session).
        input_layers = {id(layer) for layer in qat._input_layers}  # noqa: SLF001

        def unwrap(layer: keras.layers.Layer) -> keras.layers.Layer:
            if _is_self_quantized(layer):
                return layer.layer
            if isinstance(layer, quantize_layer.QuantizeLayer):
                inbound = layer.inbound_nodes[0].inbound_layers
                if id(inbound) in input_layers:
                    config = {**layer.get_config(), "name": f"quantize_{inbound.name}"}
                    return quantize_layer.QuantizeLayer.from_config(config)
            return layer

        qat = keras.models.clone_model(qat, clone_function=unwrap)
    _set_weight_ranges(qat)
    if calibration_data is not None:
        calibrate(qat, calibration_data, steps=calibration_steps)
    return qat


# -- calibration ---------------------------------------------------------------------------------


class _RangeRecorder:
    """While active, tfmot's quantizers record ranges instead of quantizing (float forward)."""

    def __init__(self, record_activations: bool) -> None:
        self.record_activations = record_activations
        self.batch: dict[int, list] = {}   # id(min_var) -> [min_var, max_var, kind, lo, hi]
        self.batches: dict[int, list] = {}  # id(min_var) -> [min_var, max_var, kind, [(lo, hi)]]
        self.limits: dict[int, float] = {}  # id(min_var) -> range cap (capped quantizers)

    def end_batch(self) -> None:
        for key, (min_var, max_var, kind, lo, hi) in self.batch.items():
            self.batches.setdefault(key, [min_var, max_var, kind, []])[3].append((lo, hi))
        self.batch = {}

    def _record(self, kind: str, inputs: tf.Tensor, weights: dict,
                limit: float | None = None) -> None:
        lo = float(tf.reduce_min(inputs))
        hi = float(tf.reduce_max(inputs))
        key = id(weights["min_var"])
        if limit is not None:
            self.limits[key] = limit
        entry = self.batch.get(key)
        if entry is None:
            self.batch[key] = [weights["min_var"], weights["max_var"], kind, lo, hi]
        else:
            entry[3], entry[4] = min(entry[3], lo), max(entry[4], hi)

    def apply(self) -> int:
        """Writes the recorded ranges into the quantizer variables; returns how many."""
        for key, (min_var, max_var, kind, ranges) in self.batches.items():
            los, his = np.array([r[0] for r in ranges]), np.array([r[1] for r in ranges])
            if kind == "all_values":  # the range of everything seen
                lo, hi = los.min(), his.max()
            else:  # a moving average of per-batch ranges: their mean
                lo, hi = los.mean(), his.mean()
            limit = self.limits.get(key)
            if limit is not None:
                lo, hi = max(lo, -limit), min(hi, limit)
            min_var.assign(min(float(lo), 0.0))
            max_var.assign(max(float(hi), 0.0))
        return len(self.batches)

    @contextlib.contextmanager
    def active(self) -> Iterator["_RangeRecorder"]:
        classes = (_quantizers.LastValueQuantizer, _quantizers.MovingAverageQuantizer,
                   _quantizers.AllValuesQuantizer)
        saved = [cls.__dict__["__call__"] for cls in classes]
        recorder = self

        def last_value(self, inputs, training, weights, **kwargs):
            # Weight ranges: what the quantizer's training mode sets, from the current weights.
            quant_ops.LastValueQuantize(
                inputs, weights["min_var"], weights["max_var"], is_training=True,
                num_bits=self.num_bits, per_channel=self.per_axis, symmetric=self.symmetric,
                narrow_range=self.narrow_range,
            )
            return inputs

        def moving_average(self, inputs, training, weights, **kwargs):
            if recorder.record_activations:
                recorder._record("moving_average", inputs, weights, getattr(self, "limit", None))
            return inputs

        def all_values(self, inputs, training, weights, **kwargs):
            if recorder.record_activations:
                recorder._record("all_values", inputs, weights)
            return inputs

        for cls, fn in zip(classes, (last_value, moving_average, all_values)):
            cls.__call__ = fn
        try:
            yield self
        finally:
            for cls, fn in zip(classes, saved):
                cls.__call__ = fn


def _set_weight_ranges(qat_model: keras.Model) -> None:
    """Sets every weight quantizer's range from the current weights (one eager forward)."""
    shape = [1 if d is None else int(d) for d in qat_model.input_shape]
    with _RangeRecorder(record_activations=False).active():
        qat_model(np.zeros(shape, np.float32), training=False)


def _batches(data: Any, steps: int) -> Iterator[Any]:
    for i, batch in enumerate(data):
        if i >= steps:
            return
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch


def calibrate(qat_model: keras.Model, data: Iterable[Any], steps: int = 20) -> int:
    """Sets the QAT model's ranges from data, as post-training calibration would.

    Runs ``steps`` batches through the model in float (eagerly, ``training=False``) and sets
    each learned activation range to the mean over batches of the batch's min and max (the
    input range: min and max over all batches), each weight range to the weight's range, and
    each LSTM cell's ``cell_state_range`` R so that ``[-R, R * 127/128]`` holds its
    ``cell_state_percentile`` of the ``|c|`` of all batches (default the 99th: see
    ``DEFAULT_CELL_STATE_PERCENTILE``; a fixed range shared by the state input and output; the
    old fixed R = 4 clipped real-speech LSTM cell states, which reach 45).
    Call it before fine-tuning (:func:`fine_tune` does), not on a model already fine-tuned
    unless you mean to reset its ranges.

    Args:
        qat_model: A model from :func:`quantize_model`.
        data: ``tf.data.Dataset`` or iterable of input batches or ``(x, y[, w])`` tuples.
        steps: Number of batches to use.

    Returns:
        The number of activation ranges set.
    """
    recorder = _RangeRecorder(record_activations=True)
    lstm_cells = [layer.cell for layer in qat_model.layers
                  if isinstance(getattr(layer, "cell", None), QuantizedGhostLSTMCell)
                  and layer.cell.cell_state_percentile is not None]
    seen: dict[int, list[np.ndarray]] = {id(cell): [] for cell in lstm_cells}

    def observer(cell: QuantizedGhostLSTMCell) -> Callable[[tf.Tensor], None]:
        return lambda c: seen[id(cell)].append(np.abs(np.asarray(c, np.float32)).ravel())

    for cell in lstm_cells:
        cell.cell_state_observer = observer(cell)
    try:
        with recorder.active():
            for x in _batches(data, steps):
                qat_model(tf.convert_to_tensor(x), training=False)
                recorder.end_batch()
    finally:
        for cell in lstm_cells:
            cell.cell_state_observer = None
    if not recorder.batches:
        raise ValueError("calibrate: the data gave no batch.")
    for cell in lstm_cells:  # the cell state's fixed range: [-R, R * 127/128] holds the value
        value = float(np.percentile(np.concatenate(seen[id(cell)]), cell.cell_state_percentile))
        if value > 0:
            cell.cell_state_range = value * 128.0 / 127.0
    return recorder.apply()


def fine_tune(
    qat_model: keras.Model,
    train_ds: Any,
    val_ds: Any = None,
    epochs: int = 2,
    lr: float = 1e-4,
    *,
    calibration_steps: int = 20,
    loss: Any = None,
    metrics: Any = ("accuracy",),
    callbacks: Any = None,
    verbose: Any = "auto",
) -> keras.callbacks.History:
    """Calibrates the QAT model's ranges on ``train_ds`` and fine-tunes it with Adam.

    Args:
        qat_model: A model from :func:`quantize_model` (it is compiled here).
        train_ds: Training batches ``(x, y)`` (a ``tf.data.Dataset`` or anything ``fit`` takes).
        val_ds: Optional validation batches.
        epochs: Fine-tuning epochs (QAT needs few: 1-5).
        lr: Adam learning rate (lower than for float training, e.g. 1e-4).
        calibration_steps: Batches of ``train_ds`` for :func:`calibrate` first (0: skip, e.g.
            when continuing a fine-tune).
        loss: Default: sparse categorical cross-entropy on logits.
        metrics, callbacks, verbose: Passed to ``compile`` / ``fit``.

    Returns:
        The ``History`` of ``fit``.
    """
    if calibration_steps:
        calibrate(qat_model, train_ds, steps=calibration_steps)
    qat_model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics) if metrics else None,
    )
    return qat_model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks,
                         verbose=verbose)
