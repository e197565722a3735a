"""QAT: the quantized model's structure, its int8 export and its agreement with TFLite Micro."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer,
)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2,
)
from test_firmware_helpers import assert_int8_interface

from firmware_export.convert import convert_model
from firmware_export.verify import stream_logits
from ghost_keras.layers import GhostGRU, GhostGRUCell, GhostLSTM, GhostLSTMCell
from ghost_keras.models import build_model
from ghost_keras.quantization import (
    QuantizedGhostGRU,
    QuantizedGhostGRUCell,
    QuantizedGhostLSTM,
    QuantizedGhostLSTMCell,
    fine_tune,
    quantize_model,
    quantize_scope,
)
from ghost_keras.step_runner import KerasStepRunner
from ghost_keras.streaming import step_model

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated", "ignore:You are saving your model as an HDF5"
)

FRAMES, FEATURES, CLASSES = 20, 10, 8
X = np.random.default_rng(0).standard_normal((8, FRAMES, FEATURES)).astype("float32")
INT8_BUILTINS = {"FULLY_CONNECTED", "SPLIT", "SPLIT_V", "ADD", "SUB", "MUL", "LOGISTIC", "TANH",
                 "CONCATENATION", "STRIDED_SLICE"}


# -- helpers ----------------------------------------------------------------------------------


def last_step_outputs(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's output after the last frame, run one frame at a time as its step model."""
    return KerasStepRunner(step_model(model), batch=len(x)).run(x).outputs[:, -1]


def sequence_task(n: int, seed: int, noise: float = 2.5):
    """8 classes of smooth 20 x 10 trajectories, randomly shifted in time, in heavy noise: hard
    enough (~70-85% for a 32-unit GRU) that many test sequences have small top-1 margins."""
    rng = np.random.default_rng(1234)
    base = rng.standard_normal((CLASSES, FRAMES + 6, FEATURES))
    kernel = np.ones(5) / 5
    base = 2.0 * np.apply_along_axis(lambda v: np.convolve(v, kernel, "same"), 1, base)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    shift = rng.integers(0, 6, n)
    x = np.stack([base[c, s:s + FRAMES] for c, s in zip(y, shift)])
    x = x + noise * rng.standard_normal(x.shape)
    return x.astype("float32"), y.astype("int32")


# -- the QAT model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arch, kwargs, rnn_class",
    [
        ("gru", {}, QuantizedGhostGRU),
        ("ghost_gru", {}, QuantizedGhostGRU),
        ("ghost_gru", {"ratio": 4, "cheap_op": "depthwise", "per_frame": True},
         QuantizedGhostGRU),
        ("lstm", {}, QuantizedGhostLSTM),
        ("ghost_lstm", {"cheap_op": "depthwise"}, QuantizedGhostLSTM),
        ("ds_cnn", {}, None),
    ],
)
def test_quantize_model_structure_and_float_weights(arch, kwargs, rnn_class):
    keras.utils.set_random_seed(0)
    model = build_model(arch, "S", input_shape=(FRAMES, FEATURES), num_labels=5, **kwargs)
    qat = quantize_model(model, calibration_data=[X])
    assert qat.input_shape == model.input_shape and qat.output_shape == model.output_shape
    kinds = [type(layer) for layer in qat.layers]
    assert kinds[:2] == [keras.layers.InputLayer, QuantizeLayer]
    assert qat.layers[1].name == "quantize_features"
    if rnn_class is None:
        assert all(k is QuantizeWrapperV2 for k in kinds[2:])
    else:
        assert kinds[2:] == [rnn_class, QuantizeWrapperV2]
        rnn = qat.get_layer("rnn")
        assert isinstance(rnn, keras.layers.RNN)  # not wrapped: step_model can use rnn.cell
        assert isinstance(rnn.cell.kernel, tf.Variable)
        np.testing.assert_array_equal(rnn.cell.kernel.numpy(),
                                      model.get_layer("rnn").cell.kernel.numpy())
        assert qat.get_layer("quant_logits").layer.name == "logits"
        ranges = [(float(v["min_var"]), float(v["max_var"]))
                  for _, _, v in rnn.cell.activation_quantizers()]
        assert len(ranges) >= 5 and (-6.0, 6.0) not in ranges  # all calibrated
    # Calibrated on X, the fake-quant model stays close to the float one.
    reference = model(X).numpy()
    np.testing.assert_allclose(qat(X).numpy(), reference,
                               atol=0.25 * np.abs(reference).max() + 1e-4)


