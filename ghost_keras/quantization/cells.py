"""Quantization-aware Ghost GRU / LSTM cells: fake quantization *inside* the recurrent step.

An int8 TFLite Micro step model of a GRU is a small graph of int8 builtins (FULLY_CONNECTED,
SPLIT / SPLIT_V, ADD, MUL, SUB, LOGISTIC, TANH, CONCATENATION). Every tensor between two of those
ops is int8 on the device, with one scale and zero point. The cells here compute the step with
ops that map 1:1 onto those builtins and put a fake-quant op on every tensor the device will
hold in int8, in the order the converter fuses them (the bias add is fused into
FULLY_CONNECTED, so the output is quantized after ``matmul + bias``, never between). The
converter then takes the ranges learned in Keras instead of calibrating its own, and the int8
model computes what the QAT Keras model computed, up to rounding.

Fake-quant placement (``fq`` = learned range, tfmot ``MovingAverageQuantizer``; ``W`` = weight
fake quant, tfmot ``LastValueQuantizer``, per-tensor symmetric 8-bit narrow range like TFLite's
int8 FULLY_CONNECTED weights; fixed ranges: ``sig`` = [0, 255/256] (LOGISTIC output, scale
1/256, zero point -128), ``tanh`` / ``state`` = [-1, 127/128] (TANH output and the recurrent
state, scale 1/128, zero point 0)):

GhostGRU (``reset_after=True``, ``m`` intrinsic, ``k`` ghost units; state ``s = [h, g]``)::

    s     = state(s_in)                                 # the int8 state input
    xw    = fq(x W(Wx) + bx)                            # FULLY_CONNECTED, 3m
    x_zr, x_c = split(xw, [2m, m])                      # SPLIT_V
    ratio 1:  hw = fq(s W(U) + bh); h_zr, h_c = split(hw, [2m, m])
    ghost:    h_zr = fq(s W(U[:, :2m]) + bh[:2m])       # gates read the whole state
              h, g = split(s, [m, k])
              h_c = fq(h W(U[:m, 2m:]) + bh[2m:])       # candidate, intrinsic part
              g_c = fq(g W(U[m:, 2m:]))                 # candidate, ghost part
    z, r  = split(sig(sigmoid(fq(x_zr + h_zr))), 2)     # ADD, LOGISTIC, SPLIT
    rc    = fq(r * h_c)            (+ ghost: rc = fq(rc + g_c))
    c     = tanh(tanh(fq(x_c + rc)))                    # ADD, TANH
    h_new = state(c + fq(z * fq(h - c)))                # SUB, MUL, ADD: z h + (1 - z) c
    g_new = tanh(tanh(fq(h_new W(G) + bg)))             # the dense cheap op (FC, TANH)
    s_out = state(concat([h_new, g_new]))               # CONCATENATION, same scale in and out

GhostLSTM (state ``s = [h, g]`` and cell state ``c``)::

    s = state(s_in); c = cell(c_in)
    z = fq(fq(x W(Wx) + b) + fq(s W(U)))                # FC, FC, ADD
    i, f, cc, o = split(z, 4); i, f, o = sig(sigmoid(.)); cc = tanh(tanh(cc))
    c_new = cell(fq(f * c) + fq(i * cc))                # MUL, MUL, ADD
    h_new = state(o * tanh(tanh(c_new)))                # TANH, MUL
    s_out = state(concat([h_new, g_new]))

The LSTM cell state ``c`` is not bounded by 1: it gets its own fixed range ``cell``
``[-R, R * 127/128]`` (``cell_state_range`` R: scale R/128), again shared by the state input and
output so the firmware copies it back unchanged. R is calibrated per model
(:func:`ghost_keras.quantization.calibrate`: a percentile, by default the 99th, of the ``|c|``
at the cell-state input and output on the calibration batches); 4 until then.

The quantizers' variables exist whether or not ``qat`` is on, so a float (``qat=False``) and
a QAT cell have the same weight list. With ``qat=False`` the cell computes the float Ghost cell.
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from ghost_keras.layers.base import GhostRNNBase, expose_cell_options
from ghost_keras.layers.ghost_gru import GhostGRUCell
from ghost_keras.layers.ghost_lstm import GhostLSTMCell

_quantizers = tfmot.quantization.keras.quantizers

#: The int8 range of the recurrent state, of TANH outputs: scale 1/128, zero point 0.
STATE_MIN, STATE_MAX = -1.0, 127.0 / 128.0
#: The int8 range of LOGISTIC outputs: scale 1/256, zero point -128.
SIGMOID_MIN, SIGMOID_MAX = 0.0, 255.0 / 256.0
#: Range of the LSTM cell state before calibration: [-4, 4 * 127/128], scale 1/32.
DEFAULT_CELL_STATE_RANGE = 4.0
#: The percentile of the calibration batches' ``|c|`` (every value at the cell-state input and
#: output, where the range is shared) the cell state's range is set to: the 99th, chosen on the
#: validation split (``int8_lstm`` suite, real speech, 12 epochs; mean QAT validation accuracy of
#: LSTM-S and GhostLSTM-S r2: fixed R = 4 76.8%, the largest |c| 78.4%, 99.99th 78.5%, 99.9th
#: 79.1%, 99.5th 78.7%, 99th 79.4%). A few larger values are clipped; the rest get finer steps
#: (R ~ 24-29 instead of ~45 for these models).
DEFAULT_CELL_STATE_PERCENTILE = 99.0

#: Range cap of a tensor that feeds only LOGISTIC or TANH. Their int8 outputs are saturated
#: well before +-8 (sigmoid(6.3) and tanh(3.1) already round to the top code), so a wider
#: range only coarsens the steps where the curve is steep. Calibration on microfrontend
#: features gave GRU-S gate pre-activations ranges of +-60 (step 0.47).
PREACTIVATION_LIMIT = 8.0
#: Range cap of a FULLY_CONNECTED output that feeds only such a pre-activation (through ADD,
#: or MUL by a gate in [0, 1] then ADD): past +-24 the sum saturates unless the other operand
#: exceeds +-16 (measured recurrent FC ranges: +-13).
GATE_INPUT_LIMIT = 24.0
#: The capped activation quantizers, by the cells' tensor names.
RANGE_CAPS = {
    "gate_add": PREACTIVATION_LIMIT, "candidate_add": PREACTIVATION_LIMIT,
    "ghost_fc": PREACTIVATION_LIMIT, "ghost_out": PREACTIVATION_LIMIT,
    "x_fc": GATE_INPUT_LIMIT, "h_fc": GATE_INPUT_LIMIT, "hc_fc": GATE_INPUT_LIMIT,
    "gc_fc": GATE_INPUT_LIMIT,
}

_SIGMOID_NAMES = ("sigmoid",)
_TANH_NAMES = ("tanh",)
_LINEAR_NAMES = ("linear",)


class CappedMovingAverageQuantizer(_quantizers.MovingAverageQuantizer):
    """tfmot's ``MovingAverageQuantizer`` whose learned range never exceeds ``[-limit, limit]``.

    In training the moving averages see the tensor clipped to the cap (the fake-quant output
    is the same: fake quantization clamps to its range anyway); at inference the graph is
    tfmot's, a FakeQuant with the learned range, which the converter turns into the int8
    tensor's scale. :func:`ghost_keras.quantization.calibrate` applies the cap too.
    """

    def __init__(self, limit: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = float(limit)

    def __call__(self, inputs, training, weights, **kwargs):
        if training is True:
            inputs = tf.clip_by_value(inputs, -self.limit, self.limit)
        return super().__call__(inputs, training, weights, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "limit": self.limit}


def _activation_name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def fixed_fake_quant(x: tf.Tensor, lo: float, hi: float) -> tf.Tensor:
    """8-bit fake quantization with a fixed range (``fake_quant_with_min_max_args``)."""
    return tf.quantization.fake_quant_with_min_max_args(x, min=lo, max=hi, num_bits=8)


def state_fake_quant(x: tf.Tensor) -> tf.Tensor:
    """The fixed int8 quantization of a recurrent state: [-1, 127/128], scale 1/128, zp 0."""
    return fixed_fake_quant(x, STATE_MIN, STATE_MAX)


class _QuantizedCellMixin:
    """Owns the cell's quantizers and applies them when ``qat`` is on.

    Subclasses call :meth:`_init_quantization` in ``__init__`` and :meth:`_add_quantizers` at
    the end of ``build``; in the step they call ``self._w`` (weights), ``self._a`` (learned
    activation ranges) and the fixed-range helpers.
    """

    def _init_quantization(self, qat: bool) -> None:
        self.qat = bool(qat)
        self._weight_quantizers: dict[str, tuple[Any, dict, Callable[[], tf.Tensor]]] = {}
        self._activation_quantizers: dict[str, tuple[Any, dict]] = {}

    def _check_activations(self) -> None:
        problems = []
        if _activation_name(self.recurrent_activation) not in _SIGMOID_NAMES:
            problems.append(f"recurrent_activation={_activation_name(self.recurrent_activation)}")
        if _activation_name(self.activation) not in _TANH_NAMES:
            problems.append(f"activation={_activation_name(self.activation)}")
        if self.ghost_units and _activation_name(self.ghost_activation) not in (
            _TANH_NAMES + _LINEAR_NAMES
        ):
            problems.append(f"ghost_activation={_activation_name(self.ghost_activation)}")
        if problems:
            raise ValueError(
                f"{type(self).__name__} quantizes the int8 builtins LOGISTIC and TANH: it needs "
                "recurrent_activation='sigmoid', activation='tanh' and ghost_activation 'tanh' "
                f"or None; got {', '.join(problems)}."
            )

    def _add_weight_quantizer(self, name: str, source: Callable[[], tf.Tensor]) -> None:
        quantizer = _quantizers.LastValueQuantizer(
            num_bits=8, per_axis=False, symmetric=True, narrow_range=True
        )
        variables = quantizer.build(None, name, self)
        self._weight_quantizers[name] = (quantizer, variables, source)

    def _add_activation_quantizer(self, name: str) -> None:
        options = {"num_bits": 8, "per_axis": False, "symmetric": False, "narrow_range": False}
        quantizer = (CappedMovingAverageQuantizer(RANGE_CAPS[name], **options)
                     if name in RANGE_CAPS else _quantizers.MovingAverageQuantizer(**options))
        self._activation_quantizers[name] = (quantizer, quantizer.build(None, name, self))

    def _w(self, name: str, weight: tf.Tensor, training: bool) -> tf.Tensor:
        if not self.qat:
            return weight
        quantizer, variables, _ = self._weight_quantizers[name]
        return quantizer(weight, training, weights=variables)

    def _a(self, name: str, x: tf.Tensor, training: bool) -> tf.Tensor:
        if not self.qat:
            return x
        quantizer, variables = self._activation_quantizers[name]
        return quantizer(x, training, weights=variables)

    def _state(self, x: tf.Tensor) -> tf.Tensor:
        return state_fake_quant(x) if self.qat else x

    def _sigmoid(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.sigmoid(x)
        return fixed_fake_quant(y, SIGMOID_MIN, SIGMOID_MAX) if self.qat else y

    def _tanh(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.tanh(x)
        return state_fake_quant(y) if self.qat else y

    def _fc(self, x: tf.Tensor, kernel_name: str, kernel: tf.Tensor, bias: tf.Tensor | None,
            out_name: str | None, training: bool) -> tf.Tensor:
        """FULLY_CONNECTED: matmul + bias, then the output fake quant (``out_name``)."""
        y = tf.matmul(x, self._w(kernel_name, kernel, training))
        if bias is not None:
            y = tf.nn.bias_add(y, bias)
        return self._a(out_name, y, training) if out_name else y

    def _ghost_states(self, h: tf.Tensor, training: bool) -> tf.Tensor:
        """``g = phi(h)`` with the cheap op's int8 ops (h is already at the state scale)."""
        gm = self.ghost_map
        linear = _activation_name(gm.activation) in _LINEAR_NAMES
        if gm.cheap_op == "dense":
            g = tf.matmul(h, self._w("ghost_kernel", gm.kernel, training))
            if gm.bias is not None:
                g = tf.nn.bias_add(g, gm.bias)
            # A linear cheap op writes straight into the state's scale.
            return self._state(g) if linear else self._tanh(self._a("ghost_fc", g, training))
        repeats = -(-gm.ghost_units // gm.intrinsic_units)
        source = tf.concat([h] * repeats, axis=-1) if repeats > 1 else h
        if repeats * gm.intrinsic_units != gm.ghost_units:
            source = source[:, : gm.ghost_units]
        g = source * self._w("ghost_kernel", gm.kernel, training)
        if gm.bias is not None:
            g = self._a("ghost_mul", g, training)
            g = g + self._w("ghost_bias", gm.bias, training)
        return self._state(g) if linear else self._tanh(self._a("ghost_out", g, training))

    def _add_ghost_quantizers(self) -> None:
        gm = self.ghost_map
        if gm is None:
            return
        self._add_weight_quantizer("ghost_kernel", lambda: gm.kernel)
        linear = _activation_name(gm.activation) in _LINEAR_NAMES
        if gm.cheap_op == "dense":
            if not linear:
                self._add_activation_quantizer("ghost_fc")
        else:
            if gm.bias is not None:
                self._add_weight_quantizer("ghost_bias", lambda: gm.bias)
                self._add_activation_quantizer("ghost_mul")
            if not linear:
                self._add_activation_quantizer("ghost_out")

    def _with_ghosts_quantized(self, h: tf.Tensor, training: bool) -> tf.Tensor:
        if self.ghost_map is None:
            return h
        return self._state(tf.concat([h, self._ghost_states(h, training)], axis=-1))

    def _resolve_training(self, training: Any) -> Any:
        if training is None:
            training = keras.backend.learning_phase()
        if isinstance(training, (bool, int)):
            return bool(training)
        return training  # a tensor: resolved by smart_cond

    def _call_with_training(self, step: Callable[[bool], Any], training: Any) -> Any:
        training = self._resolve_training(training)
        if isinstance(training, bool):
            return step(training)
        return tf.__internal__.smart_cond.smart_cond(
            training, lambda: step(True), lambda: step(False)
        )

    # -- used by ghost_keras.quantization.qat -------------------------------------------------

    def weight_quantizers(self) -> list[tuple[str, Any, dict, tf.Tensor]]:
        """``(name, quantizer, {'min_var', 'max_var'}, current float weight)`` per weight."""
        return [(n, q, v, src()) for n, (q, v, src) in self._weight_quantizers.items()]

    def activation_quantizers(self) -> list[tuple[str, Any, dict]]:
        """``(name, quantizer, {'min_var', 'max_var'})`` per learned activation range."""
        return [(n, q, v) for n, (q, v) in self._activation_quantizers.items()]


@keras.utils.register_keras_serializable(package="ghost_keras")
class QuantizedGhostGRUCell(_QuantizedCellMixin, GhostGRUCell):
    """A :class:`~ghost_keras.layers.GhostGRUCell` with int8 fake quantization inside the step.

    Same weights (and weight layout) as ``GhostGRUCell``; with ``ratio=1`` the same weights as
    ``keras.layers.GRUCell``. See the module docstring for where each fake quant sits.

    Args:
        units, ratio, reset_after, **kwargs: As :class:`~ghost_keras.layers.GhostGRUCell`;
            ``activation`` must be ``tanh``, ``recurrent_activation`` ``sigmoid`` and
            ``ghost_activation`` ``tanh`` or ``None`` (the int8 ops are LOGISTIC and TANH).
        qat: Apply the fake quantization (``False``: the float cell, same variables).
    """

    def __init__(self, units: int, ratio: int = 2, reset_after: bool = True, qat: bool = True,
                 **kwargs: Any):
        super().__init__(units, ratio=ratio, reset_after=reset_after, **kwargs)
        self._init_quantization(qat)
        self._check_activations()

    def build(self, input_shape: tf.TensorShape) -> None:
        super().build(input_shape)
        m = self.intrinsic_units
        self._add_weight_quantizer("kernel", lambda: self.kernel)
        self._add_activation_quantizer("x_fc")
        if not self.ghost_units and self.reset_after:
            self._add_weight_quantizer("recurrent_kernel", lambda: self.recurrent_kernel)
            self._add_activation_quantizer("h_fc")
        else:
            self._add_weight_quantizer("recurrent_gates",
                                       lambda: self.recurrent_kernel[:, : 2 * m])
            self._add_activation_quantizer("h_fc")
            self._add_weight_quantizer("recurrent_intrinsic",
                                       lambda: self.recurrent_kernel[:m, 2 * m:])
            self._add_activation_quantizer("hc_fc")
            if self.ghost_units:
                self._add_weight_quantizer("recurrent_ghost",
                                           lambda: self.recurrent_kernel[m:, 2 * m:])
                self._add_activation_quantizer("gc_fc")
                self._add_activation_quantizer("ghost_add")
        self._add_activation_quantizer("gate_add")
        self._add_activation_quantizer("reset_mul")
        self._add_activation_quantizer("candidate_add")
        self._add_activation_quantizer("update_sub")
        self._add_activation_quantizer("update_mul")
        self._add_ghost_quantizers()
        self.built = True

    def call(self, inputs: tf.Tensor, states: Any, training: Any = None):
        return self._call_with_training(lambda t: self._step(inputs, states, t), training)

    def _step(self, inputs: tf.Tensor, states: Any, training: bool):
        state = states[0] if tf.nest.is_nested(states) else states
        m, k = self.intrinsic_units, self.ghost_units
        state = self._state(state)
        inputs, gate_state = self._input_and_state_masks(inputs, state, training)
        h_prev, g_prev = tf.split(state, [m, k], axis=-1) if k else (state, None)

        input_bias, recurrent_bias = self.split_bias()
        a = lambda name, x: self._a(name, x, training)  # noqa: E731

        xw = self._fc(inputs, "kernel", self.kernel, input_bias, "x_fc", training)
        x_zr, x_c = tf.split(xw, [2 * m, m], axis=-1)

        if not k and self.reset_after:
            hw = self._fc(gate_state, "recurrent_kernel", self.recurrent_kernel, recurrent_bias,
                          "h_fc", training)
            h_zr, h_c = tf.split(hw, [2 * m, m], axis=-1)
            gate_h = gate_g = None
        else:
            if k and gate_state is state:  # no recurrent dropout: one SPLIT_V of the state
                gate_h, gate_g = h_prev, g_prev
            elif k:
                gate_h, gate_g = tf.split(gate_state, [m, k], axis=-1)
            else:
                gate_h, gate_g = gate_state, None
            h_zr = self._fc(gate_state, "recurrent_gates", self.recurrent_kernel[:, : 2 * m],
                            None if recurrent_bias is None else recurrent_bias[: 2 * m],
                            "h_fc", training)
        zr = self._sigmoid(a("gate_add", x_zr + h_zr))
        z, r = tf.split(zr, 2, axis=-1)

        w_hc = self.recurrent_kernel[:m, 2 * m:]
        if self.reset_after:
            if k:
                h_c = self._fc(gate_h, "recurrent_intrinsic", w_hc,
                               None if recurrent_bias is None else recurrent_bias[2 * m:],
                               "hc_fc", training)
            rec_c = a("reset_mul", r * h_c)
        else:
            rec_c = self._fc(a("reset_mul", r * gate_h), "recurrent_intrinsic", w_hc, None,
                             "hc_fc", training)
        if k:
            g_c = self._fc(gate_g, "recurrent_ghost", self.recurrent_kernel[m:, 2 * m:], None,
                           "gc_fc", training)
            rec_c = a("ghost_add", rec_c + g_c)
        c = self._tanh(a("candidate_add", x_c + rec_c))
        # h = z * h_prev + (1 - z) * c, as c + z * (h_prev - c): SUB, MUL, ADD.
        h = self._state(c + a("update_mul", z * a("update_sub", h_prev - c)))
        new_state = self._with_ghosts_quantized(h, training)
        return new_state, [new_state]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "qat": self.qat}


