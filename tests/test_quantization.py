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

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*tf.lite.Interpreter is deprecated", "ignore:You are saving your model as an HDF5"
)

FRAMES, FEATURES, CLASSES = 20, 10, 8
X = np.random.default_rng(0).standard_normal((8, FRAMES, FEATURES)).astype("float32")
INT8_BUILTINS = {"FULLY_CONNECTED", "SPLIT", "SPLIT_V", "ADD", "SUB", "MUL", "LOGISTIC", "TANH",
                 "CONCATENATION", "STRIDED_SLICE"}


# -- helpers ----------------------------------------------------------------------------------


def qat_step_model(model: keras.Model) -> keras.Model:
    """``ghost_keras.streaming.step_model`` for QAT models: the same, plus the layer classes
    tfmot adds (``QuantizeLayer`` on the input; ``QuantizeWrapperV2`` around frame-wise layers),
    both called on the frame as they are."""
    frame = keras.Input((int(model.input_shape[-1]),), name="frame")
    x, state_inputs, state_outputs = frame, [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.RNN):
            sizes = layer.cell.state_size
            sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
            states = [keras.Input((int(s),), name=f"{layer.name}_state_{i}")
                      for i, s in enumerate(sizes)]
            x, new = layer.cell(x, states if len(states) > 1 else states[0], training=False)
            state_inputs += states
            state_outputs += list(new) if isinstance(new, (list, tuple)) else [new]
        else:
            assert isinstance(layer, (QuantizeLayer, QuantizeWrapperV2)), type(layer)
            x = layer(x, training=False)
    return keras.Model([frame, *state_inputs], [x, *state_outputs])


def run_keras_steps(step: keras.Model, x: np.ndarray) -> np.ndarray:
    states = [np.zeros((len(x), int(t.shape[-1])), np.float32) for t in step.inputs[1:]]
    for t in range(x.shape[1]):
        out = step([x[:, t], *states], training=False)
        states = [np.asarray(s) for s in out[1:]]
    return np.asarray(out[0])


def _names(step: keras.Model) -> list[str]:
    return ["frame"] + [f"state_{i}" for i in range(len(step.inputs) - 1)]


def convert_step(step: keras.Model, frames: np.ndarray, states: list[np.ndarray]) -> bytes:
    """Full-int8 conversion of the step as a concrete function (the firmware's form).

    The flatbuffer's input order is not the function's (here the states come first), so the
    representative dataset yields dicts keyed by the TensorSpec names, not positional lists.
    """
    names = _names(step)
    specs = [tf.TensorSpec([1, int(t.shape[-1])], tf.float32, name=n)
             for t, n in zip(step.inputs, names)]

    @tf.function(input_signature=specs)
    def fn(*args):
        return {f"output_{i}": out for i, out in enumerate(step(list(args), training=False))}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()],
                                                                step)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    arrays = [frames, *states]

    def representative():
        for i in range(len(frames)):
            yield {n: a[i:i + 1] for n, a in zip(names, arrays)}

    converter.representative_dataset = representative
    return converter.convert()


def tflite_io(model_bytes: bytes, step: keras.Model):
    """(op names, {step input position: (tflite input index, details)},
    {step output position: (tflite output index, details)})."""
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    names = _names(step)
    inputs = {names.index(d["name"].split("serving_default_")[1].split(":")[0]): (i, d)
              for i, d in enumerate(interpreter.get_input_details())}
    outputs = {int(d["name"].split(":")[1]): (i, d)
               for i, d in enumerate(interpreter.get_output_details())}
    ops = [op["op_name"] for op in interpreter._get_ops_details()]  # noqa: SLF001
    return ops, inputs, outputs


def _quantize(x, details):
    scale, zero = details["quantization"]
    return np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)


def _dequantize(q, details):
    scale, zero = details["quantization"]
    return (q.astype(np.float32) - zero) * scale


def run_tflm(model_bytes: bytes, step: keras.Model, x: np.ndarray) -> np.ndarray:
    """Final logits of each sequence on the TFLite Micro interpreter, frame by frame, carrying
    the int8 states (requantized only if a state's input and output scales differ: PTQ)."""
    from tflite_micro.python.tflite_micro import runtime

    _, inputs, outputs = tflite_io(model_bytes, step)
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=64 * 1024)
    n = len(inputs)
    logits = []
    for sequence in x:
        states = [np.full((1, int(inputs[k][1]["shape"][-1])), inputs[k][1]["quantization"][1],
                          np.int8) for k in range(1, n)]
        for frame in sequence:
            interpreter.set_input(_quantize(frame[None], inputs[0][1]), inputs[0][0])
            for k in range(1, n):
                interpreter.set_input(states[k - 1], inputs[k][0])
            interpreter.invoke()
            states = []
            for k in range(1, n):
                out = interpreter.get_output(outputs[k][0])
                if outputs[k][1]["quantization"] != inputs[k][1]["quantization"]:
                    out = _quantize(_dequantize(out, outputs[k][1]), inputs[k][1])
                states.append(out)
        logits.append(_dequantize(interpreter.get_output(outputs[0][0]), outputs[0][1])[0])
    return np.array(logits)


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
    step = qat_step_model(quantize_model(model, calibration_data=[X]))
    big = [np.full((8, int(t.shape[-1])), 9.0, np.float32) for t in step.inputs[1:]]
    _, state, cell = (np.asarray(t) for t in step([X[:, 0], *big]))
    np.testing.assert_array_equal(state * 128, np.round(state * 128))  # scale 1/128
    assert state.min() >= -1 and state.max() <= 127 / 128
    np.testing.assert_array_equal(cell * 32, np.round(cell * 32))  # cell state: 4/128
    assert cell.min() >= -4 and cell.max() <= 4 * 127 / 128


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
    np.testing.assert_array_equal(run_keras_steps(qat_step_model(loaded), X),
                                  run_keras_steps(qat_step_model(qat), X))


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
    step = qat_step_model(qat)
    np.testing.assert_allclose(run_keras_steps(step, x_test[:50]), qat_logits[:50], atol=1e-5)

    n_states = len(step.inputs) - 1
    model_bytes = convert_step(step, x_test[:4, 0],
                               [np.zeros((4, int(t.shape[-1])), np.float32)
                                for t in step.inputs[1:]])
    ops, tfl_inputs, tfl_outputs = tflite_io(model_bytes, step)
    assert set(ops) <= INT8_BUILTINS, ops
    for k in range(n_states + 1):
        assert tfl_inputs[k][1]["dtype"] == np.int8 and tfl_outputs[k][1]["dtype"] == np.int8
    # Each state: the same scale and zero point in and out; the firmware copies it back.
    state_scales = [1 / 128, 4 / 128]
    for k in range(1, n_states + 1):
        assert tfl_inputs[k][1]["quantization"] == tfl_outputs[k][1]["quantization"]
        assert tfl_inputs[k][1]["quantization"] == (state_scales[k - 1], 0)

    # Every int8 range comes from the QAT model: other representative data, the same bytes.
    assert convert_step(step, x_test[10:11, 3], [np.full((1, int(t.shape[-1])), 0.5, np.float32)
                                                  for t in step.inputs[1:]]) == model_bytes

    tflm_logits = run_tflm(model_bytes, step, x_test)
    agreement = float(np.mean(tflm_logits.argmax(1) == qat_logits.argmax(1)))
    accuracy = {name: float(np.mean(logits.argmax(1) == y_test)) for name, logits in
                (("float", float_logits), ("qat", qat_logits), ("tflm", tflm_logits))}

    assert agreement >= 0.97
    assert accuracy["qat"] >= accuracy["float"] - 0.02