@pytest.mark.filterwarnings("ignore:The initializer RandomNormal is unseeded")
@pytest.mark.parametrize("ratio, cheap_op, reset_after",
                         [(1, "dense", True), (2, "dense", True), (3, "depthwise", True),
                          (2, "dense", False)])
def test_cells_in_float_mode_are_the_ghost_cells(ratio, cheap_op, reset_after):
    keras.utils.set_random_seed(3)
    x = X[:, :6]
    kw = {"ratio": ratio, "cheap_op": cheap_op, "bias_initializer": "random_normal"}
    pairs = [(keras.layers.RNN(GhostGRUCell(12, reset_after=reset_after, **kw)),
              keras.layers.RNN(QuantizedGhostGRUCell(12, reset_after=reset_after, qat=False,
                                                     **kw))),
             (keras.layers.RNN(GhostLSTMCell(12, **kw)),
              keras.layers.RNN(QuantizedGhostLSTMCell(12, qat=False, **kw)))]
    for ref, quantized in pairs:
        ref(x)
        quantized(x)
        for name in ("kernel", "recurrent_kernel", "bias"):
            getattr(quantized.cell, name).assign(getattr(ref.cell, name))
        if ref.cell.ghost_map is not None:
            quantized.cell.ghost_map.set_weights(ref.cell.ghost_map.get_weights())
        np.testing.assert_allclose(quantized(x).numpy(), ref(x).numpy(), atol=1e-5)
        quantized.cell.qat = True  # the same variables, now fake-quantized
        assert np.abs(quantized(x).numpy() - ref(x).numpy()).max() > 0


def test_state_has_the_fixed_int8_grid():
    keras.utils.set_random_seed(1)
    model = build_model("ghost_lstm", "S", input_shape=(FRAMES, FEATURES), num_labels=5)
    qat = quantize_model(model, calibration_data=[X])
    r = qat.get_layer("rnn").cell.cell_state_range
    step = step_model(qat)
    big = [np.full((8, int(t.shape[-1])), 9.0, np.float32) for t in step.inputs[1:]]
    _, state, cell = (np.asarray(t) for t in step([X[:, 0], *big]))
    np.testing.assert_array_equal(state * 128, np.round(state * 128))  # scale 1/128
    assert state.min() >= -1 and state.max() <= 127 / 128
    np.testing.assert_allclose(cell * 128 / r, np.round(cell * 128 / r), atol=1e-4)  # R/128
    assert cell.min() >= -r - 1e-6 and cell.max() <= r * 127 / 128 + 1e-6