@keras.utils.register_keras_serializable(package="ghost_keras")
class QuantizedGhostLSTMCell(_QuantizedCellMixin, GhostLSTMCell):
    """A :class:`~ghost_keras.layers.GhostLSTMCell` with int8 fake quantization inside the step.

    Args:
        units, ratio, unit_forget_bias, **kwargs: As :class:`~ghost_keras.layers.GhostLSTMCell`
            (activations must be ``tanh`` / ``sigmoid``, as for the GRU cell).
        qat: Apply the fake quantization.
        cell_state_range: ``R``: the cell state ``c`` is quantized to the fixed range
            ``[-R, R * 127/128]`` (scale ``R/128``, zero point 0) at the state input and output.
        cell_state_percentile: :func:`~ghost_keras.quantization.calibrate` sets ``R`` to this
            percentile of the ``|c|`` it sees (100: the largest); None: ``R`` stays as given.
    """

    def __init__(self, units: int, ratio: int = 2, unit_forget_bias: bool = True,
                 qat: bool = True, cell_state_range: float = DEFAULT_CELL_STATE_RANGE,
                 cell_state_percentile: float | None = DEFAULT_CELL_STATE_PERCENTILE,
                 **kwargs: Any):
        super().__init__(units, ratio=ratio, unit_forget_bias=unit_forget_bias, **kwargs)
        self._init_quantization(qat)
        if cell_state_percentile is not None and not 0 < cell_state_percentile <= 100:
            raise ValueError(f"cell_state_percentile must be in (0, 100], got "
                             f"{cell_state_percentile!r}.")
        self.cell_state_percentile = cell_state_percentile
        self.cell_state_range = float(cell_state_range)
        if self.cell_state_range <= 0:
            raise ValueError(f"cell_state_range must be positive, got {cell_state_range!r}.")
        self._check_activations()

    def build(self, input_shape: tf.TensorShape) -> None:
        super().build(input_shape)
        self._add_weight_quantizer("kernel", lambda: self.kernel)
        self._add_activation_quantizer("x_fc")
        self._add_weight_quantizer("recurrent_kernel", lambda: self.recurrent_kernel)
        self._add_activation_quantizer("h_fc")
        self._add_activation_quantizer("gate_add")
        self._add_activation_quantizer("forget_mul")
        self._add_activation_quantizer("input_mul")
        self._add_ghost_quantizers()
        self.built = True

    def _cell(self, x: tf.Tensor) -> tf.Tensor:
        observer = getattr(self, "cell_state_observer", None)
        if observer is not None:  # calibration: record c (input and output: they share the
            # range), and do not clip it at the old one
            observer(x)
            return x
        if not self.qat:
            return x
        r = self.cell_state_range
        return fixed_fake_quant(x, -r, r * 127.0 / 128.0)

    def call(self, inputs: tf.Tensor, states: Any, training: Any = None):
        return self._call_with_training(lambda t: self._step(inputs, states, t), training)

    def _step(self, inputs: tf.Tensor, states: Any, training: bool):
        full_prev, c_prev = self._state(states[0]), self._cell(states[1])
        inputs, gate_state = self._input_and_state_masks(inputs, full_prev, training)
        a = lambda name, x: self._a(name, x, training)  # noqa: E731
        zx = self._fc(inputs, "kernel", self.kernel, self.bias, "x_fc", training)
        zh = self._fc(gate_state, "recurrent_kernel", self.recurrent_kernel, None, "h_fc",
                      training)
        z_i, z_f, z_c, z_o = tf.split(a("gate_add", zx + zh), 4, axis=-1)
        i, f, o = self._sigmoid(z_i), self._sigmoid(z_f), self._sigmoid(z_o)
        c = self._cell(a("forget_mul", f * c_prev) + a("input_mul", i * self._tanh(z_c)))
        h = self._state(o * self._tanh(c))
        full = self._with_ghosts_quantized(h, training)
        return full, [full, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "qat": self.qat,
                "cell_state_range": self.cell_state_range,
                "cell_state_percentile": self.cell_state_percentile}


@expose_cell_options
@keras.utils.register_keras_serializable(package="ghost_keras")
class QuantizedGhostGRU(GhostRNNBase):
    """A GhostGRU layer whose cell is :class:`QuantizedGhostGRUCell` (a ``keras.layers.RNN``).

    ``quantize_model`` puts it in place of ``GRU`` / ``GhostGRU`` layers; ``layer.cell`` can be
    called on ``(frame, state)`` like any Keras RNN cell, fake quant included.
    """

    cell_class = QuantizedGhostGRUCell


@expose_cell_options
@keras.utils.register_keras_serializable(package="ghost_keras")
class QuantizedGhostLSTM(GhostRNNBase):
    """A GhostLSTM layer whose cell is :class:`QuantizedGhostLSTMCell` (a ``keras.layers.RNN``)."""

    cell_class = QuantizedGhostLSTMCell