@pytest.mark.parametrize("gain", [0.05, 30.0])
def test_cell_state_range_is_calibrated_to_what_c_reaches(gain):
    """The LSTM cell state's fixed range holds the 99th percentile (or the largest) of the
    calibration batches' |c|, computed here independently by stepping the float cell: small
    inputs keep c far below the old fixed 4 (steps at least twice finer), large ones push it
    past 4 (no clipping)."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((FRAMES, FEATURES))
    cell = GhostLSTMCell(16, ratio=1)
    rnn = keras.layers.RNN(cell, name="rnn")
    model = keras.Model(inputs, keras.layers.Dense(5)(rnn(inputs)))
    # Forget gate near 1 and a large input gate: c integrates its input over the frames.
    weights = cell.get_weights()
    weights[0] = weights[0] * 3.0
    weights[2][16:32] += 5.0
    cell.set_weights(weights)
    x = (gain * X).astype(np.float32)
    h = c = tf.zeros((len(x), 16))
    values = []  # what the shared range must hold: c at the cell's input and at its output
    for t in range(FRAMES):
        values.append(np.abs(c.numpy()).ravel())
        _, (h, c) = cell(x[:, t], [h, c])
        values.append(np.abs(c.numpy()).ravel())
    values = np.concatenate(values)
    # Calibration runs the learned ranges in float but keeps the fixed grids (state 1/128,
    # gates 1/256), so its c is the float cell's up to that rounding over 20 frames (measured
    # 1.0% at gain 0.05); a range left at 4 or set from another tensor is far off either way.
    largest = quantize_model(model, cell_state_percentile=100, calibration_data=[x])
    r_max = largest.get_layer("rnn").cell.cell_state_range
    assert r_max * 127 / 128 == pytest.approx(values.max(), rel=0.03)
    qat = quantize_model(model, calibration_data=[x])  # the default: the 99th percentile
    r = qat.get_layer("rnn").cell.cell_state_range
    assert r * 127 / 128 == pytest.approx(np.percentile(values, 99), rel=0.03)
    assert r < r_max
    assert (r_max < 2.0) if gain < 1 else (r_max > 4.0)
    fixed = quantize_model(model, cell_state_range=4.0, calibration_data=[x])
    assert fixed.get_layer("rnn").cell.cell_state_range == 4.0
    # The export's state tensors carry that range (scale R/128, zero point 0, in and out).
    exported = convert_model(qat, x[:4], probabilities=False)
    info = assert_int8_interface(exported.tflite)
    cell_in = info.inputs[exported.state_inputs[1]]
    assert cell_in.scale == pytest.approx(r / 128, rel=1e-6) and cell_in.zero_point == 0


@pytest.mark.parametrize("arch", ["gru", "ghost_gru", "ghost_lstm"])
def test_ranges_feeding_sigmoid_and_tanh_are_capped(arch):
    """Large inputs (like unnormalised microfrontend features) would calibrate the gate
    pre-activations to +-60; past +-8 LOGISTIC/TANH are saturated in int8, so the ranges stop
    there, in calibration and while fine-tuning, and nothing else is capped."""
    from ghost_keras.quantization.cells import RANGE_CAPS

    keras.utils.set_random_seed(4)
    model = build_model(arch, "S", input_shape=(FRAMES, FEATURES), num_labels=5)
    big = 40.0 * X
    qat = quantize_model(model, calibration_data=[big])

    def ranges():
        cell = qat.get_layer("rnn").cell
        return {n: (float(v["min_var"]), float(v["max_var"]))
                for n, _, v in cell.activation_quantizers()}

    calibrated = ranges()
    assert "gate_add" in calibrated and "x_fc" in calibrated
    for name, (lo, hi) in calibrated.items():
        if name in RANGE_CAPS:
            assert -RANGE_CAPS[name] <= lo <= 0 <= hi <= RANGE_CAPS[name], name
    assert calibrated["gate_add"] == (-8.0, 8.0)  # the raw range was far wider
    assert calibrated["x_fc"] == (-24.0, 24.0)
    # Fine-tuning moves the ranges (moving averages of the batches) but never past the caps.
    qat.compile(keras.optimizers.Adam(1e-4),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(big, np.arange(len(X)) % 5, epochs=3, verbose=0)
    for name, (lo, hi) in ranges().items():
        if name in RANGE_CAPS:
            assert -RANGE_CAPS[name] <= lo and hi <= RANGE_CAPS[name], name


def test_unquantizable_layers_are_named():
    def seq(*layers):
        return keras.Sequential([keras.Input((FRAMES, FEATURES)), *layers, keras.layers.Dense(3)])

    with pytest.raises(ValueError, match="'relu_gru'.*activation=relu"):
        quantize_model(seq(keras.layers.GRU(4, activation="relu", name="relu_gru")))
    with pytest.raises(ValueError, match="'plain'.*SimpleRNNCell"):
        quantize_model(seq(keras.layers.SimpleRNN(4, name="plain")))
    with pytest.raises(ValueError, match="bidi.*not supported"):
        quantize_model(seq(keras.layers.Bidirectional(GhostGRU(4), name="bidi")))


def test_h5_round_trip_keeps_outputs(tmp_path):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((FRAMES, FEATURES), name="features")
    rnn = GhostLSTM(16, ratio=2, return_sequences=True, name="rnn")
    model = keras.Model(inputs, keras.layers.Dense(4, name="logits")(rnn(inputs)))
    qat = quantize_model(model, calibration_data=[X])
    path = tmp_path / "qat.h5"
    qat.save(path)
    with quantize_scope():
        loaded = keras.models.load_model(path)
    assert [type(a) for a in loaded.layers] == [type(a) for a in qat.layers]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), qat.predict(X, verbose=0))
    np.testing.assert_array_equal(last_step_outputs(loaded, X), last_step_outputs(qat, X))


# -- int8 export and TFLite Micro -------------------------------------------------------------


@pytest.mark.parametrize("arch", ["ghost_gru", "lstm"])
def test_qat_model_predicts_tflm_int8(arch):
    keras.utils.set_random_seed(0)
    x_train, y_train = sequence_task(3000, seed=0)
    x_test, y_test = sequence_task(1000, seed=1)
    inputs = keras.Input((FRAMES, FEATURES), name="features")
    rnn = (GhostGRU(32, ratio=2, name="rnn") if arch == "ghost_gru"
           else keras.layers.LSTM(32, name="rnn"))
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(rnn(inputs)))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=64, epochs=6, verbose=0)
    float_logits = model.predict(x_test, verbose=0)

    qat = quantize_model(model)
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(64)
    fine_tune(qat, train, epochs=2, lr=1e-4, calibration_steps=10, verbose=0)
    qat_logits = qat.predict(x_test, verbose=0)
    np.testing.assert_allclose(last_step_outputs(qat, x_test[:50]), qat_logits[:50], atol=1e-5)

    # The conversion `ghost-kws export` ships, with logits out (no softmax) to compare to Keras.
    exported = convert_model(qat, x_test[:4], probabilities=False)
    assert (exported.kind, exported.source) == ("step", "qat")
    info = assert_int8_interface(exported.tflite)
    assert set(info.ops) <= INT8_BUILTINS, info.ops
    # Each state: the same scale and zero point in and out; the firmware copies it back.
    assert len(exported.state_sizes) == (2 if arch == "lstm" else 1)  # LSTM: h, then c
    state_scales = [1 / 128]
    if arch == "lstm":  # the calibrated cell-state range R: scale R/128
        state_scales.append(qat.get_layer("rnn").cell.cell_state_range / 128)
    for k, (i, o) in enumerate(zip(exported.state_inputs, exported.state_outputs)):
        state_in, state_out = info.inputs[i], info.outputs[o]
        assert state_in.scale == pytest.approx(state_scales[k], rel=1e-6)
        assert (state_out.scale, state_in.zero_point, state_out.zero_point) == (
            state_in.scale, 0, 0)

    # Every int8 range comes from the QAT model: other representative data, the same bytes.
    assert convert_model(qat, x_test[10:11] + 0.5, probabilities=False).tflite == exported.tflite

    # Each test sequence streamed through TFLite Micro as the firmware runs it.
    tflm_logits = stream_logits(exported, x_test)[:, -1]
    agreement = float(np.mean(tflm_logits.argmax(1) == qat_logits.argmax(1)))
    accuracy = {name: float(np.mean(logits.argmax(1) == y_test)) for name, logits in
                (("float", float_logits), ("qat", qat_logits), ("tflm", tflm_logits))}

    assert agreement >= 0.97
    assert accuracy["qat"] >= accuracy["float"] - 0.02
